import Foundation
import Testing

/// The demo under failing outputs and odd command lines: it stops cleanly or says what is wrong,
/// never traps.
@Suite(.timeLimit(.minutes(1)))
struct DemoRobustnessTests {
    /// How standard output and error are broken: a pipe whose reader left, or closed outright.
    enum BrokenOutput: String, CaseIterable {
        case readerLeft, closed
    }

    @Test(arguments: ["json", "console"], BrokenOutput.allCases)
    func aLoggerThatCannotWriteLetsTheDemoStopCleanly(logger: String, output: BrokenOutput) async throws {
        let pipe = Pipe()
        // The reader leaves before the first line: every write fails with EPIPE (SIGPIPE is ignored).
        try pipe.fileHandleForReading.close()
        let ending = try await runIgnoringSIGPIPE(
            ["--seed", "1", "--duration", "0.1", "--logger", logger],
            redirections: output == .closed ? ">&- 2>&-" : "", output: pipe)
        #expect(ending.reason == .exit)
        #expect(ending.status == 0)
    }

    @Test func theLoggerOptionAddsTheLibrarysJSONLinesToTheDemosOwn() async throws {
        let demo = try DemoProcess(["--seed", "1", "--duration", "0.1", "--logger", "json"])
        #expect(try await demo.exitCode() == 0)
        let records = demo.lines.filter { $0.hasPrefix(#"{"cause":"#) }
        #expect(records.count >= 6 * 4)
        #expect(demo.lines.contains { $0.contains("all services running") })
    }

    @Test(arguments: [
        ["--duration", "1e300"], ["--duration", "1e16"], ["--slow-stop", "database", "--slow-stop-timeout", "1e300"],
    ])
    func aTimeTooLargeToConvertExitsTwoWithAMessage(_ arguments: [String]) async throws {
        let demo = try DemoProcess(arguments)
        #expect(try await demo.exitCode() == 2)
        #expect(demo.stderr.contains("at most 1000000000"))
        #expect(demo.lines.isEmpty)
    }

    @Test(arguments: [
        ["--fail", "cache", "--fail", "queue"], ["--duration", "1", "--duration", "2"], ["--json", "--json"],
    ])
    func aRepeatedOptionExitsTwoWithAMessage(_ arguments: [String]) async throws {
        let demo = try DemoProcess(arguments)
        #expect(try await demo.exitCode() == 2)
        #expect(demo.stderr.contains("\(arguments[0]) was given twice"))
    }

    @Test func aSlowStopTimeoutWithoutASlowStopExitsTwoWithAMessage() async throws {
        let demo = try DemoProcess(["--slow-stop-timeout", "3"])
        #expect(try await demo.exitCode() == 2)
        #expect(demo.stderr.contains("--slow-stop-timeout needs --slow-stop"))
    }

    @Test func aTimeoutUnderAMillisecondCountsAsOneInsteadOfFailingTheTree() async throws {
        let demo = try DemoProcess(["--seed", "3", "--slow-stop", "database", "--slow-stop-timeout", "0.0004"])
        try await demo.waitForLine(containing: "all services running")
        demo.send(SIGTERM)
        // database's stop hangs, so its 1 ms timeout abandons it: the tree fails, but only then.
        #expect(try await demo.exitCode() == 1)
        #expect(demo.stderr.contains("gracefulShutdownTimeout of 0.001 seconds"))
    }

    @Test func aStopAbandonedAtItsTimeoutIsPrintedAsTimedOut() async throws {
        let demo = try DemoProcess(["--seed", "3", "--slow-stop", "database", "--slow-stop-timeout", "0.2"])
        try await demo.waitForLine(containing: "all services running")
        demo.send(SIGTERM)
        #expect(try await demo.exitCode() == 1)
        let lines = demo.lines
        let abandoned = try #require(lines.first { $0.contains("database  stopping → failed") })
        #expect(abandoned.contains(/\(stopping 2[0-9][0-9]\.[0-9]ms\)  error: database did not stop/))
        #expect(lines.contains { $0.contains(#/^[* ]  database .*  2[0-9][0-9]\.[0-9]ms \(timed out\)$/#) })
    }

    @Test func theJSONSummarySaysWhichStopTimedOut() async throws {
        let demo = try DemoProcess(["--seed", "3", "--slow-stop", "http", "--slow-stop-timeout", "0.05", "--json"])
        try await demo.waitForLine(containing: #""kind":"allRunning""#)
        demo.send(SIGTERM)
        #expect(try await demo.exitCode() == 1)
        let summary = try #require(demo.lines.last)
        #expect(summary.contains(/"service":"http","start":[0-9.e-]+,"startOutcome":"running","stop":[0-9.e-]+/))
        #expect(summary.contains(/"service":"http",[^}]*"stopOutcome":"failed","stopTimedOut":true\}/))
        #expect(summary.contains(/"service":"database",[^}]*"stopOutcome":"stopped","stopTimedOut":false\}/))
    }
}

/// Runs the demo through `/bin/sh` with `SIGPIPE` ignored, as systemd runs a service, standard
/// output and error on `output`, then `redirections` applied; returns how it ended (killed after 20 s).
private func runIgnoringSIGPIPE(
    _ arguments: [String], redirections: String, output: Pipe
) async throws -> (reason: Process.TerminationReason, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    // An ignored signal stays ignored across exec, so the demo starts with SIGPIPE ignored.
    process.arguments = ["-c", #"trap '' PIPE; exec "$0" "$@" "# + redirections, try demoExecutable().path] + arguments
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(20))
    while process.isRunning, clock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        Issue.record("the demo did not exit within 20 s")
    }
    process.waitUntilExit()
    return (process.terminationReason, process.terminationStatus)
}
