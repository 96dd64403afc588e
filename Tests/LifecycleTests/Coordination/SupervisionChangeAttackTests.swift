import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §10 and §11 together, used the way a careful user would: `add` and `remove` while
/// services restart (during a backoff, while a restart's `start()` is in flight), concurrent changes
/// sharing services, changes made from the tree's own work, trees sharing a restarting service
/// stopped and escalated, and policies with huge or tiny values. After each: nothing hangs, no life
/// of a service overlaps another, no service runs while a dependency is down, every start that
/// succeeded got exactly one stop (`lifeViolations`), and the coordinator forgets everything.
@Suite(.timeLimit(.minutes(1))) struct SupervisionChangeAttackTests {
    /// No backoff and room for many restarts: the test decides when services crash.
    static let eager = RestartPolicy.onFailure(maxRestarts: 100, within: .seconds(60), backoff: .none)

    /// A runner on a coordinator of its own, so that what the coordinator keeps is this test's alone.
    static func runner(_ root: any Service, clock: ManualClock = ManualClock(), coordinator: Coordinator)
        -> ServiceRunner
    {
        ServiceRunner(root, observers: [], signals: [], clock: clock, coordinator: coordinator)
    }

    /// Waits until the coordinator keeps nothing (walks and restarts end a moment after the stop).
    static func eventuallyIdle(_ coordinator: Coordinator) async -> Bool {
        for _ in 0..<2000 {
            if await coordinator.isIdle { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    // MARK: Restarts meeting remove

    /// A restart's `start()` of a member whose last holder let it go (a `remove`) is cancelled; when
    /// that start ignores the cancellation and returns anyway, a later member whose restart `start()`
    /// throws is still a failure of that member: retried (its policy allows; with `.never` the
    /// tree would fail), not silently skipped and left `failed` inside a running tree.
    @Test func aLetGoRestartStartThatReturnsAnywayDoesNotSwallowALaterMembersFailedStart() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let reader = Puppet("reader", [cache], log: log)
        let writer = Puppet("writer", [cache], policy: Self.eager, log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(reader)
        try await runner.add(writer)
        reader.nextStarts(.hold(gate))  // ignores the cancellation of its removal
        writer.nextStarts(.fail)  // the restart's start of writer throws once
        cache.crash()
        #expect(await eventually { reader.starts == 2 })
        let removing = Task { try await runner.remove(reader) }
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        try await removing.value
        // writer's failed restart start counts as a failure of writer: retried at once (no backoff).
        #expect(await eventually(within: .seconds(5)) { writer.starts == 3 && writer.state == .running })
        #expect(writer.state == .running)
        runner.requestStop()
        try await running.value
        #expect(reader.state == .stopped && writer.state == .stopped && cache.state == .stopped)
        #expect(lifeViolations(log.lines, edges: [("reader", "cache"), ("writer", "cache")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func removingAnAddedServiceDuringItsOwnBackoffEndsTheRestartAndStopsWhatOnlyItNeeded() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let queue = Puppet("queue", log: log)
        let worker = Puppet("worker", [queue], policy: restarting(3, delay: .seconds(1)), log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.crash()
        #expect(await eventually { worker.state == .stopped && clock.hasSleeper(wakingIn: .seconds(1)) })
        try await runner.remove(worker)
        #expect(queue.state == .stopped && queue.stops == 1)
        clock.advance(by: .seconds(5))
        try await Task.sleep(for: .milliseconds(20))
        #expect(worker.starts == 1 && worker.stops == 1 && worker.state == .stopped)
        #expect(runner.snapshot().isReady)  // the tree still runs
        await #expect(throws: LifecycleError.notAdded(worker.serviceID)) { try await runner.remove(worker) }
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: [("worker", "queue")]) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func removingAnAddedServiceWhileItsRestartStartIsInFlightCancelsThatStart() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let worker = Puppet("worker", policy: Self.eager, log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.nextStarts(.untilCancelled)
        worker.crash()
        #expect(await eventually { worker.starts == 2 })
        try await runner.remove(worker)  // the stop wins: the restart's start is cancelled
        #expect(worker.state == .failed && worker.stops == 1)
        #expect(runner.snapshot().isReady)
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: []) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func removeCalledFromARestartingServicesOwnStartTakesItOutOnceItRuns() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let worker = Puppet("worker", policy: Self.eager, log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let removal = Locked<(any Error)?>(nil)
        worker.nextStarts(
            .hook {},
            .hook {
                do { try await runner.remove(worker) } catch { removal.withLock { $0 = error } }
            })
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.crash()
        #expect(await eventually { worker.starts == 2 && worker.state == .stopped })
        #expect(removal.withLock { $0 } == nil)
        #expect(worker.stops == 2)
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// The restart of `cache` is stopping the added `reader` (its `stop()` held) when `reader` is
    /// removed: the removal waits for that stop, lets `reader` go without a second `stop()`, and
    /// lets go of `cache`, which only `reader` held and which the restart has not stopped yet. The
    /// restart and the removal meet on `cache`: it stops once, and nothing starts again.
    @Test func removingADependentWhileARestartStopsItLetsGoOfThePendingFailedServiceOnce() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let reader = Puppet("reader", [cache], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(reader)
        reader.nextStops(.hold(gate))
        cache.crash()
        #expect(await eventually { log.lines.last == "stop reader" })
        let removing = Task { try await runner.remove(reader) }
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        try await removing.value
        #expect(await eventually { cache.state == .stopped || cache.state == .running })
        try await Task.sleep(for: .milliseconds(20))
        #expect(reader.starts == 1 && reader.stops == 1 && reader.state == .stopped)
        #expect(cache.stops == cache.starts)
        #expect(runner.snapshot().isReady)
        runner.requestStop()
        try await running.value
        #expect(cache.state == .stopped && cache.stops == cache.starts)
        #expect(lifeViolations(log.lines, edges: [("reader", "cache")]) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func addingADeclaredDependencyInItsBackoffWaitsAndCountsIt() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(3, delay: .seconds(1)), log: log)
        let root = Puppet("root", [database], log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) })
        let adding = Task { try await runner.add(database) }
        try await Task.sleep(for: .milliseconds(20))
        clock.advance(by: .seconds(1))
        try await adding.value
        #expect(database.starts == 2 && database.state == .running)
        #expect(await eventually { root.state == .running })  // its restart goes on after database
        try await runner.remove(database)
        #expect(database.state == .running)  // root still holds it
        runner.requestStop()
        try await running.value
        #expect(database.stops == 2)
        #expect(lifeViolations(log.lines, edges: [("root", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func anAddWaitingForADependencyWhoseRestartGivesUpThrowsAndTheTreeFails() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(1, delay: .seconds(1)), log: log)
        let root = Puppet("root", [database], log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        database.failEveryStart()
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) })
        let api = Puppet("api", [database], log: log)
        let adding = Task { try await runner.add(api) }
        try await Task.sleep(for: .milliseconds(20))
        clock.advance(by: .seconds(1))  // the restart's start throws; the window is full: fail fast
        await #expect(throws: Boom(name: "database")) { try await running.value }
        let added = await adding.result
        #expect(throws: (any Error).self) { try added.get() }
        #expect(api.starts == 0 && database.stops == 1 && root.stops == 1)
        #expect(lifeViolations(log.lines, edges: [("root", "database"), ("api", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func anAddOfAServiceWithAnInvalidPolicyIsRefusedBeforeAnythingStarts() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let queue = Puppet("queue", log: log)
        let bad = Puppet("bad", [queue], policy: .onFailure(maxRestarts: -1), log: log)
        let zeroWindow = Puppet("zeroWindow", policy: .onFailure(within: .zero), log: log)
        let runner = Self.runner(Puppet("root", log: log), coordinator: coordinator)
        try await runner.start()
        await #expect(throws: LifecycleError.invalidRestartPolicy(bad.serviceID, bad.restartPolicy)) {
            try await runner.add(bad)
        }
        await #expect(throws: LifecycleError.invalidRestartPolicy(zeroWindow.serviceID, zeroWindow.restartPolicy)) {
            try await runner.add(zeroWindow)
        }
        #expect(queue.starts == 0 && bad.starts == 0)
        #expect(runner.snapshot().isReady)
        try await runner.stop()
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func aServiceRemovingItselfFromTheStopOfItsOwnRestartEndsTheRestartQuietly() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let worker = Puppet("worker", policy: Self.eager, log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let removal = Locked<(any Error)??>(nil)
        worker.nextStops(
            .hook {
                do {
                    try await runner.remove(worker)
                    removal.withLock { $0 = .some(nil) }
                } catch {
                    removal.withLock { $0 = .some(error) }
                }
            })
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.crash()
        #expect(await eventually { removal.withLock { $0 } != nil && worker.state == .stopped })
        #expect(removal.withLock { $0 }! == nil)
        try await Task.sleep(for: .milliseconds(20))
        #expect(worker.starts == 1 && worker.stops == 1)  // taken out: not started again
        #expect(runner.snapshot().isReady)
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// `shared` is declared by one tree and added to another. The adding tree removes it while the
    /// restart's `start()` of it is in flight: that tree is not its last holder, so the removal
    /// returns without waiting for (or cancelling) the start, and the restart goes on for the
    /// declaring tree.
    @Test func removingAServiceAnotherTreeHoldsWhileItsRestartStartIsInFlightReturnsAtOnce() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let shared = Puppet("shared", policy: Self.eager, log: log)
        let owner = Self.runner(Puppet("owner", [shared], log: log), coordinator: coordinator)
        let borrower = Self.runner(Puppet("borrower", log: log), coordinator: coordinator)
        try await owner.start()
        try await borrower.start()
        try await borrower.add(shared)
        shared.nextStarts(
            .hook {
                await gate.wait()
                if Task.isCancelled { log.record("cancelled shared") }
            })
        shared.crash()
        #expect(await eventually { shared.starts == 2 })
        let done = Locked(false)
        let removing = Task {
            try await borrower.remove(shared)
            done.withLock { $0 = true }
        }
        #expect(await eventually(within: .seconds(5)) { done.withLock { $0 } })
        gate.open()
        try await removing.value
        #expect(await eventually { shared.state == .running && owner.root.state == .running })
        #expect(!log.lines.contains("cancelled shared"))
        try await borrower.stop()
        #expect(shared.state == .running)
        try await owner.stop()
        #expect(shared.stops == 2 && shared.state == .stopped)
        #expect(lifeViolations(log.lines, edges: [("owner", "shared")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// An add whose dependency is still running but about to be stopped by a restart (it restarts
    /// its dependents first): the added service starts only once that dependency ran again.
    @Test func anAddMeetingAPendingRestartOfItsDependencyStartsAfterTheRestart() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let cache = Puppet("cache", policy: Self.eager, log: log)
        let reader = Puppet("reader", [cache], log: log)
        let root = Puppet("root", [reader], log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        reader.nextStops(.hold(gate))
        cache.crash()
        #expect(await eventually { log.lines.last == "stop reader" })
        let api = Puppet("api", [cache], log: log)
        let adding = Task { try await runner.add(api) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(api.starts == 0)
        gate.open()
        try await adding.value
        #expect(api.state == .running && cache.starts == 2 && cache.state == .running)
        #expect(await eventually { root.state == .running && reader.state == .running })
        runner.requestStop()
        try await running.value
        let edges = [("reader", "cache"), ("root", "reader"), ("api", "cache")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// The added `worker`'s removal is stopping it (its `stop()` held) when its dependency `queue`,
    /// which only `worker` holds, crashes: the restart waits for that stop, and the removal and the
    /// restart meet on `queue`, which stops exactly once and does not start again.
    @Test func aDependencyCrashingWhileARemovalStopsItsDependentStopsOnceAndStaysDown() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let queue = Puppet("queue", policy: Self.eager, log: log)
        let worker = Puppet("worker", [queue], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.nextStops(.hold(gate))
        let removing = Task { try await runner.remove(worker) }
        #expect(await eventually { log.lines.last == "stop worker" })
        queue.crash()
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        try await removing.value
        #expect(await eventually { queue.state == .stopped })
        try await Task.sleep(for: .milliseconds(20))
        #expect(queue.starts == 1 && queue.stops == 1 && worker.stops == 1)
        #expect(runner.snapshot().isReady)
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: [("worker", "queue")]) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// An add is still starting `api` (its `start()` held, ignoring cancellation) when `database`,
    /// which the add started for it, crashes; then a stop is requested. The stop wins: every
    /// service that started stops exactly once and nothing hangs.
    @Test func aStopRequestedWhileAnAddAndARestartWaitForTheSameStartEndsCleanly() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let database = Puppet("database", policy: Self.eager, log: log)
        let api = Puppet("api", [database], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        api.nextStarts(.hold(gate))
        let adding = Task { try await runner.add(api) }
        #expect(await eventually { api.starts == 1 })
        database.crash()
        try await Task.sleep(for: .milliseconds(20))
        runner.requestStop()
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        _ = await adding.result
        _ = await running.result
        #expect(await eventually { database.state != .running && api.state != .running })
        #expect(api.starts - (log.lines.contains("startThrew api") ? 1 : 0) == api.stops)
        #expect(database.starts == database.stops)
        #expect(lifeViolations(log.lines, edges: [("api", "database")]) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Restarts meeting add

    @Test func anAddOfAServiceThatDependsOnOneInItsBackoffWaitsUntilItRunsAgain() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(3, delay: .seconds(1)), log: log)
        let root = Puppet("root", [database], log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let events = collect(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        database.crash()
        #expect(await eventually { root.state == .stopped && clock.hasSleeper(wakingIn: .seconds(1)) })
        let api = Puppet("api", [database], log: log)
        let adding = Task { try await runner.add(api) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(api.starts == 0)  // database is down for its restart
        clock.advance(by: .seconds(1))
        try await adding.value
        #expect(api.state == .running && database.state == .running && root.state == .running)
        #expect(database.starts == 2 && api.starts == 1)
        // A later crash of database restarts the added api with it.
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(2)) || clock.hasSleeper(wakingIn: .seconds(1)) })
        clock.advance(by: .seconds(2))
        #expect(await eventually { api.starts == 2 && api.state == .running && root.state == .running })
        runner.requestStop()
        try await running.value
        let edges = [("root", "database"), ("api", "database")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func aStopRequestedWhileAnAddWaitsForARestartingDependencyEndsCleanly() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(3, delay: .seconds(1)), log: log)
        let root = Puppet("root", [database], log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        database.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) })
        let api = Puppet("api", [database], log: log)
        let adding = Task { try await runner.add(api) }
        try await Task.sleep(for: .milliseconds(20))
        runner.requestStop()
        await #expect(throws: CancellationError.self) { try await adding.value }
        try await running.value
        #expect(api.starts == 0 && database.starts == 1 && database.stops == 1)
        #expect(lifeViolations(log.lines, edges: [("root", "database"), ("api", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func anAddedServiceWhoseTaskFailsAtOnceEveryLifeEndsInTheDocumentedFailure() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let flaky = Puppet("flaky", policy: .onFailure(maxRestarts: 3, backoff: .none), log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        // Every start adds a task that throws at once, before or after start() returned.
        for _ in 0..<10 { flaky.nextStarts(.hook { try? flaky.addTask { throw Boom(name: "flaky") } }) }
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        do { try await runner.add(flaky) } catch {}
        await #expect(throws: Boom(name: "flaky")) { try await running.value }
        #expect(flaky.starts <= 4)
        #expect(root.stops == 1)
        #expect(lifeViolations(log.lines, edges: []) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Concurrent changes

    @Test func twoConcurrentAddsSharingANewDependencyStartItOnceAndTheLastRemoveStopsIt() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let shared = Puppet("shared", log: log)
        let left = Puppet("left", [shared], log: log)
        let right = Puppet("right", [shared], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let events = collect(runner.events())
        try await runner.start()
        shared.nextStarts(.hold(gate))
        async let addLeft: Void = runner.add(left)
        async let addRight: Void = runner.add(right)
        #expect(await eventually { shared.starts == 1 })
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        _ = try await (addLeft, addRight)
        #expect(shared.starts == 1 && left.state == .running && right.state == .running)
        try await runner.remove(left)
        #expect(shared.state == .running && shared.stops == 0)
        try await runner.remove(right)
        #expect(shared.state == .stopped && shared.stops == 1)
        try await runner.stop()
        #expect(lifeViolations(log.lines, edges: [("left", "shared"), ("right", "shared")]) == [])
        expectLegal(await events.value)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func twoConcurrentAddsWhoseSharedDependencyFailsBothThrowItAndTheTreeKeepsRunning() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let shared = Puppet("shared", log: log)
        let left = Puppet("left", [shared], log: log)
        let right = Puppet("right", [shared], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        try await runner.start()
        shared.nextStarts(.hook { await gate.wait() })
        shared.failEveryStart()
        let addLeft = Task { try await runner.add(left) }
        let addRight = Task { try await runner.add(right) }
        #expect(await eventually { shared.starts == 1 })
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        await #expect(throws: Boom(name: "shared")) { try await addLeft.value }
        await #expect(throws: Boom(name: "shared")) { try await addRight.value }
        #expect(shared.starts == 1 && shared.stops == 0 && left.starts == 0 && right.starts == 0)
        #expect(runner.snapshot().isReady)
        shared.failEveryStart(false)
        try await runner.add(right)  // still changeable
        try await runner.stop()
        #expect(lifeViolations(log.lines, edges: [("left", "shared"), ("right", "shared")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func twoConcurrentRemovesOfOneAdditionStopItOnceAndTheOtherIsNotAdded() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let worker = Puppet("worker", log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        try await runner.start()
        try await runner.add(worker)
        worker.nextStops(.hold(gate))
        let first = Task { try await runner.remove(worker) }
        #expect(await eventually { worker.stops == 1 })
        await #expect(throws: LifecycleError.notAdded(worker.serviceID)) { try await runner.remove(worker) }
        gate.open()
        try await first.value
        #expect(worker.stops == 1 && worker.state == .stopped)
        try await runner.stop()
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func aRemoveBeforeTheAddReturnedIsNotAddedAndSaysWhatToDo() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let worker = Puppet("worker", log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        try await runner.start()
        worker.nextStarts(.hold(gate))
        let adding = Task { try await runner.add(worker) }
        #expect(await eventually { worker.starts == 1 })
        do {
            try await runner.remove(worker)
            Issue.record("remove of an addition in flight did not throw")
        } catch let error as LifecycleError {
            #expect(error == .notAdded(worker.serviceID))
            #expect("\(error)".contains("add(_:)"))
        }
        gate.open()
        try await adding.value
        try await runner.remove(worker)
        #expect(worker.stops == 1)
        try await runner.stop()
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func oneServiceAddedToTwoRunnersAtOnceStartsOnceAndStopsWithItsLastHolder() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let shared = Puppet("shared", policy: Self.eager, log: log)
        let first = Self.runner(Puppet("first", log: log), coordinator: coordinator)
        let second = Self.runner(Puppet("second", log: log), coordinator: coordinator)
        try await first.start()
        try await second.start()
        shared.nextStarts(.hold(gate))
        async let one: Void = first.add(shared)
        async let two: Void = second.add(shared)
        #expect(await eventually { shared.starts == 1 })
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        _ = try await (one, two)
        shared.crash()  // a restart reaches both trees
        #expect(await eventually { shared.starts == 2 && shared.state == .running })
        try await first.remove(shared)
        #expect(shared.state == .running)
        try await first.stop()
        try await second.stop()
        #expect(shared.stops == 2 && shared.state == .stopped)
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Changes from the tree's own work

    @Test func anObserverAddingAServiceWhenTheRootRunsNeitherHangsNorLeaks() async throws {
        final class Adder: LifecycleObserver {
            let runner = Locked<ServiceRunner?>(nil)
            let added: any Service
            let outcome = Locked<(any Error)??>(nil)
            init(_ added: any Service) { self.added = added }
            func observe(_ events: AsyncStream<LifecycleEvent>) async {
                for await event in events where event.to == .running && event.isTransition {
                    guard let runner = runner.withLock({ $0 }), event.service == runner.rootID,
                        outcome.withLock({ $0 }) == nil
                    else { continue }
                    do {
                        try await runner.add(added)
                        outcome.withLock { $0 = .some(nil) }
                    } catch {
                        outcome.withLock { $0 = .some(error) }
                    }
                }
            }
        }
        let coordinator = Coordinator()
        let log = LineLog()
        let worker = Puppet("worker", log: log)
        let root = Puppet("root", log: log)
        let adder = Adder(worker)
        let runner = ServiceRunner(
            root, observers: [adder], signals: [], clock: ManualClock(), coordinator: coordinator)
        adder.runner.withLock { $0 = runner }
        try await runner.start()
        #expect(await eventually { worker.state == .running })
        try await runner.stop()
        #expect(worker.stops == 1)
        adder.runner.withLock { $0 = nil }
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func aBackgroundTaskAddingAServiceWhileTheTreeStopsIsCancelledAndRolledBack() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let first = Puppet("first", log: log)
        let slow = Puppet("slow", [first], log: log)
        slow.nextStarts(.untilCancelled)
        let outcome = Locked<(any Error)?>(nil)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        root.nextStarts(
            .hook {
                try? root.addTask {
                    await gate.wait()
                    do { try await runner.add(slow) } catch { outcome.withLock { $0 = error } }
                }
            })
        try await runner.start()
        gate.open()
        #expect(await eventually { slow.starts == 1 })
        try await runner.stop()  // cancels the add, waits for its rollback, then stops root
        #expect(outcome.withLock { $0 } is CancellationError)
        #expect(slow.state == .failed && first.state == .stopped && first.stops == 1 && root.stops == 1)
        #expect(lifeViolations(log.lines, edges: [("slow", "first")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// `remove` from the removed service's own background task takes the addition out of the tree
    /// and then registers the change with the runner. A stop requested in between must not leave
    /// the service running forever: it is stopped, by the removal or by the tree's stop.
    @Test func aRemovalFromOwnWorkRacingAStopRequestStillStopsTheService() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let worker = Puppet("worker", log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let outcome = Locked<(any Error)??>(nil)
        worker.nextStarts(
            .hook {
                try? worker.addTask {
                    await gate.wait()
                    do {
                        try await runner.remove(worker)
                        outcome.withLock { $0 = .some(nil) }
                    } catch {
                        outcome.withLock { $0 = .some(error) }
                    }
                }
            })
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        // Hold the coordinator busy so the removal's first step waits in its queue.
        let release = Locked(false)
        let occupied = Locked(false)
        let occupying = Task.detached { await coordinator.occupy(until: release, occupied: occupied) }
        #expect(await eventually { occupied.withLock { $0 } })
        gate.open()
        try await Task.sleep(for: .milliseconds(50))
        runner.requestStop()
        release.withLock { $0 = true }
        await occupying.value
        try await running.value
        #expect(await eventually(within: .seconds(5)) { outcome.withLock { $0 } != nil })
        #expect(await eventually(within: .seconds(5)) { worker.stops == 1 })
        #expect(worker.state == .stopped && root.stops == 1)
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func anAddedServicesStartAddingAnotherServiceWorks() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let inner = Puppet("inner", log: log)
        let outer = Puppet("outer", log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        outer.nextStarts(.hook { try? await runner.add(inner) })
        try await runner.start()
        try await runner.add(outer)
        #expect(inner.state == .running && outer.state == .running)
        try await runner.stop()
        #expect(inner.stops == 1 && outer.stops == 1)
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func addAndRemoveFromARootsFirstStartOrFromAStopOfTheTreeAreNotRunning() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let extra = Puppet("extra", log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let errors = Locked<[String]>([])
        @Sendable func attempt() async {
            do {
                try await runner.add(extra)
                errors.withLock { $0.append("added") }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
            do {
                try await runner.remove(extra)
                errors.withLock { $0.append("removed") }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        root.nextStarts(.hook { await attempt() })
        root.nextStops(.hook { await attempt() })
        try await runner.start()
        try await runner.stop()
        let notRunning = LifecycleError.notRunning(root.serviceID).description
        #expect(errors.withLock { $0 } == Array(repeating: notRunning, count: 4))
        #expect(notRunning.contains("between start() and the stop request"))
        #expect(extra.starts == 0)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// An added service whose `start()` adds a service that depends on it waits for its own start:
    /// a user's deadlock, but a stop request must still end it (the inner add is cancelled).
    @Test func anAddedServiceAddingItsOwnDependentFromItsStartEndsOnAStopRequest() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let outer = Puppet("outer", log: log)
        let inner = Puppet("inner", [outer], log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let innerOutcome = Locked<(any Error)??>(nil)
        outer.nextStarts(
            .hook {
                do {
                    try await runner.add(inner)
                    innerOutcome.withLock { $0 = .some(nil) }
                } catch {
                    innerOutcome.withLock { $0 = .some(error) }
                }
            })
        try await runner.start()
        let adding = Task { try await runner.add(outer) }
        #expect(await eventually { outer.starts == 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(inner.starts == 0)  // it waits for outer, which waits for it
        let stopping = Task { try await runner.stop() }
        #expect(await eventually(within: .seconds(10)) { innerOutcome.withLock { $0 } != nil })
        _ = await adding.result
        _ = await stopping.result
        #expect(innerOutcome.withLock { $0 } as? CancellationError != nil)
        #expect(inner.starts == 0 && outer.starts == outer.stops + (log.lines.contains("startThrew outer") ? 1 : 0))
        #expect(lifeViolations(log.lines, edges: [("inner", "outer")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Trees sharing a restarting service, stopped and escalated

    /// Two trees share `shared`; its restart's `start()` is slow (ignores cancellation). Stopping,
    /// then escalating, the tree that does not track the restart ends that stop promptly (it is not
    /// the last holder: nothing of the restart is its to wait for); the other tree, which neither
    /// stopped nor escalated, gets `shared` running again and does not fail.
    @Test func escalatingATreeSharingARestartingServiceItDoesNotTrackIsPromptAndSparesTheOther() async throws {
        try await Self.escalateOneOfTwoTreesSharingARestart(escalateTracker: false)
    }

    /// The same with the tree whose runner tracks the restart (its clock times the backoff): its
    /// escalation must not abandon the restart's `start()` that the other tree still needs, and so
    /// must not fail a tree nobody asked to stop.
    @Test func escalatingTheTreeThatTracksASharedRestartDoesNotFailTheOtherTree() async throws {
        try await Self.escalateOneOfTwoTreesSharingARestart(escalateTracker: true)
    }

    static func escalateOneOfTwoTreesSharingARestart(escalateTracker: Bool) async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let gate = Gate()
        let shared = Puppet("shared", policy: Self.eager, log: log)
        let left = Puppet("left", [shared], log: log)
        let right = Puppet("right", [shared], log: log)
        let a = Self.runner(left, coordinator: coordinator)
        let b = Self.runner(right, coordinator: coordinator)
        try await a.start()
        try await b.start()
        let waitingA = Task { try await a.wait() }
        let waitingB = Task { try await b.wait() }
        shared.nextStarts(.hold(gate))
        shared.crash()
        #expect(await eventually { shared.starts == 2 })
        let tracker = await coordinator.restartRunners().first
        let isA = tracker == ObjectIdentifier(a)
        let (stopped, kept) = (isA == escalateTracker) ? (a, b) : (b, a)
        let keptLeaf = kept === a ? left : right
        let done = Locked(false)
        let stopping = Task {
            try? await stopped.stop()
            done.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(20))
        stopped.escalate(signal: 2)
        let prompt = await eventually(within: .seconds(5)) { done.withLock { $0 } }
        #expect(prompt, "the escalated stop waited for another tree's restart")
        gate.open()
        await stopping.value
        // The tree that was never asked to stop keeps running, with shared running again.
        #expect(await eventually(within: .seconds(5)) { keptLeaf.state == .running && shared.state == .running })
        #expect(kept.failure == nil)
        try? await kept.stop()
        _ = await (waitingA.result, waitingB.result)
        #expect(shared.state == .stopped)
        #expect(lifeViolations(log.lines, edges: [("left", "shared"), ("right", "shared")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// A restart of `shared` (held by both trees) stops `right`, which only the right tree holds,
    /// or starts it again; that `stop()` is slow but honours cancellation, that `start()` ignores
    /// it. Escalating the right tree's stop must cut the call short and end promptly (DESIGN §2),
    /// whichever runner tracks the restart; the left tree runs on and does not fail.
    @Test(arguments: [false, true], [false, true])
    func escalatingATreeWhoseServiceARestartStopsOrStartsIsPrompt(duringStart: Bool, escalatedTracks: Bool)
        async throws
    {
        for _ in 0..<20 {
            let coordinator = Coordinator()
            let log = LineLog()
            let released = Locked(false)
            let gate = Gate()
            let shared = Puppet("shared", policy: Self.eager, log: log)
            let left = Puppet("left", [shared], log: log)
            let right = Puppet("right", [shared], log: log)
            let a = Self.runner(left, coordinator: coordinator)
            let b = Self.runner(right, coordinator: coordinator)
            try await a.start()
            try await b.start()
            if duringStart {
                right.nextStarts(.hold(gate))
            } else {
                // The restart stops right first (the newest member): slowly, until cancelled or released.
                right.nextStops(
                    .hook {
                        while !Task.isCancelled && !released.withLock({ $0 }) {
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                    })
            }
            shared.crash()
            #expect(await eventually { duringStart ? right.starts == 2 : log.lines.last == "stop right" })
            guard await (coordinator.restartRunners().first == ObjectIdentifier(b)) == escalatedTracks else {
                // Not the runner this case wants tracking the restart: try again.
                released.withLock { $0 = true }
                gate.open()
                #expect(await eventually { shared.state == .running && left.state == .running })
                #expect(await eventually { right.state == .running })
                try await a.stop()
                try await b.stop()
                continue
            }
            let done = Locked(false)
            let stopping = Task {
                try? await b.stop()
                done.withLock { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(20))
            b.escalate(signal: 2)
            let prompt = await eventually(within: .seconds(5)) { done.withLock { $0 } }
            #expect(prompt, "the escalated stop waited for a restart's call it could not cut short")
            released.withLock { $0 = true }
            gate.open()
            await stopping.value
            #expect(await eventually { left.state == .running && shared.state == .running })
            #expect(a.failure == nil)
            try await a.stop()
            #expect(await eventually { log.lines.last != "start right" })
            #expect(lifeViolations(log.lines, edges: [("left", "shared"), ("right", "shared")]) == [])
            #expect(await Self.eventuallyIdle(coordinator))
            return
        }
        Issue.record("the wanted runner never tracked the restart in 20 tries")
    }

    /// Two trees share a service that keeps crashing while both add and remove services that
    /// depend on it, then both stop at once, one of them escalated. Whatever the interleaving:
    /// nothing hangs, no life overlaps, nothing runs while `shared` is down, every start got one
    /// stop, and the coordinator forgets everything.
    @Test func crashesAddsRemovesAndEscalatedStopsOfTwoTreesSharingAServiceKeepTheRules() async throws {
        for round in 0..<40 {
            let coordinator = Coordinator()
            let log = LineLog()
            let shared = Puppet("shared", policy: Self.eager, log: log)
            let left = Puppet("left", [shared], log: log)
            let right = Puppet("right", [shared], log: log)
            let a = Self.runner(left, coordinator: coordinator)
            let b = Self.runner(right, coordinator: coordinator)
            try await a.start()
            try await b.start()
            var edges = [("left", "shared"), ("right", "shared")]
            var extras: [(Puppet, ServiceRunner)] = []
            for index in 0..<4 {
                let extra = Puppet("extra\(index)", [shared], log: log)
                edges.append(("extra\(index)", "shared"))
                extras.append((extra, index.isMultiple(of: 2) ? a : b))
            }
            let pairs = extras
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<3 {
                        shared.crash()
                        try? await Task.sleep(for: .microseconds(Int64(200 * (round % 5))))
                    }
                }
                for (extra, runner) in pairs {
                    group.addTask {
                        do {
                            try await runner.add(extra)
                            try await runner.remove(extra)
                            try await runner.add(extra)
                        } catch {}
                    }
                }
            }
            // Up again, unless a crash met a restart's start() in flight (the trees then fail, §4).
            let settled = await eventually(within: .seconds(10)) {
                (shared.state == .running && left.state == .running && right.state == .running)
                    || a.failure != nil || b.failure != nil
            }
            #expect(
                settled,
                "round \(round): \(shared.state) \(left.state) \(right.state) \(String(describing: a.failure)) \(String(describing: b.failure))\n\(log.lines.suffix(30).joined(separator: "\n"))"
            )
            for failure in [a.failure, b.failure].compactMap(\.self) {
                #expect(failure as? Boom == Boom(name: "shared"), "round \(round): \(failure)")
            }
            async let stopA: Void = a.stop()
            async let stopB: Void = b.stop()
            b.escalate(signal: 2)
            _ = try? await stopA
            _ = try? await stopB
            #expect(lifeViolations(log.lines, edges: edges) == [], "round \(round)")
            #expect(await Self.eventuallyIdle(coordinator), "round \(round)")
        }
    }

    // MARK: Inspection during restarts and changes

    @Test func snapshotsShutdownStatusAndPlanDuringRestartsAndChangesStayConsistent() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", policy: .onFailure(maxRestarts: .max, backoff: .none), log: log)
        let api = Puppet("api", [cache], log: log)
        let root = Puppet("root", [api], log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let (_, events) = runner.subscribe()
        let collected = collect(events)
        try await runner.start()
        let stopInspecting = Locked(false)
        let inspecting = Task.detached {
            var reads = 0
            while !stopInspecting.withLock({ $0 }) {
                let snapshot = runner.snapshot()
                _ = runner.shutdownStatus().description
                _ = try runner.plan().description
                for (id, state) in snapshot.states where id == root.serviceID {
                    if snapshot.isReady { #expect(state == .running) }
                }
                reads += 1
                await Task.yield()
            }
            return reads
        }
        for round in 0..<20 {
            let extra = Puppet("extra\(round)", [cache], log: log)
            try await runner.add(extra)
            cache.crash()
            #expect(await eventually { cache.starts == round + 2 && extra.state == .running && api.state == .running })
            try await runner.remove(extra)
        }
        stopInspecting.withLock { $0 = true }
        #expect(try await inspecting.value > 0)
        let snapshot = runner.snapshot()
        #expect(snapshot.states[cache.serviceID] == .running && snapshot.states[api.serviceID] == .running)
        try await runner.stop()
        #expect(runner.snapshot().states.values.allSatisfy { $0 == .stopped })
        let all = await collected.value
        #expect(runner.snapshot().eventCount >= all.count)
        expectLegal(all)
        #expect(lifeViolations(log.lines, edges: [("api", "cache"), ("root", "api")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// `subscribe()` in the middle of restarts and changes: the snapshot plus every event after it
    /// gives exactly the states of the final snapshot, and each service's first event after it
    /// starts from the state the snapshot gave (none in both, none lost, DESIGN §12).
    @Test func aSubscriptionDuringRestartsAndChangesReplaysToTheFinalSnapshot() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", policy: .onFailure(maxRestarts: .max, backoff: .none), log: log)
        let api = Puppet("api", [cache], log: log)
        let root = Puppet("root", [api], log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        try await runner.start()
        let churning = Locked(true)
        let churn = Task {
            defer { churning.withLock { $0 = false } }
            for round in 0..<15 {
                let extra = Puppet("extra\(round)", [cache], log: log)
                try await runner.add(extra)
                cache.crash()
                _ = await eventually { cache.starts == round + 2 && extra.state == .running }
                try await runner.remove(extra)
            }
        }
        var subscriptions: [(LifecycleSnapshot, Task<[LifecycleEvent], Never>)] = []
        while churning.withLock({ $0 }) && subscriptions.count < 50 {
            let (snapshot, events) = runner.subscribe()
            subscriptions.append((snapshot, collect(events)))
            try await Task.sleep(for: .microseconds(300))
        }
        try await churn.value
        let afterChurn = runner.snapshot().eventCount
        #expect(subscriptions.contains { $0.0.eventCount < afterChurn })  // some came mid-churn
        try await runner.stop()
        let final = runner.snapshot()
        for (snapshot, collected) in subscriptions {
            var states = snapshot.states
            var seen: Set<ServiceID> = []
            for event in await collected.value where event.isTransition {
                if seen.insert(event.service).inserted, let known = states[event.service] {
                    #expect(event.from == known, "\(event.service.name): \(known) in the snapshot, then \(event.from)")
                }
                states[event.service] = event.to
            }
            for (id, state) in states { #expect(final.states[id] == state, "\(id.name)") }
            #expect(snapshot.eventCount + (await collected.value).count == final.eventCount)
        }
        #expect(lifeViolations(log.lines, edges: [("api", "cache"), ("root", "api")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Huge and tiny policies

    @Test(arguments: [
        RestartPolicy.onFailure(maxRestarts: .max, within: .seconds(Int64.max), backoff: .none),
        .onFailure(
            maxRestarts: .max, within: .seconds(Int64.max),
            backoff: .exponential(initial: .nanoseconds(1), maximum: .seconds(Int64.max))),
        .onFailure(maxRestarts: 1, within: .nanoseconds(1), backoff: .constant(.nanoseconds(1))),
    ])
    func hugeAndTinyPoliciesRestartAnAddedServiceWithoutTrapping(policy: RestartPolicy) async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let worker = Puppet("worker", policy: policy, log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, clock: clock, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        for round in 1...5 {
            worker.crash()
            #expect(await eventually { worker.state == .stopped || worker.starts == round + 1 })
            // Whatever the backoff, advancing the clock far enough ends it (the window of the tiny
            // policy slides past each restart as the clock moves).
            for _ in 0..<50 where worker.starts < round + 1 {
                clock.advance(by: .seconds(1))
                try await Task.sleep(for: .milliseconds(1))
            }
            #expect(await eventually { worker.starts == round + 1 && worker.state == .running })
        }
        runner.requestStop()
        try await running.value
        #expect(lifeViolations(log.lines, edges: []) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    @Test func aPolicyOfZeroRestartsIsFailFastForAnAddedService() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let worker = Puppet("worker", policy: .onFailure(maxRestarts: 0), log: log)
        let root = Puppet("root", log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        let running = Task { try await runner.run() }
        #expect(await eventually { root.state == .running })
        try await runner.add(worker)
        worker.crash()
        await #expect(throws: Boom(name: "worker")) { try await running.value }
        #expect(worker.starts == 1 && worker.stops == 1 && root.stops == 1)
        #expect(await Self.eventuallyIdle(coordinator))
    }
}

extension Coordinator {
    /// Keeps the actor busy (its thread, without suspending) until `release` is set: work sent to it
    /// meanwhile waits in its queue.
    func occupy(until release: Locked<Bool>, occupied: Locked<Bool>) {
        occupied.withLock { $0 = true }
        let deadline = ContinuousClock.now + .seconds(10)
        while !release.withLock({ $0 }), ContinuousClock.now < deadline {}
    }

    /// The runners tracking the restarts in progress (the clock and the escalation of each).
    func restartRunners() -> [ObjectIdentifier] {
        restarts.values.map { ObjectIdentifier($0.runner) }
    }
}
