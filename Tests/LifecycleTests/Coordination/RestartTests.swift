import LifecycleTesting
import Testing

@testable import Lifecycle

/// A tree's events, as they arrive, readable while the tree runs.
final class EventLog: Sendable {
    private let events = Locked<[LifecycleEvent]>([])
    private let consumer: Task<Void, Never>

    init(_ stream: AsyncStream<LifecycleEvent>) {
        consumer = Task { [events] in
            for await event in stream { events.withLock { $0.append(event) } }
        }
    }

    /// Waits until the stream has finished (the tree stopped) and every event is in.
    func finished() async { await consumer.value }

    var all: [LifecycleEvent] { events.withLock { $0 } }
    var lines: [String] { transcriptLines(all) }

    /// The restarts scheduled so far, as `name attempt`.
    var restarts: [String] {
        all.compactMap { event in
            guard case .restartScheduled(let attempt, _) = event.kind else { return nil }
            return "\(event.service.name) \(attempt)"
        }
    }
}

/// The events as `name: from → to` lines (the suite's `lines`, under a name this type does not shadow).
private func transcriptLines(_ events: [LifecycleEvent]) -> [String] { lines(events) }

/// DESIGN §10: a failed background task restarts its service and what depends on it, the trees stay up.
@Suite(.timeLimit(.minutes(1))) struct RestartTests {
    @Test func aFailedTaskRestartsTheServiceAndItsDependentsInOrderWhileTheRestKeepsRunning() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(delay: .seconds(2)), log: log)
        let other = Crashable("other", log: log)
        let api = Crashable("api", dependencies: [cache, other], log: log)
        let root = Crashable("root", dependencies: [api], log: log)
        let runner = ServiceRunner(root, signals: [], clock: clock)
        let events = EventLog(runner.events())
        try await runner.start()
        let waiting = Task { try await runner.wait() }
        log.record("crash")
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(2)) && cache.state == .stopped })
        // Dependents stopped first; `other` untouched; nothing restarted before the backoff.
        #expect(Array(log.lines.drop { $0 != "crash" }) == ["crash", "stop root", "stop api", "stop cache"])
        #expect(other.state == .running)
        #expect(root.state == .stopped)
        clock.advance(by: .seconds(2))
        #expect(await eventually { root.state == .running })
        #expect(
            Array(log.lines.drop { $0 != "crash" })
                == ["crash", "stop root", "stop api", "stop cache", "start cache", "start api", "start root"])
        #expect(await eventually { events.restarts == ["cache 1"] })
        try await runner.stop()
        try await waiting.value
        await events.finished()
        #expect(other.starts == 1 && other.stops == 1)
        #expect(cache.starts == 2 && cache.stops == 2)
        #expect(await eventually { events.lines.filter { $0.hasPrefix("cache:") }.count == 8 })
        let cacheLines = events.lines.filter { $0.hasPrefix("cache:") }
        #expect(
            cacheLines == [
                "cache: idle → starting", "cache: starting → running", "cache: running → stopping",
                "cache: stopping → stopped", "cache: stopped → starting", "cache: starting → running",
                "cache: running → stopping", "cache: stopping → stopped",
            ])
        expectLegal(events.all)
    }

    @Test func theEventsOfARestartAreTaskFailedThenRestartScheduledThenTransitions() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable(
            "cache", policy: .onFailure(backoff: .exponential(initial: .milliseconds(100), maximum: .seconds(1))),
            log: log)
        let runner = ServiceRunner(cache, signals: [], clock: clock)
        let events = EventLog(runner.events())
        try await runner.start()
        cache.crash()
        #expect(await eventually { events.restarts.count == 1 && clock.hasSleeper(wakingIn: .milliseconds(100)) })
        let failure = events.all.firstIndex { $0.kind == .taskFailed }!
        #expect(events.all[failure + 1].kind == .restartScheduled(attempt: 1, delay: .milliseconds(100)))
        #expect(events.all[failure + 1].from == .running && events.all[failure + 1].to == .running)
        clock.advance(by: .milliseconds(100))
        #expect(await eventually { cache.starts == 2 && cache.state == .running })
        cache.crash()
        #expect(await eventually { events.restarts.count == 2 && clock.hasSleeper(wakingIn: .milliseconds(200)) })
        let scheduled = events.all.last { $0.kind != .transition }?.kind
        #expect(scheduled == .restartScheduled(attempt: 2, delay: .milliseconds(200)))
        clock.advance(by: .milliseconds(200))
        #expect(await eventually { cache.starts == 3 && cache.state == .running })
        try await runner.stop()
    }

    @Test func moreRestartsThanTheWindowAllowsFailTheTreeAsWithoutAPolicy() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(2, delay: .zero), log: log)
        let root = Crashable("root", dependencies: [cache], log: log)
        let runner = ServiceRunner(root, signals: [], clock: clock)
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        for restart in 1...2 {
            cache.crash()
            #expect(await eventually { cache.starts == restart + 1 && root.state == .running })
        }
        cache.crash()  // a third failure within the minute
        await #expect(throws: Boom(name: "cache")) { try await running.value }
        await events.finished()
        #expect(events.restarts == ["cache 1", "cache 2"])
        #expect(cache.state == .stopped && root.state == .stopped)
        #expect(cache.starts == cache.stops)
    }

    @Test func theWindowSlidesOnTheRunnersClock() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(1, delay: .zero, within: .seconds(10)), log: log)
        let runner = ServiceRunner(cache, signals: [], clock: clock)
        let events = EventLog(runner.events())
        try await runner.start()
        cache.crash()
        #expect(await eventually { cache.starts == 2 && cache.state == .running })
        clock.advance(by: .seconds(10))  // the first restart leaves the window
        cache.crash()
        #expect(await eventually { cache.starts == 3 && cache.state == .running })
        #expect(await eventually { events.restarts == ["cache 1", "cache 1"] })
        try await runner.stop()
    }

    @Test func aRestartWhoseStartThrowsIsRetriedAfterTheNextBackoff() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(3, delay: .seconds(1)), log: log)
        let api = Crashable("api", dependencies: [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let events = EventLog(runner.events())
        try await runner.start()
        cache.failNextStarts(1)
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && cache.state == .stopped })
        clock.advance(by: .seconds(1))
        // The restart's start threw: a second restart is scheduled, api stays down meanwhile.
        #expect(
            await eventually { events.restarts == ["cache 1", "cache 2"] && clock.hasSleeper(wakingIn: .seconds(1)) })
        #expect(cache.state == .failed && api.state == .stopped)
        clock.advance(by: .seconds(1))
        #expect(await eventually { api.state == .running })
        #expect(cache.starts == 3 && api.starts == 2)
        try await runner.stop()
        await events.finished()
        expectLegal(events.all)
    }

    @Test func aRestartWhoseStartsKeepThrowingFailsTheTreeOnceTheWindowIsFull() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(2, delay: .zero), log: log)
        let api = Crashable("api", dependencies: [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.failNextStarts(5)
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await running.value }
        #expect(cache.starts == 3)  // the first, then two restarts that threw
        #expect(api.stops == 1 && api.state == .stopped)
        #expect(cache.stops == 1)  // stop() only for the start that succeeded
    }

    @Test func aStopRequestedDuringTheBackoffWinsAndNothingRestarts() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(delay: .seconds(30)), log: log)
        let other = Crashable("other", log: log)
        let api = Crashable("api", dependencies: [other, cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(30)) && cache.state == .stopped })
        runner.requestStop()
        try await running.value
        #expect(await eventually { clock.sleeperCount == 0 })  // the backoff ended with the tree
        #expect(cache.starts == 1 && cache.stops == 1)
        #expect(api.starts == 1 && api.stops == 1)
        #expect(other.stops == 1 && other.state == .stopped)
        #expect(await Coordinator.shared.isTracking(cache.serviceID) == false)
    }

    @Test func aServiceSharedByTwoTreesRestartsOnceAndTheDependentsInBothTreesRestart() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let database = Crashable("database", policy: restarting(delay: .seconds(1)), log: log)
        let left = Crashable("left", dependencies: [database], log: log)
        let right = Crashable("right", dependencies: [database], log: log)
        let first = ServiceRunner(left, signals: [], clock: clock)
        let second = ServiceRunner(right, signals: [], clock: clock)
        let firstEvents = EventLog(first.events())
        let secondEvents = EventLog(second.events())
        try await first.start()
        try await second.start()
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && database.state == .stopped })
        #expect(left.state == .stopped && right.state == .stopped)
        clock.advance(by: .seconds(1))
        #expect(await eventually { left.state == .running && right.state == .running })
        #expect(database.starts == 2 && left.starts == 2 && right.starts == 2)
        // Both trees saw the restart of the shared service.
        for events in [firstEvents, secondEvents] {
            #expect(
                await eventually {
                    events.restarts == ["database 1"]
                        && events.lines.filter { $0 == "database: stopped → starting" }.count == 1
                })
        }
        try await first.stop()
        #expect(database.state == .running)  // still held by the second tree
        try await second.stop()
        #expect(database.state == .stopped && database.stops == 2)
    }

    @Test func aTreeStartingWhileAServiceRestartsWaitsForItToRunAgain() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let database = Crashable("database", policy: restarting(delay: .seconds(1)), log: log)
        let first = ServiceRunner(Crashable("first", dependencies: [database], log: log), signals: [], clock: clock)
        try await first.start()
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && database.state == .stopped })
        let late = Crashable("late", dependencies: [database], log: log)
        let second = ServiceRunner(late, signals: [], clock: clock)
        let starting = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(late.starts == 0)  // not while its dependency is down
        clock.advance(by: .seconds(1))
        try await starting.value
        #expect(late.state == .running && database.state == .running)
        #expect(database.starts == 2)
        #expect(log.position(of: "start late")! > log.lines.lastIndex(of: "start database")!)
        try await second.stop()
        try await first.stop()
        #expect(database.stops == 2)
    }

    @Test func anEscalationDuringARestartEndsEverythingWithoutHanging() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let hang = Gate()
        let database = HangingRestartService(policy: restarting(delay: .zero), hang: hang)
        let api = Crashable("api", dependencies: [database], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        database.crash()
        // The restart's start ignores cancellation and never returns.
        #expect(await eventually { database.starts == 2 })
        runner.requestStop()
        runner.escalate(signal: 2)
        // A clean, if hurried, stop: the restart's failure is not the tree's.
        try await running.value
        #expect(api.stops == 1)
        #expect(database.state == .failed)
        hang.open()
    }

    @Test func anInvalidRestartPolicyIsRefusedBeforeAnythingStarts() async throws {
        let log = LineLog()
        let bad = Crashable("bad", policy: .onFailure(maxRestarts: -1), log: log)
        await #expect(throws: LifecycleError.invalidRestartPolicy(bad.serviceID, .onFailure(maxRestarts: -1))) {
            try await ServiceRunner(bad, signals: []).start()
        }
        let noWindow = Crashable("noWindow", policy: .onFailure(within: .zero), log: log)
        await #expect(throws: LifecycleError.self) { try await ServiceRunner(noWindow, signals: []).start() }
        #expect(bad.starts == 0 && noWindow.starts == 0)
    }
}

