import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §10 used the way a careful user would: several crashes at once, crashes during a
/// restart's own stops and starts, trees that stop or start while a shared service restarts, stops
/// that hang or throw, starts that keep failing or ignore cancellation, and a restart stopped from
/// inside. After each, no life of a service overlaps another, no service starts or runs while a
/// dependency is down, and every start that succeeded got exactly one stop (`lifeViolations`).
@Suite(.timeLimit(.minutes(1))) struct RestartAttackTests {
    /// No backoff and room for many restarts: the test decides when services crash.
    static let eager = RestartPolicy.onFailure(maxRestarts: 100, within: .seconds(60), backoff: .none)

    @Test(arguments: [true, false])
    func aServiceAndItsDependentCrashingTogetherRestartAndTheTreeStaysUp(dependencyFirst: Bool) async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], policy: Self.eager, log: log)
        let root = Puppet("root", [api], log: log)
        let runner = ServiceRunner(root, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        if dependencyFirst {
            cache.crash()
            api.crash()
        } else {
            api.crash()
            cache.crash()
        }
        #expect(await eventually { cache.starts >= 2 && api.starts >= 2 && root.state == .running })
        try await Task.sleep(for: .milliseconds(20))
        #expect(root.state == .running && api.state == .running && cache.state == .running)
        runner.requestStop()
        try await running.value  // the tree never failed
        #expect(lifeViolations(log.lines, edges: [("api", "cache"), ("root", "api")]) == [])
    }

    @Test func twoUnrelatedServicesCrashingTogetherRestartTheirSharedDependentInOrder() async throws {
        let log = LineLog()
        let left = Puppet("left", policy: Self.eager, log: log)
        let right = Puppet("right", policy: Self.eager, log: log)
        let both = Puppet("both", [Parallel(left, right)], log: log)
        let root = Puppet("root", [both], log: log)
        let runner = ServiceRunner(root, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        left.crash()
        right.crash()
        #expect(await eventually { left.starts == 2 && right.starts == 2 && root.state == .running })
        try await Task.sleep(for: .milliseconds(20))
        #expect(both.state == .running && root.state == .running)
        runner.requestStop()
        try await running.value
        let edges = [("both", "left"), ("both", "right"), ("root", "both")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
    }

    @Test func aDependentFailingWhileTheRestartStopsItsDependentsJoinsThatRestart() async throws {
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let middle = Puppet("middle", [cache], log: log)  // fail fast on its own
        let api = Puppet("api", [middle], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.nextStops(.hold(gate))
        cache.crash()
        #expect(await eventually { log.lines.last == "stop api" })
        middle.crash()  // still running: the restart of cache has not stopped it yet
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        #expect(await eventually { cache.starts == 2 && api.state == .running })
        try await Task.sleep(for: .milliseconds(20))
        #expect(cache.starts == 2 && middle.starts == 2 && api.starts == 2)
        runner.requestStop()
        try await running.value  // middle's failure joined the restart: the tree did not fail
        #expect(lifeViolations(log.lines, edges: [("api", "middle"), ("middle", "cache")]) == [])
    }

    @Test func aCrashOfARestartedServiceWhileItsRestartStartsADependentRestartsItAgain() async throws {
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.nextStarts(.hold(gate))
        cache.crash()
        #expect(await eventually { api.starts == 2 && cache.state == .running })
        cache.crash()  // the new life of cache fails while its restart still starts api
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        #expect(await eventually { cache.starts == 3 && api.starts == 3 && api.state == .running })
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    /// Fault injection seed 59018: a task that a restart's `start()` added throws before that start
    /// returned, while a second crash of the dependency has already scheduled the restart that will
    /// stop the dependent. The failure joins that restart: the dependent runs, stops and starts
    /// again with it, and the tree stays up (its events: `taskFailed` while `starting`, then
    /// `starting → running`, then `running → stopping`).
    @Test func aTaskFailingWhileARestartStartsADependentJoinsTheNextRestartOfItsDependency() async throws {
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        api.nextStarts(
            .hook {},
            .hook {
                await gate.wait()
                try? api.addTask { throw Boom(name: "early") }
                try? await Task.sleep(for: .milliseconds(50))  // the task throws while api starts
            })
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.crash()
        #expect(await eventually { api.starts == 2 && cache.state == .running })
        cache.crash()  // the next restart of cache will stop api once its start returned
        #expect(await eventually { events.restarts == ["cache 1", "cache 2"] })
        gate.open()
        #expect(await eventually { cache.starts == 3 && api.starts == 3 && api.state == .running })
        runner.requestStop()
        try await running.value  // api's failure joined the restart: the tree did not fail
        await events.finished()
        let apiEvents = events.all.filter { $0.service.name == "api" }
        let failure = try #require(apiEvents.firstIndex { $0.kind == .taskFailed })
        #expect(apiEvents[failure].from == .starting)
        let next = apiEvents[(failure + 1)...].filter(\.isTransition).prefix(2).map { "\($0.from) → \($0.to)" }
        #expect(next == ["starting → running", "running → stopping"])
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    /// Fault injection seed 11930: the tree is asked to stop while a `start()` is in flight and a
    /// task that start added ignores its cancellation and throws. The stop lets the start go; the
    /// task's failure belongs to a life whose start did not succeed, so it is reported (an event)
    /// and `run()` returns normally — the same for a restart's start as for the tree's first start.
    @Test(arguments: [true, false])
    func aTaskThrowingAsAStartLetGoByTheStopWindsDownIsReportedAndTheRunReturns(inARestart: Bool) async throws {
        let service = LateFailureService(hangsFromStart: inARestart ? 2 : 1)
        let runner = ServiceRunner(service, signals: [], clock: ManualClock())
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        if inARestart {
            #expect(await eventually { service.state == .running })
            service.crash()
        }
        #expect(await eventually { service.starts == (inARestart ? 2 : 1) && service.hangs })
        runner.requestStop()
        try await running.value  // the stop let the start go: no failure to throw
        let mine = await events.value.filter { $0.service == service.serviceID }
        let late = try #require(mine.firstIndex { $0.kind == .taskFailed && ($0.error as? Boom)?.name == "late" })
        #expect(mine.last { $0.isTransition }.map { "\($0.from) → \($0.to)" } == "starting → failed")
        #expect(mine[late].from == (inARestart ? .starting : .failed))  // a restart's life winds down first
        #expect(service.stops == (inARestart ? 1 : 0))  // the restart stopped the first life only
    }

    @Test func aTreeStartingADependentWhileARestartStopsOthersWaitsForTheRestart() async throws {
        let log = LineLog()
        let gate = Gate()
        let database = Puppet("database", policy: Self.eager, log: log)
        let left = Puppet("left", [database], log: log)
        let first = ServiceRunner(left, signals: [], clock: ManualClock())
        try await first.start()
        left.nextStops(.hold(gate))
        database.crash()
        #expect(await eventually { log.lines.last == "stop left" })
        let late = Puppet("late", [database], log: log)
        let second = ServiceRunner(late, signals: [], clock: ManualClock())
        let starting = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(late.starts == 0)  // database is about to go down for its restart
        gate.open()
        try await starting.value
        #expect(await eventually { left.state == .running && late.state == .running })
        try await second.stop()
        try await first.stop()
        #expect(lifeViolations(log.lines, edges: [("left", "database"), ("late", "database")]) == [])
    }

    @Test func aTreeStoppingWhileASharedServiceRestartsLeavesTheRestartToTheOtherTree() async throws {
        let log = LineLog()
        let gate = Gate()
        let database = Puppet("database", policy: Self.eager, log: log)
        let left = Puppet("left", [database], log: log)
        let right = Puppet("right", [database], log: log)
        let first = ServiceRunner(left, signals: [], clock: ManualClock())
        let second = ServiceRunner(right, signals: [], clock: ManualClock())
        try await first.start()
        try await second.start()
        database.nextStarts(
            .hook {
                await gate.wait()
                if Task.isCancelled { log.record("cancelled database") }
            })
        database.crash()
        #expect(await eventually { database.starts == 2 })
        let stopping = Task { try await first.stop() }
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        try await stopping.value
        // The second tree still holds database: its restart went on for it.
        #expect(await eventually { right.state == .running && database.state == .running })
        #expect(!log.lines.contains("cancelled database"))
        try await second.stop()
        #expect(lifeViolations(log.lines, edges: [("left", "database"), ("right", "database")]) == [])
    }

    @Test func aRestartPolicyOnTheRootRestartsOnlyTheRoot() async throws {
        let log = LineLog()
        let child = Puppet("child", log: log)
        let root = Puppet("root", [child], policy: Self.eager, log: log)
        let runner = ServiceRunner(root, signals: [], clock: ManualClock())
        try await runner.start()
        let waiting = Task { try await runner.wait() }
        root.crash()
        #expect(await eventually { root.starts == 2 && root.state == .running })
        root.crash()
        #expect(await eventually { root.starts == 3 && root.state == .running })
        #expect(child.starts == 1 && child.state == .running)
        try await Task.sleep(for: .milliseconds(10))
        #expect(!waiting.isCancelled)
        try await runner.stop()
        try await waiting.value
        #expect(lifeViolations(log.lines, edges: [("root", "child")]) == [])
    }

    @Test func aRestartWhoseStopHangsGivesUpRatherThanStartALifeOverTheHungStop() async throws {
        let log = LineLog()
        let gate = Gate()
        let clock = ManualClock()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log, gracefulShutdownTimeout: .seconds(1))
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.nextStops(.hold(gate))
        cache.crash()
        #expect(await eventually { log.lines.last == "stop api" && clock.hasSleeper(wakingIn: .seconds(1)) })
        clock.advance(by: .seconds(1))  // api's stop is abandoned, and never returns meanwhile
        await #expect(throws: LifecycleError.stopTimedOut(api.serviceID, after: .seconds(1))) {
            try await running.value
        }
        #expect(api.starts == 1)
        gate.open()
        #expect(await eventually { log.lines.last == "stopped api" || log.lines.last == "stopped cache" })
    }

    @Test func aRestartWhoseStopThrowsStillStartsTheServiceAgain() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.nextStops(.fail)
        cache.crash()
        #expect(await eventually { api.starts == 2 && api.state == .running })
        runner.requestStop()
        try await running.value
        let failedStop = await events.value.first { $0.service == api.serviceID && $0.to == .failed }
        #expect(failedStop?.error as? Boom == Boom(name: "api"))
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test func startsThatKeepFailingWithoutBackoffGiveUpOnceTheWindowIsFull() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: .onFailure(maxRestarts: 50, backoff: .none), log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.failEveryStart()
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await running.value }
        #expect(cache.starts == 51 && cache.stops == 1)
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test func aStopRequestedWhileRestartsRetryWithoutBackoffEndsTheTreeCleanly() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: .onFailure(maxRestarts: .max, backoff: .none), log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.failEveryStart()
        cache.crash()
        #expect(await eventually { cache.starts > 20 })
        runner.requestStop()
        try await running.value  // the stop won: no failure
        #expect(api.starts == 1 && api.stops == 1 && cache.stops == 1)
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test(arguments: [
        Backoff.constant(.seconds(Int64.max)), .exponential(initial: .seconds(Int64.max), maximum: .seconds(Int64.max)),
    ])
    func aHugeBackoffEndsAtOnceWhenTheTreeStops(backoff: Backoff) async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Puppet("cache", policy: .onFailure(backoff: backoff), log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.crash()
        #expect(await eventually { cache.state == .stopped && clock.hasSleeper(wakingIn: .practicallyNever) })
        runner.requestStop()
        try await running.value
        #expect(cache.starts == 1 && api.starts == 1)
        let scheduled = await events.value.first { $0.kind != .transition && $0.kind != .taskFailed }
        #expect(scheduled?.kind == .restartScheduled(attempt: 1, delay: .practicallyNever))
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test func aStopRequestedWhileARestartsStartIgnoresCancellationDoesNotHang() async throws {
        let log = LineLog()
        let gate = Gate()
        let clock = ManualClock()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log, gracefulShutdownTimeout: .seconds(1))
        let root = Puppet("root", [api], log: log)
        let runner = ServiceRunner(root, signals: [], clock: clock)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        api.nextStarts(.hold(gate))
        cache.crash()
        #expect(await eventually { api.starts == 2 })
        runner.requestStop()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) })
        clock.advance(by: .seconds(1))  // the cancelled start is abandoned after api's grace
        do {
            try await running.value
        } catch {
            #expect(error as? LifecycleError == .startAbandoned(api.serviceID))
        }
        gate.open()  // the abandoned start returns late: it cannot add its task, and throws
        #expect(await eventually { log.lines.last == "startThrew api" })
        #expect(api.stops == 1 && cache.starts == cache.stops && root.starts == root.stops)
    }

    @Test func stopCalledFromARestartingServicesStartStopsTheTreeCleanly() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        cache.nextStarts(.hook {}, .hook { try? await runner.stop() })
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.crash()
        try await running.value
        #expect(cache.starts == 2 && cache.stops == 2)
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test func serviceWaitAndWithRunningKeepWaitingThroughARestart() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        let result = try await withRunning(api, clock: ManualClock()) { api in
            let waiting = Task { try await cache.wait() }
            cache.crash()
            #expect(await eventually { cache.starts == 2 && api.state == .running })
            try await Task.sleep(for: .milliseconds(20))
            #expect(!Task.isCancelled)
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            return 42
        }
        #expect(result == 42)
        #expect(lifeViolations(log.lines, edges: [("api", "cache")]) == [])
    }

    @Test func aTaskFailingWhileARestartStartsItsServiceFailsTheTree() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let api = Puppet("api", [cache], log: log)
        cache.nextStarts(
            .hook {},
            .hook {
                try? cache.addTask { throw Boom(name: "early") }
                try? await Task.sleep(for: .milliseconds(50))
            })
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        cache.crash()
        await #expect(throws: Boom(name: "early")) { try await running.value }
        #expect(cache.starts == cache.stops + (log.lines.contains("startThrew cache") ? 1 : 0))
    }

    @Test func aStopOfItsOwnTreeFromARestartsStopOfASharedServiceDoesNotWaitForItself() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let database = Puppet("database", policy: Self.eager, log: log)
        let left = Puppet("left", [database], log: log)
        let right = Puppet("right", [database], log: log)
        let first = ServiceRunner(left, signals: [], clock: clock)
        let second = ServiceRunner(right, signals: [], clock: clock)
        try await first.start()
        try await second.start()
        // The restart is driven for one of the two runners: either way, right's stop() is the
        // work of the second tree, and its stop() from there must not wait for itself.
        right.nextStops(.hook { try? await second.stop() })
        left.nextStops(.hook { try? await first.stop() })
        database.crash()
        #expect(await eventually { left.stops == 1 && right.stops == 1 && database.stops == 1 })
        try await first.stop()
        try await second.stop()
        #expect(left.state == .stopped && right.state == .stopped && database.state == .stopped)
        #expect(lifeViolations(log.lines, edges: [("left", "database"), ("right", "database")]) == [])
    }

    @Test func aTreeLettingGoOfARestartingStartLeavesATreeStartingThatServiceUnharmed() async throws {
        let log = LineLog()
        let database = Puppet("database", policy: Self.eager, log: log)
        let left = Puppet("left", [database], log: log)
        let first = ServiceRunner(left, signals: [], clock: ManualClock())
        try await first.start()
        database.nextStarts(.untilCancelled)  // the restart's start waits until its tree lets it go
        database.crash()
        #expect(await eventually { database.starts == 2 })
        let late = Puppet("late", [database], log: log)
        let second = ServiceRunner(late, signals: [], clock: ManualClock())
        let starting = Task { try await second.start() }  // waits while the restart holds database
        try await Task.sleep(for: .milliseconds(20))
        try await first.stop()  // the last holder: the restart's start is cancelled, nothing more
        try await starting.value  // the second tree starts database itself, and does not fail
        #expect(late.state == .running && database.state == .running && database.starts == 3)
        try await second.stop()
        #expect(lifeViolations(log.lines, edges: [("left", "database"), ("late", "database")]) == [])
    }
}

