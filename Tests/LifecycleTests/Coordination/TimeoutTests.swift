import Lifecycle
import LifecycleTesting
import Testing

@Suite(.timeLimit(.minutes(1))) struct TimeoutTests {
    @Test func aHungStopIsAbandonedAfterItsTimeoutAndItsDependenciesStillStop() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let dependency = ProbeService("dependency", log: log)
        let hung = ProbeService(
            "hung", log: log, dependencies: [dependency], stop: .hang, gracefulShutdownTimeout: .seconds(10))
        let runner = ServiceRunner(hung, signals: [], clock: clock)
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(2)  // the graceful-shutdown timeout and the stall report are armed
        #expect(dependency.stopCount == 0)
        clock.advance(by: .seconds(10))
        await #expect(throws: LifecycleError.stopTimedOut(hung.serviceID, after: .seconds(10))) { try await stop.value }
        #expect(hung.state == .failed)
        #expect(dependency.state == .stopped)
        #expect(log.stops == ["hung", "dependency"])
    }

    @Test func aStartPastItsTimeoutFailsAndStopsWhatStarted() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let dependency = ProbeService("dependency", log: log)
        let slow = ProbeService("slow", log: log, dependencies: [dependency], start: .hang, startTimeout: .seconds(5))
        let runner = ServiceRunner(slow, signals: [], clock: clock)
        let start = Task { try await runner.start() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(5))
        await #expect(throws: LifecycleError.startTimedOut(slow.serviceID, after: .seconds(5))) {
            try await start.value
        }
        #expect(slow.state == .failed)
        #expect(slow.stopCount == 0)
        #expect(dependency.stopCount == 1)
    }

    @Test func aStartWithinItsTimeoutRuns() async throws {
        let log = CallLog()
        let quick = ProbeService("quick", log: log, startTimeout: .seconds(30))
        try await withRunning(quick) { quick in #expect(quick.isRunning) }
    }

    @Test func theTimeoutErrorNamesTheServiceAndTheLimit() {
        let id = ServiceID(name: "database", number: 7)
        #expect(
            LifecycleError.stopTimedOut(id, after: .seconds(30)).description
                == "database did not stop within its gracefulShutdownTimeout of 30.0 seconds and was abandoned")
    }
}
