import LifecycleTesting
import Testing

/// The README's `LifecycleTesting` example, as written there.
@Suite(.timeLimit(.minutes(1))) struct ReadmeKitExampleTests {
    @Test func theReadmeExampleRunsAndPassesTheChecker() async throws {
        let clock = ManualClock()
        let log = ProbeLog()
        let database = ProbeService("database", log: log, clock: clock, task: .untilCancelled)
        let api = ProbeService(
            "api", log: log, clock: clock, dependencies: [database], stop: .hang, gracefulShutdownTimeout: .seconds(5))
        defer { api.releaseHangs() }
        // No stall reports: the stop's timeout is then the one sleep on the clock.
        let runner = ServiceRunner(api, signals: [], clock: clock, stallReportInterval: nil)
        let events = runner.events()
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))  // api's stop is abandoned; database still stops
        _ = try? await stop.value
        var all: [LifecycleEvent] = []
        for await event in events { all.append(event) }
        try InvariantChecker(root: api).verify(all, log: log)
        #expect(api.state == .failed)
        #expect(database.stopCount == 1)
    }
}