/// A service whose start number `hangsFromStart` adds a task that throws `Boom("late")` once
/// cancelled (ignoring the cancellation otherwise), then waits until it is cancelled itself; earlier
/// starts add a task that throws `Boom("crash")` on `crash()`. Restarts without backoff.
private final class LateFailureService: Service, Sendable {
    let name = "late-failure"
    let restartPolicy = RestartPolicy.onFailure(maxRestarts: 10, within: .seconds(60), backoff: .none)
    private let hangsFromStart: Int
    private let calls = Locked((starts: 0, stops: 0, hangs: false, trigger: AsyncStream<Void>.Continuation?.none))

    init(hangsFromStart: Int) { self.hangsFromStart = hangsFromStart }

    var starts: Int { calls.withLock { $0.starts } }
    var stops: Int { calls.withLock { $0.stops } }
    /// Whether the hanging start has added its task and waits.
    var hangs: Bool { calls.withLock { $0.hangs } }

    func crash() { _ = calls.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let number = calls.withLock { calls in
            calls.starts += 1
            return calls.starts
        }
        guard number >= hangsFromStart else {
            let (stream, trigger) = AsyncStream<Void>.makeStream()
            calls.withLock { $0.trigger = trigger }
            try addTask {
                for await _ in stream { throw Boom(name: "crash") }
            }
            return
        }
        try addTask {
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            throw Boom(name: "late")
        }
        calls.withLock { $0.hangs = true }
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
        throw CancellationError()
    }

    func stop() async throws {
        calls.withLock { calls in
            calls.stops += 1
            calls.trigger?.finish()
        }
    }
}
