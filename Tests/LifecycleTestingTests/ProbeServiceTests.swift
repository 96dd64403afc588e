import LifecycleTesting
import Testing

@Suite(.timeLimit(.minutes(1))) struct ProbeServiceTests {
    @Test func everyCallIsLoggedAsItBeginsAndEndsWithItsLife() async throws {
        let log = ProbeLog()
        let probe = ProbeService("db", log: log, task: .untilCancelled)
        try await withRunning(probe) { _ in }
        let id = probe.serviceID
        let calls = log.calls.map { "\($0.phase) \($0.kind) \($0.life)" }
        #expect(calls.prefix(3) == ["start began 1", "start returned 1", "task began 1"])
        #expect(calls.suffix(3) == ["stop began 1", "stop returned 1", "task threw(cancelled: true) 1"])
        #expect(log.calls.map(\.sequence) == Array(0..<6))
        #expect(log.calls(of: id).count == 6)
        #expect(probe.startCount == 1 && probe.stopCount == 1)
        #expect(log.transcript.contains("#0 db start began (life 1)"))
    }

    @Test func aThrowingStartIsLoggedAndItsErrorNamesTheProbe() async {
        let log = ProbeLog()
        let probe = ProbeService("db", log: log, start: .throw, task: .untilCancelled)
        await #expect(throws: ProbeError(service: "db", phase: .start)) {
            try await withRunning(probe) { _ in }
        }
        #expect(log.calls.map(\.kind) == [.began, .threw(cancelled: false)])
        #expect("\(ProbeError(service: "db", phase: .start))" == "db: start failed (scripted)")
    }

    @Test func sleepsAndDelayedThrowsRunOnTheProbesClock() async throws {
        let clock = ManualClock()
        let log = ProbeLog()
        let probe = ProbeService(
            "db", log: log, clock: clock, start: .sleep(.seconds(5)), task: .throwAfter(.seconds(60)))
        let runner = ServiceRunner(probe, signals: [], clock: clock)
        let started = Task { try await runner.start() }
        await clock.waitForSleepers(1)
        #expect(probe.state == .starting)
        clock.advance(by: .seconds(5))
        try await started.value
        await clock.waitForSleepers(1)  // the task's sleep
        clock.advance(by: .seconds(60))
        await #expect(throws: ProbeError(service: "db", phase: .task)) { try await runner.wait() }
        #expect(log.calls.contains { $0.phase == .task && $0.kind == .threw(cancelled: false) })
    }

    @Test func aHangIgnoresCancellationUntilReleased() async throws {
        let log = ProbeLog()
        let probe = ProbeService("db", log: log, start: .hang)
        let start = Task { try await probe.start() }
        #expect(await eventually { log.calls.count == 1 })
        start.cancel()
        try await Task.sleep(for: .milliseconds(20))
        #expect(log.calls.count == 1)  // still inside start(), cancelled or not
        probe.releaseHangs()
        try await start.value
        #expect(log.calls.last?.kind == .returned)
        // Released for good: a later hang returns at once.
        try await probe.start()
    }

    @Test func untilCancelledEndsWithCancellationError() async {
        let log = ProbeLog()
        let probe = ProbeService("db", log: log, stop: .untilCancelled)
        let stop = Task { try await probe.stop() }
        #expect(await eventually { log.calls.count == 1 })
        stop.cancel()
        await #expect(throws: CancellationError.self) { try await stop.value }
        #expect(log.calls.last?.kind == .threw(cancelled: true))
    }

    @Test func behaviorsDescribeThemselves() {
        #expect(
            [ProbeBehavior.instant, .sleep(.seconds(2)), .throw, .throwAfter(.seconds(1)), .untilCancelled, .hang].map(
                \.description) == [
                    "instant", "sleep 2.0 seconds", "throw", "throw after 1.0 seconds", "until cancelled", "hang",
                ])
        #expect(ProbeBehavior.hang.ignoresCancellation && !ProbeBehavior.untilCancelled.ignoresCancellation)
    }
}

/// Polls `condition` every millisecond for at most 30 s (a generous bound: only a hang fails).
func eventually(_ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
