import Foundation
import Testing

/// The built `lifecycle-demo`, run as a child process, its stdout collected line by line.
final class DemoProcess: Sendable {
    let process: Process
    private let output = OutputBox()

    /// Launches the demo with `arguments`.
    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = try demoExecutable()
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        // The handlers end at end of file, which also ends their hold on `self`.
        stdout.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLock { $0.stdout += String(decoding: data, as: UTF8.self) }
        }
        stderr.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLock { $0.stderr += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// Every complete line printed to stdout so far.
    var lines: [String] {
        output.withLock { $0.stdout }.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(
            String.init)
    }

    /// Everything printed to stderr so far.
    var stderr: String { output.withLock { $0.stderr } }

    /// Sends a signal to the demo.
    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits until a line of stdout contains `text`.
    func waitForLine(containing text: String, timeout: Duration = .seconds(20)) async throws {
        try await waitUntil(timeout: timeout, "a line containing '\(text)'") {
            self.lines.contains { $0.contains(text) }
        }
    }

    /// Waits for the demo to exit and returns its exit code; kills it after `timeout`.
    func exitCode(timeout: Duration = .seconds(20)) async throws -> Int32 {
        defer { if process.isRunning { send(SIGKILL) } }
        try await waitUntil(timeout: timeout, "the demo to exit") { !self.process.isRunning }
        // The pipes may still hold the last lines: read until they reach end of file.
        try? await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }

    private func waitUntil(timeout: Duration, _ what: String, _ condition: @Sendable () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while !condition() {
            guard clock.now < deadline else {
                send(SIGKILL)
                Issue.record(
                    "timed out after \(timeout) waiting for \(what); stdout:\n\(lines.joined(separator: "\n"))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Where the build put `lifecycle-demo`: next to the test bundle, or in the package's build folder.
///
/// `swift test` builds it, since this test target depends on the executable target.
/// `LIFECYCLE_DEMO` overrides the search.
func demoExecutable() throws -> URL {
    let fileManager = FileManager.default
    if let path = ProcessInfo.processInfo.environment["LIFECYCLE_DEMO"] {
        return URL(fileURLWithPath: path)
    }
    var candidates: [URL] = []
    // The test bundle: …/debug/LifecyclePackageTests.xctest (Linux: a file; macOS: a folder).
    for start in [Bundle.main.bundleURL, Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])] {
        guard var folder = start?.deletingLastPathComponent() else { continue }
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent("lifecycle-demo"))
            folder.deleteLastPathComponent()
        }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/lifecycle-demo"))
    for candidate in candidates where fileManager.isExecutableFile(atPath: candidate.path) {
        var isFolder: ObjCBool = false
        if fileManager.fileExists(atPath: candidate.path, isDirectory: &isFolder), !isFolder.boolValue {
            return candidate
        }
    }
    throw DemoNotFound(searched: candidates.map(\.path))
}

/// The demo binary was not where a build puts it.
struct DemoNotFound: Error, CustomStringConvertible {
    let searched: [String]
    var description: String {
        "lifecycle-demo not found; build it (swift build) or set LIFECYCLE_DEMO. Searched:\n"
            + searched.joined(separator: "\n")
    }
}

/// The demo's output so far, behind an `NSLock` (which ThreadSanitizer sees, unlike `Mutex` on Linux).
private final class OutputBox: @unchecked Sendable {
    // @unchecked Sendable: `value` is only read or written between `lock.lock()` and `lock.unlock()`.
    private let lock = NSLock()
    private var value = (stdout: "", stderr: "")

    func withLock<Result>(_ body: (inout (stdout: String, stderr: String)) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
