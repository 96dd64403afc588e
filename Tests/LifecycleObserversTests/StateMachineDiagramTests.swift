import Foundation
import LifecycleObservers
import Testing

@Suite struct StateMachineDiagramTests {
    @Test func theMermaidDiagramHasOneEdgePerTransitionOfTheTable() {
        #expect(
            StateMachineDiagram.mermaid() == """
                stateDiagram-v2
                    [*] --> idle
                    idle --> starting
                    starting --> running
                    starting --> failed
                    running --> stopping
                    stopping --> stopped
                    stopping --> failed
                    stopped --> starting
                    failed --> starting

                """)
    }

    @Test func theDotDiagramHasEveryStateAndEveryTransition() {
        #expect(
            StateMachineDiagram.dot() == """
                digraph ServiceState {
                    rankdir=LR;
                    node [shape=box, style="rounded,filled"];
                    start [shape=point];
                    idle [fillcolor="#eeeeee"];
                    starting [fillcolor="#fff3bf"];
                    running [fillcolor="#d3f9d8"];
                    stopping [fillcolor="#ffe8cc"];
                    stopped [fillcolor="#dbe4ff"];
                    failed [fillcolor="#ffc9c9"];
                    start -> idle;
                    idle -> starting;
                    starting -> running;
                    starting -> failed;
                    running -> stopping;
                    stopping -> stopped;
                    stopping -> failed;
                    stopped -> starting;
                    failed -> starting;
                }

                """)
    }

    @Test(arguments: [
        ("ServiceState.mmd", StateMachineDiagram.mermaid()), ("ServiceState.dot", StateMachineDiagram.dot()),
    ])
    func committedStateDiagramMatchesTheTable(file name: String, generated: String) throws {
        let file = repositoryRoot.appending(path: "StateDiagrams/\(name)")
        if ProcessInfo.processInfo.environment["LIFECYCLE_RECORD_DIAGRAMS"] == "1" {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try generated.write(to: file, atomically: true, encoding: .utf8)
        }
        let committed = try? String(contentsOf: file, encoding: .utf8)
        #expect(
            committed == generated,
            "stale or missing StateDiagrams/\(name); run: LIFECYCLE_RECORD_DIAGRAMS=1 swift test --filter Diagram")
    }
}
