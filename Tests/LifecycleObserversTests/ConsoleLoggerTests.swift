import Foundation
import LifecycleObservers
import Testing

@Suite(.timeLimit(.minutes(1))) struct ConsoleLoggerTests {
    @Test func consoleLoggerWritesOneLinePerEventWithTheTimeSpentInTheStateLeft() async {
        let lines = Lines()
        await ConsoleLogger { lines.append($0) }.observe(stream(of: Fixture.failingRun))
        let timeout = LifecycleError.stopTimedOut(Fixture.cache, after: .seconds(10))
        #expect(
            lines.all == [
                "   0.000s  Database  idle → starting",
                "   0.040s  Database  starting → running  (starting 40.0ms)",
                "   0.040s  Cache  idle → starting",
                "   0.060s  Cache  starting → running  (starting 20.0ms)",
                "   0.060s  API  idle → starting",
                "   0.090s  API  starting → running  (starting 30.0ms)",
                "   0.500s  API  background task failed (while running)  error: connection reset",
                "   0.501s  API  stop requested (failure)",
                "   0.502s  API  running → stopping  (running 412.0ms)",
                "   0.510s  API  stopping → stopped  (stopping 8.0ms)",
                "   0.510s  Cache  running → stopping  (running 450.0ms)",
                "  10.510s  Cache  stopping → failed  (stopping 10.000s)  error: \(timeout)",
                "  10.510s  Database  running → stopping  (running 10.470s)",
                "  10.520s  Database  stopping → stopped  (stopping 10.0ms)",
            ])
    }

    @Test func consoleLoggerReportsAFailedStartAndEveryStopCause() {
        let lines = ConsoleLogger.lines(for: Fixture.failedStart)
        #expect(
            lines == [
                "   0.000s  Queue  idle → starting",
                "   0.001s  Queue  stop requested (signal 15)",
                "   0.005s  Queue  starting → failed  (starting 5.0ms)  error: no route to host",
                "   0.006s  Queue  stop requested (escalation 2)",
                "   0.007s  Queue  stop requested (requested)",
                "   0.008s  Queue  stop requested (cancellation)",
            ])
    }

    @Test func consoleLoggerColoursOnlyWhenAsked() {
        let plain = ConsoleLogger.lines(for: Fixture.failingRun)
        let coloured = ConsoleLogger.lines(for: Fixture.failingRun, colored: true)
        #expect(!plain.joined().contains("\u{1B}["))
        #expect(coloured[1] == "   0.040s  Database  starting → \u{1B}[32mrunning\u{1B}[0m  (starting 40.0ms)")
        #expect(coloured[6].hasSuffix("\u{1B}[31merror: connection reset\u{1B}[0m"))
        // Stripping the escapes gives the plain text back.
        #expect(coloured.map(withoutColours) == plain)
    }

    @Test func consoleLoggerWritesToATextOutputStream() async {
        let output = SharedOutput()
        await ConsoleLogger(to: output).observe(stream(of: Array(Fixture.failingRun.prefix(2))))
        #expect(
            output.text
                == "   0.000s  Database  idle → starting\n   0.040s  Database  starting → running  (starting 40.0ms)\n")
    }

    @Test func consoleLoggerLogsARealRun() async throws {
        let lines = Lines()
        let recorder = EventRecorder()
        let database = ClosureService(name: "db")
        let api = ClosureService(name: "api", dependencies: [database])
        try await withRunning(api, observers: [ConsoleLogger { lines.append($0) }, recorder]) { _ in }
        // Drop the time column: "   0.012s  db  idle → starting" → "db  idle → starting".
        let text = lines.all.map { line in
            String(line.drop { $0 == " " }.drop { $0 != " " }.dropFirst(2))
        }
        #expect(text.count == recorder.events.count)
        #expect(text.first == "db  idle → starting")
        #expect(text.contains { $0.hasPrefix("api  starting → running  (starting ") })
        #expect(text.contains("api  stop requested (requested)"))
        #expect(text.last?.hasPrefix("db  stopping → stopped  (stopping ") == true)
    }
}

/// Names and errors are the user's, outputs are the system's: neither may take the program down or
/// forge a line.
@Suite(.timeLimit(.minutes(1))) struct ConsoleLoggerRobustnessTests {
    @Test(
        arguments: zip(
            Hostile.lineBreaks,
            [#"\n"#, #"\r"#, #"\r\n"#, #"\u{B}"#, #"\u{C}"#, #"\u{85}"#, #"\u{2028}"#, #"\u{2029}"#]))
    func aLineBreakInANameOrAnErrorStaysOnOneConsoleLine(lineBreak: String, shown: String) {
        let name = "db\(lineBreak)   0.001s  API  stopping → stopped"
        let lines = ConsoleLogger.lines(for: Hostile.run(of: name, number: 1))
        let escaped = "db\(shown)   0.001s  API  stopping → stopped"
        #expect(lines.first == "   0.000s  \(escaped)  idle → starting")
        #expect(lines.last?.hasSuffix("error: refused: \(escaped)") == true)
        #expect(lines.allSatisfy { !$0.hasControlCharacters })
    }

    @Test func noControlSequenceFromANameOrAnErrorReachesTheTerminal() {
        for (number, name) in (Hostile.names + [Hostile.longName]).enumerated() {
            let events = Hostile.run(of: name, number: number)
            let plain = ConsoleLogger.lines(for: events)
            let coloured = ConsoleLogger.lines(for: events, colored: true)
            #expect(plain.allSatisfy { !$0.hasControlCharacters }, "\(plain)")
            // With colour on, the only escapes are the logger's own: removing them gives the plain lines.
            #expect(coloured.map(withoutColours) == plain)
        }
        let title = ConsoleLogger.lines(for: Hostile.run(of: "\u{1B}]0;owned\u{07}", number: 1))
        #expect(title[0] == #"   0.000s  \u{1B}]0;owned\u{7}  idle → starting"#)
    }
}

/// The line without the ANSI colour codes `ESC [ <digits> m`.
func withoutColours(_ line: String) -> String {
    line.replacingOccurrences(of: "\u{1B}\\[[0-9]+m", with: "", options: .regularExpression)
}

/// A `TextOutputStream` that is a reference, so the test sees what the logger wrote.
final class SharedOutput: TextOutputStream, Sendable {
    private let buffer = Locked("")
    var text: String { buffer.withLock { $0 } }
    func write(_ string: String) { buffer.withLock { $0 += string } }
}
