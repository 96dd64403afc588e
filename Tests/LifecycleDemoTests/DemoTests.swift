import Foundation
import Testing

/// The real `lifecycle-demo`, spawned as a child process, as a user runs it.
@Suite(.timeLimit(.minutes(1)))
struct DemoTests {
    static let running = "all services running"

    @Test func sigtermStopsTheTreeInReverseDependencyOrderAndExitsZero() async throws {
        let demo = try DemoProcess(["--seed", "1"])
        try await demo.waitForLine(containing: Self.running)
        demo.send(SIGTERM)
        #expect(try await demo.exitCode() == 0)

        let lines = demo.lines
        #expect(lines.contains { $0.contains("stop requested (signal 15)") })
        let stopped = order(of: "stopping → stopped", in: lines)
        #expect(stopped.count == 6)
        // worker, http, then cache and queue together (either order), database, config.
        #expect(stopped.first == "worker")
        #expect(stopped.dropFirst().first == "http")
        #expect(Set(stopped.dropFirst(2).prefix(2)) == ["cache", "queue"])
        #expect(stopped.suffix(2) == ["database", "config"])
        let started = order(of: "starting → running", in: lines)
        #expect(started.first == "config" && started.last == "worker")
        // The TimingReport's table: a row per service, the totals and the critical path.
        #expect(lines.contains { $0.hasPrefix("startup ") && $0.contains("shutdown ") })
        #expect(lines.last?.hasPrefix("critical path: config → database") == true)
        #expect(lines.filter { $0.contains(#/^[* ]  (config|database|cache|queue|http|worker) /#) }.count == 6)
    }

    @Test func sigintStopsCleanlyToo() async throws {
        let demo = try DemoProcess(["--seed", "2"])
        try await demo.waitForLine(containing: Self.running)
        demo.send(SIGINT)
        #expect(try await demo.exitCode() == 0)
        #expect(order(of: "stopping → stopped", in: demo.lines).count == 6)
    }

    @Test func aSecondSigintEscalatesAHangingStopAndTheDemoExitsPromptly() async throws {
        let demo = try DemoProcess(["--seed", "3", "--slow-stop", "database", "--slow-stop-timeout", "30"])
        try await demo.waitForLine(containing: Self.running)
        demo.send(SIGINT)
        try await demo.waitForLine(containing: "database  running → stopping")
        let clock = ContinuousClock()
        let escalated = clock.now
        demo.send(SIGINT)
        let code = try await demo.exitCode(timeout: .seconds(10))
        #expect(escalated.duration(to: clock.now) < .seconds(10))
        #expect(code == 0)
        let lines = demo.lines
        #expect(lines.contains { $0.contains("stop requested (escalation 2)") })
        // Every started service still got its stop, config after the escalation.
        #expect(order(of: "running → stopping", in: lines).count == 6)
        #expect(lines.contains { $0.contains("config") && $0.contains("stopping → stopped") })
    }

    @Test func aFailedStartRollsBackAndExitsOne() async throws {
        let demo = try DemoProcess(["--seed", "4", "--fail", "database"])
        #expect(try await demo.exitCode() == 1)
        let lines = demo.lines
        #expect(lines.contains { $0.contains("database") && $0.contains("starting → failed") })
        #expect(order(of: "stopping → stopped", in: lines) == ["config"])
        // cache, queue, http and worker never started.
        #expect(order(of: "idle → starting", in: lines) == ["config", "database"])
        #expect(!lines.contains { $0.contains(Self.running) })
        #expect(demo.stderr.contains("database failed to start"))
    }

    @Test func aCrashedBackgroundTaskStopsEverythingAndExitsOne() async throws {
        let demo = try DemoProcess(["--seed", "5", "--crash", "queue"])
        #expect(try await demo.exitCode() == 1)
        let lines = demo.lines
        #expect(lines.contains { $0.contains("queue  background task failed") })
        #expect(lines.contains { $0.contains("stop requested (failure)") })
        #expect(order(of: "stopping → stopped", in: lines).count == 6)
    }

    @Test func withRestartTheCrashedServiceAndItsDependentsRestartAndTheRestKeepsRunning() async throws {
        let demo = try DemoProcess(["--seed", "3", "--crash", "cache", "--restart", "--duration", "2"])
        #expect(try await demo.exitCode() == 0)
        let lines = demo.lines
        let crash = try #require(lines.firstIndex { $0.contains("cache") && $0.contains("restart 1 scheduled in") })
        let again = try #require(lines.firstIndex { $0.contains("all services running again") })
        let restart = Array(lines[crash..<again])
        #expect(order(of: "running → stopping", in: restart) == ["worker", "cache"])
        #expect(order(of: "stopped → starting", in: restart) == ["cache", "worker"])
        // database, queue, http and config do not depend on cache: they kept running.
        #expect(!restart.contains { line in ["database", "queue", "http", "config"].contains { line.contains($0) } })
        #expect(order(of: "stopping → stopped", in: lines).count == 6 + 2)
    }

    @Test func durationStopsByItself() async throws {
        let demo = try DemoProcess(["--seed", "6", "--duration", "0.3", "--json"])
        #expect(try await demo.exitCode() == 0)
        let lines = demo.lines
        #expect(lines.allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") })
        // The library's JSONLinesLogger lines, its allRunning line, then the TimingReport's line.
        #expect(lines.contains { $0.contains(#""kind":"allRunning""#) })
        #expect(lines.filter { $0.contains(#""kind":"transition""#) }.count == 6 * 4)
        #expect(lines.last?.contains(#""kind":"timingReport""#) == true)
    }

    @Test(arguments: [["--bogus"], ["--fail", "nope"], ["--duration"], ["--duration", "-1"], ["--seed", "x"]])
    func aBadCommandLineExitsTwoWithAMessage(_ arguments: [String]) async throws {
        let demo = try DemoProcess(arguments)
        #expect(try await demo.exitCode() == 2)
        #expect(demo.stderr.contains("lifecycle-demo: "))
        #expect(demo.lines.isEmpty)
    }
}

/// The services of the text lines containing `transition`, in the order printed.
private func order(of transition: String, in lines: [String]) -> [String] {
    lines.filter { $0.contains(transition) }.compactMap { line in
        line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
    }
}