/// A service whose first start succeeds and whose later starts hang, ignoring cancellation.
final class HangingRestartService: Service, Sendable {
    let name = "database"
    let restartPolicy: RestartPolicy
    let hang: Gate
    private let state = Locked((starts: 0, trigger: AsyncStream<Void>.Continuation?.none))

    init(policy: RestartPolicy, hang: Gate) {
        restartPolicy = policy
        self.hang = hang
    }

    var starts: Int { state.withLock { $0.starts } }
    var gracefulShutdownTimeout: Duration { .seconds(1) }

    func crash() { _ = state.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let first = state.withLock { state in
            state.starts += 1
            return state.starts == 1
        }
        guard first else { return await hang.wait() }
        let (stream, trigger) = AsyncStream<Void>.makeStream()
        state.withLock { $0.trigger = trigger }
        try addTask { for await _ in stream { throw Boom(name: "database") } }
    }

    func stop() async throws { state.withLock { $0.trigger?.finish() } }
}

/// A task that fails while its restart's `start()` is still running fails the trees, as a task
/// failing during a first start does (DESIGN §4): it is never lost.
@Suite(.timeLimit(.minutes(1))) struct RestartDuringStartTests {
    @Test func aTaskFailingWhileARestartStartsTheServiceFailsTheTree() async throws {
        let clock = ManualClock()
        let service = CrashInStartService(policy: restarting(5, delay: .zero))
        let runner = ServiceRunner(service, signals: [], clock: clock)
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { service.state == .running })
        service.crash()
        // The restart's start() adds a task that throws before start() returns.
        await #expect(throws: Boom(name: "in start")) { try await running.value }
        #expect(service.starts == 2 && service.state != .running)
        #expect(await eventually { events.restarts == ["crash-in-start 1"] })
    }
}

/// Its second start adds a task that throws at once, before start() returns.
final class CrashInStartService: Service, Sendable {
    let name = "crash-in-start"
    let restartPolicy: RestartPolicy
    private let state = Locked((starts: 0, trigger: AsyncStream<Void>.Continuation?.none))

    init(policy: RestartPolicy) { restartPolicy = policy }

    var starts: Int { state.withLock { $0.starts } }

    func crash() { _ = state.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let start = state.withLock { state in
            state.starts += 1
            return state.starts
        }
        if start == 2 {
            try addTask { throw Boom(name: "in start") }
            try await Task.sleep(for: .milliseconds(20))  // the task fails while this start runs
            return
        }
        let (stream, trigger) = AsyncStream<Void>.makeStream()
        state.withLock { $0.trigger = trigger }
        try addTask { for await _ in stream { throw Boom(name: "crash") } }
    }
}
