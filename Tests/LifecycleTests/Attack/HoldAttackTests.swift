import LifecycleTesting
import Testing

@testable import Lifecycle

/// Which trees a background-task failure of a shared service fails (DESIGN §4, §10, §11), attacked
/// the way a careful user runs several trees: a tree holds a service from the moment its walk
/// reaches it (or waits for another tree's start of it) until it lets it go, directly or through a
/// running dependent it shares. A tree that holds it is failed (or sees it restart); a tree that
/// does not hold it goes on and starts it afresh once the failed life is over.
@Suite(.timeLimit(.minutes(1))) struct HoldAttackTests {
    /// A runner on a coordinator of its own, so that what the coordinator keeps is this test's alone.
    static func runner(_ root: any Service, clock: ManualClock = ManualClock(), coordinator: Coordinator)
        -> ServiceRunner
    {
        ServiceRunner(root, observers: [], signals: [], clock: clock, coordinator: coordinator)
    }

    /// Waits until the coordinator keeps nothing (walks and restarts end a moment after the stop).
    static func eventuallyIdle(_ coordinator: Coordinator) async -> Bool {
        await SupervisionChangeAttackTests.eventuallyIdle(coordinator)
    }

    // MARK: Holding through a shared dependent

    /// Tree A starts `api` and its dependency `database`; tree B declares `api` too, finds it
    /// running and counts itself a holder of `api` only. `database`'s task fails: B runs `api`,
    /// which runs on `database`, so B holds `database` as surely as A does and fails with A.
    @Test func aTreeHoldingARunningDependentAnotherTreeStartedFailsWithItsDependency() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", log: log)
        let api = Puppet("api", [database], log: log)
        let runnerA = Self.runner(api, coordinator: coordinator)
        let rootB = Puppet("b-root", [api], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        try await runnerA.start()
        try await runnerB.start()
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        #expect(
            await eventually { runnerB.snapshot().stopCause == .failure },
            "tree B runs api on the failed database and was not failed")
        runnerB.requestStop()
        await #expect(throws: Boom(name: "database")) { try await runnerB.wait() }
        try? await runnerB.stop()
        #expect(database.state == .stopped && api.state == .stopped && rootB.state == .stopped)
        #expect(await eventsB.value.count { $0.kind == .taskFailed && $0.service == database.serviceID } == 1)
        #expect(lifeViolations(log.lines, edges: [("api", "database"), ("b-root", "api")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// The same through `add`: tree B adds `api`, which tree A runs (counted, not started again).
    @Test func aTreeThatAddedARunningDependentFailsWithItsDependency() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", log: log)
        let api = Puppet("api", [database], log: log)
        let runnerA = Self.runner(api, coordinator: coordinator)
        let runnerB = Self.runner(Puppet("b-root", log: log), coordinator: coordinator)
        try await runnerA.start()
        try await runnerB.start()
        try await runnerB.add(api)
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        await #expect(throws: Boom(name: "database")) { try await runnerB.wait() }
        try? await runnerB.stop()
        #expect(database.state == .stopped && api.state == .stopped)
        #expect(lifeViolations(log.lines, edges: [("api", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Tree A added `api` (starting it and `database`), tree B then counted `api`, and A removed it:
    /// `api` runs on for B, and A let go of everything that runs on `database`. A then adds `job`,
    /// which needs `database` after a slow service. A task of `database` failing before A's add
    /// reached it fails B, which holds it through `api`, and not A: A's add waits until that
    /// failed life is over and starts `database` afresh.
    @Test func aTreeThatRemovedASharedDependentIsNotFailedByItsDependency() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", log: log)
        let api = Puppet("api", [database], log: log)
        let runnerA = Self.runner(Puppet("a-root", log: log), coordinator: coordinator)
        let runnerB = Self.runner(Puppet("b-root", [api], log: log), coordinator: coordinator)
        let eventsA = collect(runnerA.events())
        try await runnerA.start()
        try await runnerA.add(api)
        try await runnerB.start()
        try await runnerA.remove(api)
        #expect(api.state == .running && database.state == .running)
        let holdSlow = Gate()
        let slow = Puppet("slow", log: log)
        slow.nextStarts(.hold(holdSlow))
        let job = Puppet("job", [slow, database], log: log)
        let adding = Task { try await runnerA.add(job) }
        #expect(await eventually { slow.starts == 1 })
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerB.wait() }
        try? await runnerB.stop()
        #expect(runnerA.snapshot().isReady, "tree A let database go and was failed by it")
        holdSlow.open()
        try await adding.value
        #expect(database.starts == 2 && database.state == .running && job.state == .running)
        try await runnerA.stop()
        #expect(await eventsA.value.count { $0.kind == .taskFailed } == 0)
        #expect(database.state == .stopped && api.state == .stopped)
        let edges = [("api", "database"), ("b-root", "api"), ("job", "slow"), ("job", "database")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// A tree added `cache`, then `reader`, which runs on it. Removing `reader` stops it and lets
    /// go of the hold `reader` had on `cache`, not of the tree's own addition of `cache`: the tree
    /// still holds `cache` and fails with it.
    @Test func removingADependentKeepsTheTreesOwnAdditionOfItsDependencyHeld() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", log: log)
        let reader = Puppet("reader", [cache], log: log)
        let runner = Self.runner(Puppet("root", log: log), coordinator: coordinator)
        let other = Self.runner(Puppet("other", [cache], log: log), coordinator: coordinator)
        try await runner.start()
        try await runner.add(cache)
        try await runner.add(reader)
        try await other.start()  // a second tree holding cache: no shortcut through a lone holder
        try await runner.remove(reader)
        #expect(cache.state == .running && reader.state == .stopped)
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await other.wait() }
        #expect(
            await eventually { runner.snapshot().stopCause == .failure },
            "the tree still holds its own addition of cache and was not failed")
        runner.requestStop()
        try? await runner.stop()
        try? await other.stop()
        #expect(cache.state == .stopped)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Joining a failed life

    /// `database`'s task fails while tree A still holds it (A's stop is held at its root) and tree
    /// B is still walking towards it. B must not join that failed life (no tree would ever be told
    /// of it again: it would run on, broken): B waits until A's stop has stopped it, then starts it
    /// afresh, and a later failure of the new life fails B.
    @Test func aTreeReachingAServiceWhoseTaskFailedWaitsForThatLifeToEndAndStartsItAfresh() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", log: log)
        let holdRootA = Gate()
        let rootA = Puppet("a-root", [database], log: log)
        rootA.nextStops(.hold(holdRootA))
        let runnerA = Self.runner(rootA, coordinator: coordinator)
        try await runnerA.start()
        let holdSlow = Gate()
        let slow = Puppet("slow", log: log)
        slow.nextStarts(.hold(holdSlow))
        let rootB = Puppet("b-root", [slow, database], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startB = Task { try await runnerB.start() }
        #expect(await eventually { slow.starts == 1 })
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        #expect(await eventually { rootA.stops == 1 })  // A's stop holds at its root: database still runs
        holdSlow.open()
        #expect(await eventually { slow.state == .running })
        try await Task.sleep(for: .milliseconds(20))  // B reaches database
        holdRootA.open()
        try await startB.value
        #expect(database.starts == 2 && database.stops == 1 && database.state == .running)
        #expect(runnerB.snapshot().isReady)
        database.crash()  // the new life is B's
        await #expect(throws: Boom(name: "database")) { try await runnerB.wait() }
        try? await runnerB.stop()
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 1)
        #expect(lifeViolations(log.lines, edges: [("a-root", "database"), ("b-root", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Tree B reaches `api`, which runs on `database`, after `database`'s task failed tree A (whose
    /// stop holds at its root), then needs `database` itself. B must not join `api`'s life either:
    /// it would hold `database`'s failed life up through `api` while it waits for that life to end
    /// (a deadlock, found by the fault injection). B waits at `api`, and once A let both go it
    /// starts both afresh.
    @Test func aTreeReachingADependentOfAFailedServiceWaitsForItToo() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", log: log)
        let api = Puppet("api", [database], log: log)
        let holdRootA = Gate()
        let rootA = Puppet("a-root", [api], log: log)
        rootA.nextStops(.hold(holdRootA))
        let runnerA = Self.runner(rootA, coordinator: coordinator)
        try await runnerA.start()
        let holdSlow = Gate()
        let slow = Puppet("slow", log: log)
        slow.nextStarts(.hold(holdSlow))
        let rootB = Puppet("b-root", [slow, api, database], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let startedB = Locked(false)
        let startB = Task {
            try await runnerB.start()
            startedB.withLock { $0 = true }
        }
        #expect(await eventually { slow.starts == 1 })
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        #expect(await eventually { rootA.stops == 1 })  // A's stop holds at its root
        holdSlow.open()
        #expect(await eventually { slow.state == .running })
        try await Task.sleep(for: .milliseconds(20))  // B reaches api
        holdRootA.open()
        #expect(await eventually { startedB.withLock { $0 } }, "tree B waits forever for database's failed life")
        try await startB.value
        #expect(database.starts == 2 && api.starts == 2 && rootB.state == .running)
        try await runnerB.stop()
        let edges = [("a-root", "api"), ("api", "database"), ("b-root", "api"), ("b-root", "database")]
        #expect(lifeViolations(log.lines, edges: edges + [("b-root", "slow")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// `database` restarts with `api` (its dependent), and `api`'s restart `start()` is held. Tree B
    /// waits for `api`. `database` crashes again with its window full: tree A fails; `api` is not
    /// marked failed (the restart holds it). Once its start returns, B (first in line) counts it
    /// and so holds `database`'s failed life through it: when B reaches `database` it fails with
    /// it rather than wait for that life to end, which would wait for itself (the fault injection
    /// found that hang). Nothing is left up.
    @Test func aTreeThatCountedADependentARestartBroughtBackNeverWaitsForItsOwnFailedLife() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(1, delay: .zero), log: log)
        let api = Puppet("api", [database], log: log)
        let runnerA = Self.runner(Puppet("a-root", [api], log: log), coordinator: coordinator)
        try await runnerA.start()
        let holdApi = Gate()
        api.nextStarts(.hold(holdApi))
        database.crash()
        #expect(await eventually { api.starts == 2 && database.state == .running })
        let rootB = Puppet("b-root", [api, database], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let startedB = Locked<Result<Void, any Error>?>(nil)
        let startB = Task {
            do {
                try await runnerB.start()
                startedB.withLock { $0 = .success(()) }
            } catch {
                startedB.withLock { $0 = .failure(error) }
            }
        }
        try await Task.sleep(for: .milliseconds(20))  // B waits for api's restart start
        database.crash()  // the window is full: fail fast
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        try await Task.sleep(for: .milliseconds(20))  // A's stop waits for api's restart start too
        holdApi.open()
        #expect(await eventually { startedB.withLock { $0 } != nil }, "tree B waits for a failed life it holds")
        _ = await startB.result
        if case .failure(let error) = startedB.withLock({ $0 })! {
            #expect(error as? Boom == Boom(name: "database"))
        } else {
            #expect(database.starts == 3 && rootB.state == .running)
        }
        try? await runnerA.stop()
        try? await runnerB.stop()
        #expect(database.state != .running && api.state != .running)
        let edges = [("a-root", "api"), ("api", "database"), ("b-root", "api"), ("b-root", "database")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// The same while the failed life still starts: `database`'s task fails during its `start()`,
    /// which ignores the cancellation of tree A's failed start and returns within its grace time.
    /// Tree B, arriving after the failure, must not join that life (nobody would tell it): it waits
    /// until A has let it go, then starts it afresh.
    @Test func aTreeArrivingAtAStartWhoseTaskFailedDoesNotJoinThatLife() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()  // never advanced: the cancelled start keeps its grace time
        let database = FailingWhileStarting()
        let rootA = ClosureService(name: "a-root", dependencies: [database])
        let runnerA = Self.runner(rootA, clock: clock, coordinator: coordinator)
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { database.state == .starting })
        database.failNow.open()
        #expect(await eventually { runnerA.snapshot().stopCause == .failure })
        let rootB = ClosureService(name: "b-root", dependencies: [database])
        let runnerB = Self.runner(rootB, clock: clock, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(20))  // B reaches database, still starting
        database.finishStart.open()
        _ = await startA.result
        await #expect(throws: ProbeError(name: "database")) { try await runnerA.wait() }
        try await startB.value
        #expect(database.starts == 2 && database.state == .running && rootB.state == .running)
        try await runnerB.stop()
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 0)
        #expect(database.state == .stopped)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Restarts and holds

    /// `database` restarts for tree A; tree B, which has not reached it, waits in its backoff. The
    /// restart's `start()` throws and the window is full: A fails (fail-fast). B never held it, so B
    /// is not failed: once A let it go, B starts it afresh.
    @Test func aRestartThatGivesUpDoesNotFailATreeWaitingToReachTheService() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let database = Puppet("database", policy: restarting(1, delay: .seconds(1)), log: log)
        let runnerA = Self.runner(database, clock: clock, coordinator: coordinator)
        try await runnerA.start()
        database.failEveryStart()
        database.crash()
        #expect(await eventually { database.state == .stopped && clock.hasSleeper(wakingIn: .seconds(1)) })
        let rootB = Puppet("b-root", [database], log: log)
        let runnerB = Self.runner(rootB, clock: clock, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(20))  // B parks: database is down in its backoff
        clock.advance(by: .seconds(1))  // the restart's start throws; no second restart
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        database.failEveryStart(false)
        try await startB.value
        #expect(database.starts == 3 && database.state == .running && rootB.state == .running)
        let cause = runnerB.snapshot().stopCause
        #expect(cause == nil)
        try await runnerB.stop()
        let received = await eventsB.value
        #expect(!received.contains { $0.kind == .restartScheduled(attempt: 1, delay: .seconds(1)) })
        expectLegal(received)
        #expect(lifeViolations(log.lines, edges: [("b-root", "database")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Tree B's root is still starting its first dependency when `cache`, which it needs next,
    /// crashes and restarts for tree A. B does not hold `cache` yet, but the restart takes B's root
    /// (it depends on `cache`): B hears why (the task's failure, then the restart scheduled, as
    /// DESIGN §10 orders them), waits for the restart, and starts.
    @Test func aTreeWhoseStartingRootARestartTakesHearsOfTheFailure() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let cache = Puppet("cache", policy: restarting(3, delay: .seconds(1)), log: log)
        let runnerA = Self.runner(cache, clock: clock, coordinator: coordinator)
        try await runnerA.start()
        let holdSlow = Gate()
        let slow = Puppet("slow", log: log)
        slow.nextStarts(.hold(holdSlow))
        let rootB = Puppet("b-root", [slow, cache], log: log)
        let runnerB = Self.runner(rootB, clock: clock, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startB = Task { try await runnerB.start() }
        #expect(await eventually { slow.starts == 1 })
        cache.crash()
        #expect(await eventually { cache.state == .stopped && clock.hasSleeper(wakingIn: .seconds(1)) })
        holdSlow.open()
        try await Task.sleep(for: .milliseconds(20))  // B waits for cache's restart
        clock.advance(by: .seconds(1))
        try await startB.value
        #expect(cache.starts == 2 && rootB.state == .running)
        try await runnerB.stop()
        try await runnerA.stop()
        let kinds = await eventsB.value.filter { $0.service == cache.serviceID && !$0.isTransition }.map(\.kind)
        #expect(kinds == [.taskFailed, .restartScheduled(attempt: 1, delay: .seconds(1))])
        #expect(lifeViolations(log.lines, edges: [("b-root", "slow"), ("b-root", "cache")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Trees A and B hold `cache`. B stops: it lets `cache` go (A keeps it), and its stop then
    /// holds at another service. `cache` restarts meanwhile for A alone: B, which let it go, hears
    /// nothing of that restart (it did not hear the task fail either), and its stream ends with
    /// nothing of `cache` left up.
    @Test func aRestartIsNotReportedToATreeThatLetTheServiceGo() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", policy: SupervisionChangeAttackTests.eager, log: log)
        let runnerA = Self.runner(Puppet("a-root", [cache], log: log), coordinator: coordinator)
        let holdQueue = Gate()
        let queue = Puppet("queue", log: log)
        queue.nextStops(.hold(holdQueue))
        let rootB = Puppet("b-root", [queue, cache], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        try await runnerA.start()
        try await runnerB.start()
        let eventsB = collect(runnerB.events())
        let stopB = Task { try await runnerB.stop() }
        #expect(await eventually { queue.stops == 1 })  // B let cache go, and holds at queue
        cache.crash()
        #expect(await eventually { cache.starts == 2 && cache.state == .running })
        holdQueue.open()
        try await stopB.value
        let received = await eventsB.value
        #expect(!received.contains { $0.service == cache.serviceID }, "\(lines(received))")
        expectLegal(received)
        try await runnerA.stop()
        #expect(lifeViolations(log.lines, edges: [("a-root", "cache"), ("b-root", "cache")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// The intensity window of a shared service is one window, whichever tree's runner happens to
    /// time a restart. Runner B is made 100 s after runner A on one clock. `cache` restarts once
    /// for A; A stops, B holds `cache` on; 61 s later (past the 60 s window) it fails again: one
    /// restart within the window, so it restarts, not fail-fast.
    @Test func theIntensityWindowOfASharedServiceDoesNotDependOnWhichRunnerTimesTheRestart() async throws {
        let coordinator = Coordinator()
        let clock = ManualClock()
        let log = LineLog()
        let cache = Puppet("cache", policy: restarting(1, delay: .zero), log: log)
        let runnerA = Self.runner(cache, clock: clock, coordinator: coordinator)
        clock.advance(by: .seconds(100))
        let runnerB = Self.runner(Puppet("b-root", [cache], log: log), clock: clock, coordinator: coordinator)
        try await runnerA.start()
        cache.crash()
        #expect(await eventually { cache.starts == 2 && cache.state == .running })
        try await runnerB.start()
        try await runnerA.stop()
        #expect(cache.state == .running)
        clock.advance(by: .seconds(61))
        cache.crash()
        #expect(await eventually { cache.starts == 3 || runnerB.snapshot().stopCause != nil })
        #expect(cache.starts == 3 && runnerB.snapshot().stopCause == nil)
        try? await runnerB.stop()
        #expect(lifeViolations(log.lines, edges: [("b-root", "cache")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Trees A and B run on `cache`; it crashes and restarts with both roots (its dependents).
    /// Tree C counts `cache` after that restart; tree D is still walking towards it. `cache` then
    /// crashes again with its window full: A, B and C (the holders after the restart) fail; D,
    /// which never reached it, goes on and starts it afresh.
    @Test func afterARestartTheHoldersOfTheNewLifeFailWithItAndAWalkingTreeGoesOn() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", policy: restarting(1, delay: .zero), log: log)
        let rootA = Puppet("a-root", [cache], log: log)
        let rootB = Puppet("b-root", [cache], log: log)
        let rootC = Puppet("c-root", [cache], log: log)
        let (runnerA, runnerB, runnerC) = (
            Self.runner(rootA, coordinator: coordinator), Self.runner(rootB, coordinator: coordinator),
            Self.runner(rootC, coordinator: coordinator)
        )
        try await runnerA.start()
        try await runnerB.start()
        cache.crash()
        #expect(await eventually { cache.starts == 2 && rootA.starts == 2 && rootB.starts == 2 })
        #expect(await eventually { rootA.state == .running && rootB.state == .running })
        try await runnerC.start()
        let holdSlow = Gate()
        let slow = Puppet("slow", log: log)
        slow.nextStarts(.hold(holdSlow))
        let rootD = Puppet("d-root", [slow, cache], log: log)
        let runnerD = Self.runner(rootD, coordinator: coordinator)
        let startD = Task { try await runnerD.start() }
        #expect(await eventually { slow.starts == 1 })
        cache.crash()  // the window holds one restart already: fail fast
        for runner in [runnerA, runnerB, runnerC] {
            await #expect(throws: Boom(name: "cache")) { try await runner.wait() }
        }
        #expect(await eventually { cache.state == .stopped })
        holdSlow.open()
        try await startD.value
        #expect(cache.starts == 3 && cache.state == .running && runnerD.snapshot().isReady)
        for runner in [runnerA, runnerB, runnerC, runnerD] { try? await runner.stop() }
        #expect(cache.state == .stopped && cache.stops == 3)
        let edges = [("a-root", "cache"), ("b-root", "cache"), ("c-root", "cache"), ("d-root", "cache")]
        #expect(lifeViolations(log.lines, edges: edges + [("d-root", "slow")]) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Tree B's start fails at its last dependency while it holds `cache` (shared with tree A) and
    /// its rollback is held at another service. `cache`'s task fails meanwhile: both trees hold it
    /// and both hear of it; B's start throws the task's failure (as a start failed by a task does,
    /// DESIGN §4), A fails, nothing is left up.
    @Test func aTaskFailingWhileATreeRollsBackFailsEveryTreeStillHoldingIt() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", log: log)
        let runnerA = Self.runner(Puppet("a-root", [cache], log: log), coordinator: coordinator)
        try await runnerA.start()
        let holdQueue = Gate()
        let queue = Puppet("queue", log: log)
        queue.nextStops(.hold(holdQueue))
        let broken = Puppet("broken", log: log)
        broken.nextStarts(.fail)
        let rootB = Puppet("b-root", [cache, queue, broken], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startB = Task { try await runnerB.start() }
        #expect(await eventually { queue.stops == 1 })  // B's rollback holds at queue; cache is next
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await runnerA.wait() }
        holdQueue.open()
        await #expect(throws: Boom(name: "cache")) { try await startB.value }
        try? await runnerA.stop()
        #expect(cache.state == .stopped && queue.state == .stopped && rootB.starts == 0)
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 1)
        let edges = [("a-root", "cache"), ("b-root", "cache"), ("b-root", "queue"), ("b-root", "broken")]
        #expect(lifeViolations(log.lines, edges: edges) == [])
        #expect(await Self.eventuallyIdle(coordinator))
    }

    // MARK: Holds counted and released

    /// Tree B waits for tree A's start of `database` and is cancelled while it waits: it lets the
    /// service go. A task of that life failing afterwards fails A, not B (B's start threw already).
    @Test func aTreeCancelledWhileWaitingForAnotherTreesStartIsNotFailedByThatLife() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let holdStart = Gate()
        let database = Puppet("database", log: log)
        database.nextStarts(.hold(holdStart))
        let runnerA = Self.runner(database, coordinator: coordinator)
        let rootB = Puppet("b-root", [database], log: log)
        let runnerB = Self.runner(rootB, coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { database.starts == 1 })
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(20))  // B parks in database's start
        startB.cancel()
        await #expect(throws: CancellationError.self) { try await startB.value }
        holdStart.open()
        try await startA.value
        database.crash()
        await #expect(throws: Boom(name: "database")) { try await runnerA.wait() }
        try? await runnerA.stop()
        try? await runnerB.stop()
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 0)
        #expect(rootB.starts == 0 && database.state == .stopped)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// A tree holds `cache` twice: declared, and through an added `reader`. Removing `reader` lets
    /// one hold go; the tree still holds `cache` and fails with it.
    @Test func aTreeHoldingAServiceTwiceStillFailsWithItAfterRemovingOneHolder() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", log: log)
        let reader = Puppet("reader", [cache], log: log)
        let root = Puppet("root", [cache], log: log)
        let runner = Self.runner(root, coordinator: coordinator)
        try await runner.start()
        try await runner.add(reader)
        try await runner.remove(reader)
        #expect(cache.state == .running && reader.state == .stopped)
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await runner.wait() }
        try? await runner.stop()
        #expect(cache.state == .stopped)
        #expect(await Self.eventuallyIdle(coordinator))
    }

    /// Tree B added `reader`, which runs on tree A's `cache`, then removed it: B let `cache` go. A
    /// task of `cache` failing afterwards fails A, and B runs on untold.
    @Test func aTreeThatRemovedItsHolderOfASharedServiceIsNotFailedByItsTask() async throws {
        let coordinator = Coordinator()
        let log = LineLog()
        let cache = Puppet("cache", log: log)
        let reader = Puppet("reader", [cache], log: log)
        let runnerA = Self.runner(Puppet("a-root", [cache], log: log), coordinator: coordinator)
        let runnerB = Self.runner(Puppet("b-root", log: log), coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        try await runnerA.start()
        try await runnerB.start()
        try await runnerB.add(reader)
        try await runnerB.remove(reader)
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await runnerA.wait() }
        try? await runnerA.stop()
        #expect(runnerB.snapshot().isReady)
        try await runnerB.stop()
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 0)
        #expect(await Self.eventuallyIdle(coordinator))
    }
}

/// A service whose first life's `start()` adds a task that throws `ProbeError("database")` once
/// `failNow` opens, then waits for `finishStart` (ignoring cancellation) before it returns. Later
/// lives start at once and their tasks never throw.
private final class FailingWhileStarting: Service, Sendable {
    let failNow = Gate()
    let finishStart = Gate()
    let name = "database"
    private let count = Locked(0)

    var starts: Int { count.withLock { $0 } }

    func start() async throws {
        let life = count.withLock { count in
            count += 1
            return count
        }
        guard life == 1 else { return }
        try addTask { [failNow] in
            await failNow.wait()
            throw ProbeError(name: "database")
        }
        await finishStart.wait()
    }
}
