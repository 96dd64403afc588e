import LifecycleTesting
import Testing

/// The README's `LifecycleTesting` example, as written there.
@Suite(.timeLimit(.minutes(1))) struct ReadmeKitExampleTests {
    @Test func theReadmeExampleRunsAndPassesTheChecker() async throws {
        let clock = ManualClock()
        let log = ProbeLog()
        let database = ProbeService(
            "database", log: log, clock: clock, stop: .hang, gracefulShutdownTimeout: .seconds(5))
        defer { database.releaseHangs() }
        let api = ProbeService("api", log: log, clock: clock, dependencies: [database], task: .untilCancelled)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let events = runner.events()
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))  // database's stop is abandoned
        _ = try? await stop.value
        var all: [LifecycleEvent] = []
        for await event in events { all.append(event) }
        try InvariantChecker(root: api).verify(all, log: log)
        #expect(database.state == .failed)
        #expect(api.stopCount == 1)
    }
}
