import Foundation
import Testing

/// `StateDiagrams/DemoTree.mmd` and `.dot` are what `lifecycle-demo --diagram` prints now.
///
/// After changing the demo's tree: `LIFECYCLE_RECORD_DIAGRAMS=1 swift test --filter Diagram`.
@Suite struct DemoDiagramTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the demo to its end and returns its standard output.
    static func demoOutput(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = try demoExecutable()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    @Test(arguments: [("mermaid", "mmd"), ("dot", "dot")])
    func committedDemoTreeDiagramMatchesTheDemo(format: String, fileExtension: String) throws {
        let file = Self.repositoryRoot.appendingPathComponent("StateDiagrams/DemoTree.\(fileExtension)")
        let generated = try Self.demoOutput(["--diagram", format])
        if ProcessInfo.processInfo.environment["LIFECYCLE_RECORD_DIAGRAMS"] == "1" {
            try generated.write(to: file, atomically: true, encoding: .utf8)
        }
        #expect(
            try String(contentsOf: file, encoding: .utf8) == generated,
            "stale diagram; run: LIFECYCLE_RECORD_DIAGRAMS=1 swift test --filter Diagram")
        #expect(generated.contains("worker") && generated.contains("queue"))
    }
}
