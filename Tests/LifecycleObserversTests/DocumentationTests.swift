import Foundation
import LifecycleObservers
import Testing

/// The articles show what the code does: the state diagram in "The state machine" is the one the
/// transition table generates, and every article the README lists exists.
@Suite struct DocumentationTests {
    static let catalog = repositoryRoot.appending(path: "Sources/Lifecycle/Lifecycle.docc")

    @Test func theStateMachineArticleShowsTheDiagramTheTableGenerates() throws {
        let article = try String(
            contentsOf: Self.catalog.appending(path: "TheStateMachine.md"), encoding: .utf8)
        let diagram = StateMachineDiagram.mermaid().trimmingCharacters(in: .newlines)
        #expect(
            article.contains("```mermaid\n\(diagram)\n```"),
            "update TheStateMachine.md from StateDiagrams/ServiceState.mmd")
        // Every legal move is a row of its table.
        for transition in Transition.all {
            #expect(article.contains("| `\(transition.from)` | `\(transition.to)` |"), "no row for \(transition)")
        }
    }

    @Test func everyArticleTheReadmeLinksExists() throws {
        let readme = try String(contentsOf: repositoryRoot.appending(path: "README.md"), encoding: .utf8)
        let links = readme.matches(of: /\]\((Sources\/[^)]+\.md)\)/).map { String($0.output.1) }
        #expect(links.count >= 10)
        for link in Set(links) {
            #expect(
                FileManager.default.fileExists(atPath: repositoryRoot.appending(path: link).path), "\(link)")
        }
    }
}
