import Foundation
import Testing

/// The demo's flags of DESIGN §12–§13: `--plan`, `--deadline`, `--drain`, and the live stall report.
@Suite(.timeLimit(.minutes(1)))
struct DemoShutdownTests {
    @Test func planPrintsTheTreeAndItsWorstCaseShutdownThenExits() async throws {
        let demo = try DemoProcess(["--plan"])
        #expect(try await demo.exitCode() == 0)
        let lines = demo.lines
        #expect(lines.first == "worker  (stop ≤ 10s)")
        #expect(lines.contains("  parallel:"))
        #expect(lines.contains("    cache  (stop ≤ 10s)"))
        #expect(lines.last == "worst-case shutdown: 50s, through worker → http → queue → database → config")
        #expect(!lines.contains { $0.contains("→ starting") })  // nothing started
    }

    @Test func planWithADeadlineTooShortNamesTheChainAndExitsOne() async throws {
        let demo = try DemoProcess(["--plan", "--deadline", "30"])
        #expect(try await demo.exitCode() == 1)
        #expect(demo.stderr.contains("worst-case shutdown of 50.0 seconds"))
        #expect(demo.stderr.contains("worker → http → queue → database → config"))
    }

    @Test func aRunWithADeadlineTooShortStartsNothing() async throws {
        let demo = try DemoProcess(["--seed", "7", "--deadline", "10"])
        #expect(try await demo.exitCode() == 1)
        #expect(!demo.lines.contains { $0.contains("idle → starting") })
        #expect(demo.stderr.contains("shutdownDeadline of 10.0 seconds"))
    }

    @Test func theDrainComesBetweenTheStopRequestAndTheFirstStop() async throws {
        let demo = try DemoProcess(["--seed", "8", "--duration", "0.2", "--drain", "5", "--deadline", "60"])
        #expect(try await demo.exitCode() == 0)
        let lines = demo.lines
        let requested = lines.firstIndex { $0.contains("stop requested") }
        let draining = lines.firstIndex { $0.contains("draining") }
        let firstStop = lines.firstIndex { $0.contains("running → stopping") }
        #expect(requested != nil && draining != nil && firstStop != nil)
        #expect(requested! < draining! && draining! < firstStop!)
    }

    @Test func aSlowStopShowsTheStallReportLive() async throws {
        let demo = try DemoProcess(["--seed", "9", "--slow-stop", "database", "--slow-stop-timeout", "30"])
        try await demo.waitForLine(containing: DemoTests.running)
        demo.send(SIGTERM)
        // Reported while the stop still hangs, not after it: the demo is still running here.
        try await demo.waitForLine(containing: "shutdown stalled, still stopping: database")
        #expect(demo.process.isRunning)
        demo.send(SIGTERM)  // escalate, so the test ends promptly
        #expect(try await demo.exitCode(timeout: .seconds(10)) == 0)
    }

    @Test(arguments: [["--deadline"], ["--deadline", "0"], ["--drain", "x"], ["--plan", "--plan"]])
    func aBadShutdownFlagExitsTwo(_ arguments: [String]) async throws {
        let demo = try DemoProcess(arguments)
        #expect(try await demo.exitCode() == 2)
        #expect(demo.stderr.contains("lifecycle-demo: "))
    }
}
