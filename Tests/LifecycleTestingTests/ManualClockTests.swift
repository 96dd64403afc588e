import LifecycleTesting
import Testing

@Suite(.timeLimit(.minutes(1))) struct ManualClockTests {
    @Test func aSleepEndsOnlyWhenTimeReachesItsDeadline() async throws {
        let clock = ManualClock()
        let slept = Task { try await clock.sleep(for: .seconds(10)) }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(9))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        try await slept.value
        #expect(clock.sleeperCount == 0)
        #expect(clock.now == ManualClock.Instant(offset: .seconds(10)))
    }

    @Test func aSleepWhoseDeadlineHasPassedReturnsAtOnce() async throws {
        let clock = ManualClock()
        clock.advance(by: .seconds(5))
        try await clock.sleep(until: ManualClock.Instant(offset: .seconds(3)))
        try await clock.sleep(for: .zero)
        #expect(clock.sleeperCount == 0)
    }

    @Test func cancellingASleepThrowsCancellationErrorAndForgetsIt() async {
        let clock = ManualClock()
        let slept = Task { try await clock.sleep(for: .seconds(10)) }
        await clock.waitForSleepers(1)
        slept.cancel()
        await #expect(throws: CancellationError.self) { try await slept.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func aSleepCancelledBeforeItBeganThrowsToo() async {
        let clock = ManualClock()
        let slept = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(10))
        }
        await #expect(throws: CancellationError.self) { try await slept.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func advanceToNextDeadlineWakesTheEarliestSleepOnly() async throws {
        let clock = ManualClock()
        let early = Task { try await clock.sleep(for: .seconds(2)) }
        let late = Task { try await clock.sleep(for: .seconds(7)) }
        await clock.waitForSleepers(2)
        #expect(clock.nextDeadline == ManualClock.Instant(offset: .seconds(2)))
        #expect(clock.advanceToNextDeadline() == .seconds(2))
        try await early.value
        #expect(clock.sleeperCount == 1)
        #expect(clock.advanceToNextDeadline() == .seconds(5))
        try await late.value
        #expect(clock.advanceToNextDeadline() == .zero)
    }

    @Test func aRunnerOnTheManualClockTimesAStopOutOnlyWhenTheTestSays() async throws {
        let clock = ManualClock()
        let log = ProbeLog()
        let hung = ProbeService("hung", log: log, clock: clock, stop: .hang, gracefulShutdownTimeout: .seconds(30))
        defer { hung.releaseHangs() }
        // No stall reports: the stop's watchdog is then the one sleeper on the clock.
        let runner = ServiceRunner(hung, signals: [], clock: clock, stallReportInterval: nil)
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(1)
        #expect(hung.state == .stopping)
        clock.advance(by: .seconds(30))
        await #expect(throws: LifecycleError.stopTimedOut(hung.serviceID, after: .seconds(30))) {
            try await stop.value
        }
        #expect(hung.state == .failed)
    }
}
