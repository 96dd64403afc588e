import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §13: a runner's `shutdownDeadline` refuses a tree that cannot stop in time, and escalates
/// a stop by itself at 90 % of it.
@Suite(.timeLimit(.minutes(1))) struct ShutdownDeadlineTests {
    @Test func aTreeOverItsBudgetIsRefusedBeforeAnythingStartsNamingTheChain() async throws {
        let log = CallLog()
        let database = ProbeService("database", log: log, gracefulShutdownTimeout: .seconds(20))
        let api = ProbeService("api", log: log, dependencies: [database], gracefulShutdownTimeout: .seconds(15))
        let runner = ServiceRunner(api, signals: [], shutdownDeadline: .seconds(30))
        let expected = LifecycleError.shutdownBudgetExceeded(
            path: [api.serviceID, database.serviceID], worstCase: .seconds(35), deadline: .seconds(30))
        await #expect(throws: expected) { try await runner.start() }
        #expect(log.all.isEmpty)
        #expect(api.state == .idle && database.state == .idle)
        #expect(throws: expected) { try runner.plan() }  // the plan says the same
    }

    @Test func theDrainCountsAgainstTheBudget() async throws {
        let log = CallLog()
        let api = ProbeService("api", log: log, gracefulShutdownTimeout: .seconds(25))
        await #expect(throws: LifecycleError.self) {
            try await ServiceRunner(api, signals: [], shutdownDeadline: .seconds(30), drainTimeout: .seconds(6)).run()
        }
        #expect(log.all.isEmpty)
        let fits = ServiceRunner(api, signals: [], shutdownDeadline: .seconds(30), drainTimeout: .seconds(5))
        try await fits.start()
        try await fits.stop()
    }

    @Test func badSettingsAreRefusedBeforeAnythingStarts() async throws {
        let log = CallLog()
        let api = ProbeService("api", log: log)
        await #expect(throws: LifecycleError.invalidTimeout(api.serviceID, .zero)) {
            try await ServiceRunner(api, signals: [], shutdownDeadline: .zero).start()
        }
        await #expect(throws: LifecycleError.invalidTimeout(api.serviceID, .seconds(-1))) {
            try await ServiceRunner(api, signals: [], drainTimeout: .seconds(-1)).start()
        }
        #expect(log.all.isEmpty)
    }

    @Test func aStopOverBeforeNinetyPercentOfTheDeadlineDoesNotEscalate() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let database = ProbeService("database", log: log)
        let api = ProbeService(
            "api", log: log, dependencies: [database], stop: .untilCancelled, gracefulShutdownTimeout: .seconds(10))
        let runner = ServiceRunner(
            api, signals: [], clock: clock, stallReportInterval: nil, shutdownDeadline: .seconds(20))
        let events = collect(runner.events())
        try await runner.start()
        let stop = Task { try await runner.stop() }
        #expect(await eventually { api.stopCount == 1 })
        await clock.waitForSleepers(2)  // the deadline (18 s) and api's graceful timeout (10 s)
        clock.advance(by: .seconds(9))
        #expect(api.state == .stopping)  // not yet: 9 s < 18 s and < 10 s
        #expect(!api.stopSawCancellation)
        clock.advance(by: .seconds(1))  // api's own timeout ends its stop at 10 s
        await #expect(throws: LifecycleError.stopTimedOut(api.serviceID, after: .seconds(10))) { try await stop.value }
        #expect(database.stopCount == 1)
        #expect(!(await events.value).contains { $0.stopCause == .deadline })  // over before 18 s
    }

    @Test func aStopThatIgnoresCancellationIsCutAtTheDeadlineAndEveryServiceStillGetsItsStop() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let database = ProbeService("database", log: log, stop: .untilCancelled, gracefulShutdownTimeout: .seconds(5))
        let api = ProbeService(
            "api", log: log, dependencies: [database], stop: .hang, gracefulShutdownTimeout: .seconds(4))
        // Budget: 4 + 5 = 9 s ≤ 10 s; the escalation comes at 9 s.
        let runner = ServiceRunner(
            api, signals: [], clock: clock, stallReportInterval: nil, shutdownDeadline: .seconds(10))
        let events = collect(runner.events())
        try await runner.start()
        let run = Task { try await runner.stop() }
        await clock.waitForSleepers(2)  // the deadline (9 s) and api's graceful timeout (4 s)
        clock.advance(by: .seconds(4))  // api ignores everything: abandoned; database begins to stop
        #expect(await eventually { database.stopCount == 1 })
        #expect(!database.stopSawCancellation)
        await clock.waitForSleepers(2)  // the deadline (9 s) and database's graceful timeout (9 s)
        clock.advance(by: .milliseconds(4_999))  // 8.999 s: nothing yet
        #expect(database.state == .stopping)
        clock.advance(by: .milliseconds(1))  // 9 s: the deadline escalates; database's stop is cancelled
        await #expect(throws: LifecycleError.stopTimedOut(api.serviceID, after: .seconds(4))) { try await run.value }
        #expect(database.stopSawCancellation)
        #expect(log.stops == ["api", "database"])
        let received = await events.value
        let causes = received.compactMap(\.stopCause)
        #expect(causes == [.requested, .deadline])
        expectLegal(received)
    }

    @Test func theDeadlineEscalationIsACleanEndForRun() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let api = ProbeService("api", log: log, stop: .untilCancelled, gracefulShutdownTimeout: .seconds(10))
        let runner = ServiceRunner(
            api, signals: [], clock: clock, stallReportInterval: nil, shutdownDeadline: .seconds(10))
        let run = Task { try await runner.run() }
        #expect(await eventually { api.isRunning })
        runner.requestStop()
        #expect(await eventually { api.stopCount == 1 })
        await clock.waitForSleepers(2)  // the deadline (9 s) and the graceful timeout (10 s)
        clock.advance(by: .seconds(9))
        try await run.value  // the stop's CancellationError is what the escalation asked for
        #expect(api.stopSawCancellation)
        #expect(api.state == .failed)
    }

    @Test func aQuickStopLeavesNoDeadlineTimerBehind() async throws {
        let clock = ManualClock()
        let runner = ServiceRunner(
            ProbeService("api", log: CallLog()), signals: [], clock: clock, stallReportInterval: nil,
            shutdownDeadline: .seconds(30))
        try await runner.start()
        try await runner.stop()
        #expect(await eventually { clock.sleeperCount == 0 })
    }
}
