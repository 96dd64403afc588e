import Foundation
import Testing

@testable import Lifecycle

/// Counts starts/stops of a closure-driven service.
final class Calls: Sendable {
    private let state = Locked((starts: 0, stops: 0))
    func started() { state.withLock { $0.starts += 1 } }
    func stopped() { state.withLock { $0.stops += 1 } }
    var starts: Int { state.withLock { $0.starts } }
    var stops: Int { state.withLock { $0.stops } }
}

private func makeRunner(_ service: any Service, coordinator: Coordinator = Coordinator()) -> ServiceRunner {
    ServiceRunner(service, observers: [], signals: [], clock: ContinuousClock(), coordinator: coordinator)
}

private func outcomeOf(_ body: () async throws -> Void) async -> Result<Void, any Error> {
    do {
        try await body()
        return .success(())
    } catch { return .failure(error) }
}

private func eventuallyIdle(_ coordinator: Coordinator) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while await !coordinator.isIdle {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// Attacks on the immediate-task starts, the machine's waiters and the wind-down of failed lives.
@Suite(.timeLimit(.minutes(1))) struct Attack2Tests {
    // MARK: stop requested from inside a synchronous start()

    @Test func startThatRequestsStopBeforeItsFirstSuspensionIsRolledBackCleanly() async throws {
        for _ in 0..<20 {
            let box = RunnerBox()
            let calls = Calls()
            let dep = ClosureService(name: "dep") {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let root = ClosureService(name: "root", dependencies: [dep]) {
                calls.started()
                box.runner?.requestStop()
            } stop: {
                calls.stopped()
            }
            let coordinator = Coordinator()
            let runner = makeRunner(root, coordinator: coordinator)
            box.runner = runner
            let events = collect(runner.events())
            try await runner.run()  // a stop requested during the start: run() returns normally
            expectLegal(await events.value)
            #expect(calls.starts == 2)
            #expect(calls.stops == 2, "every started service stopped exactly once")
            #expect(root.state == .stopped && dep.state == .stopped)
            #expect(await coordinator.isIdle)
        }
    }

    @Test func startThatCallsStopOnItsOwnRunnerBeforeSuspendingStopsTheTree() async throws {
        let box = RunnerBox()
        let calls = Calls()
        let root = ClosureService(name: "root") {
            calls.started()
            try await box.runner?.stop()  // own work: requests the stop, returns at once
        } stop: {
            calls.stopped()
        }
        let coordinator = Coordinator()
        let runner = makeRunner(root, coordinator: coordinator)
        box.runner = runner
        let events = collect(runner.events())
        _ = try? await runner.start()
        #expect(await eventually(within: .seconds(5)) { root.state == .stopped })
        try? await runner.stop()
        expectLegal(await events.value)
        #expect(calls.starts == 1 && calls.stops == 1)
        #expect(await eventually(within: .seconds(5)) { calls.stops == 1 })
    }

    // MARK: synchronous throws and tasks

    @Test func synchronousThrowRollsBackAndALaterLifeStartsAtOnce() async throws {
        let calls = Calls()
        let dep = ClosureService(name: "dep") {
            calls.started()
        } stop: {
            calls.stopped()
        }
        let fail = Locked(true)
        let root = ClosureService(name: "root", dependencies: [dep]) {
            if fail.withLock({ $0 }) { throw ProbeError(name: "sync") }
        }
        let coordinator = Coordinator()
        let first = makeRunner(root, coordinator: coordinator)
        let events = collect(first.events())
        await #expect(throws: ProbeError(name: "sync")) { try await first.start() }
        expectLegal(await events.value)
        #expect(root.state == .failed && dep.state == .stopped && calls.stops == 1)
        fail.withLock { $0 = false }
        let second = makeRunner(root, coordinator: coordinator)
        let clock = ContinuousClock()
        let began = clock.now
        try await second.start()
        #expect(clock.now - began < .seconds(2), "no wind-down wait for a start that already returned")
        #expect(root.isRunning)
        try await second.stop()
        #expect(await coordinator.isIdle)
    }

    @Test func startThatAddsATaskThenThrowsSynchronouslyEndsTheTaskBeforeThrowing() async throws {
        let service = ScriptedService("s", starts: [.fail, .fail, .succeed], addsTask: true)
        let coordinator = Coordinator()
        for round in 1...2 {
            let runner = makeRunner(service, coordinator: coordinator)
            await #expect(throws: ProbeError.self) { try await runner.start() }
            #expect(service.ledger.began == round)
            #expect(service.ledger.ended == round, "the failed start's task ended before the error went on")
        }
        let runner = makeRunner(service, coordinator: coordinator)
        try await runner.start()
        #expect(service.isRunning)
        try await runner.stop()
        #expect(service.stopCount == 1)
        #expect(await eventually { service.ledger.ended == 3 })
        #expect(await coordinator.isIdle)
    }

    @Test func failuresInTwoConcurrentTreesWithTasksNeitherHangNorLeak() async throws {
        for _ in 0..<20 {
            let service = ScriptedService("s", starts: [.fail], addsTask: true, gracefulShutdownTimeout: .seconds(2))
            let a = ClosureService(name: "a", dependencies: [service])
            let b = ClosureService(name: "b", dependencies: [service])
            let coordinator = Coordinator()
            let ra = makeRunner(a, coordinator: coordinator)
            let rb = makeRunner(b, coordinator: coordinator)
            let x = Task { try await ra.start() }
            let y = Task { try await rb.start() }
            let rx = await x.result
            let ry = await y.result
            #expect((try? rx.get()) == nil && (try? ry.get()) == nil)
            #expect(service.stopCount == 0)
            #expect(await eventually { service.ledger.began == service.ledger.ended })
            #expect(await eventuallyIdle(coordinator))
        }
    }

    @Test func startThatAddsATaskAndReturnsSynchronouslyStopsOnceWithItsTask() async throws {
        let service = ScriptedService("s", addsTask: true)
        let coordinator = Coordinator()
        let runner = makeRunner(service, coordinator: coordinator)
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        expectLegal(await events.value)
        #expect(service.stopCount == 1 && service.ledger.ended == 1)
        #expect(await coordinator.isIdle)
    }

    // MARK: task-locals

    @Test func startAndItsTasksSeeTheirRunnerBeforeAndAfterSuspending() async throws {
        let box = RunnerBox()
        let seen = Locked<[String: Bool]>([:])
        let root = ClosureService(name: "root") {
            let mine = box.runner.map(ObjectIdentifier.init)
            seen.withLock { $0["sync"] = ServiceRunner.currentRunner == mine }
            try box.service?.addTask {
                seen.withLock { $0["task"] = ServiceRunner.currentRunner == mine }
            }
            try await Task.sleep(for: .milliseconds(5))
            seen.withLock { $0["after"] = ServiceRunner.currentRunner == mine }
        }
        box.service = root
        let runner = makeRunner(root)
        box.runner = runner
        #expect(ServiceRunner.currentRunner == nil)
        try await runner.start()
        #expect(ServiceRunner.currentRunner == nil, "the immediate task's task-local must not leak to the caller")
        #expect(await eventually { seen.withLock { $0.count } == 3 })
        #expect(seen.withLock { $0 } == ["sync": true, "task": true, "after": true])
        try await runner.stop()
    }

    // MARK: starts that block their thread

    /// README: a cancelled start() that ignores cancellation is abandoned after its grace; an
    /// escalation abandons it at once. A start() that never suspends (blocks its thread) now runs
    /// inline on the walk's thread inside `Task.immediate`, so nothing can abandon it.
    @Test func escalationAbandonsAStartThatBlocksWithoutSuspending() async throws {
        let release = Locked(false)
        let inStart = Locked(false)
        let service = GracefulService(name: "spinner", grace: .milliseconds(100)) { _ in
            inStart.withLock { $0 = true }
            // Blocks its thread for up to a minute unless released: far longer than any wait below.
            let deadline = ContinuousClock.now + .seconds(60)
            while !release.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(1000) }
        }
        let runner = makeRunner(service)
        let clock = ContinuousClock()
        let began = clock.now
        let outcome = Task { () -> (Result<Void, any Error>, Duration) in
            let result = await outcomeOf { try await runner.run() }
            return (result, clock.now - began)
        }
        #expect(await eventually { inStart.withLock { $0 } })
        runner.requestStop()
        runner.escalate(signal: 2)
        let (result, elapsed) = await outcome.value
        release.withLock { $0 = true }
        // Not a timing goal: a generous bound between "abandoned" and "waited out the blocked start".
        #expect(elapsed < .seconds(30), "run() waited \(elapsed) for a start that escalation should abandon")
        #expect(throws: LifecycleError.self) { try result.get() }
    }

    /// README: "A start() that throws (or passes startTimeout) …" is a failure. A start() that blocks
    /// its thread past its startTimeout before its first suspension is timed out when the
    /// cooperative pool has a thread left for the timer (each start runs in a task of its own since
    /// issue 10): it passes alone, and fails when the whole suite keeps both threads of a 2-core
    /// machine busy.
    @Test(
        .disabled(
            "known limit, left: a start() that blocks its thread without suspending can outrun its startTimeout when every thread of the cooperative pool is busy"
        ))
    func startTimeoutAppliesToAStartThatBlocksWithoutSuspending() async throws {
        final class Slow: Service {
            let name = "slow-sync"
            var startTimeout: Duration? { .milliseconds(50) }
            func start() async throws { usleep(400_000) }
        }
        let service = Slow()
        let runner = makeRunner(service)
        await #expect(throws: LifecycleError.self) { try await runner.start() }
        try? await runner.stop()
        if service.isRunning { try? await runner.stop() }
    }

    // MARK: parallel leaves that request a stop synchronously

    @Test func stopRequestedSynchronouslyByOneParallelLeafStopsEveryStartedLeafOnce() async throws {
        for round in 0..<30 {
            let box = RunnerBox()
            let calls = Calls()
            let leaves: [ClosureService] = (0..<8).map { index in
                ClosureService(name: "leaf\(index)") {
                    calls.started()
                    if index == round % 8 { box.runner?.requestStop() }
                } stop: {
                    calls.stopped()
                }
            }
            let root = ClosureService(name: "root", dependencies: [Parallel(leaves)]) {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let coordinator = Coordinator()
            let runner = makeRunner(root, coordinator: coordinator)
            box.runner = runner
            let events = collect(runner.events())
            try await runner.run()
            expectLegal(await events.value)
            #expect(calls.starts == calls.stops, "round \(round): started \(calls.starts) stopped \(calls.stops)")
            #expect(await coordinator.isIdle)
        }
    }

    @Test func cancellingRunWhileParallelLeavesStartSynchronously() async throws {
        for _ in 0..<30 {
            let calls = Calls()
            let leaves: [ClosureService] = (0..<16).map { index in
                ClosureService(name: "leaf\(index)") {
                    calls.started()
                } stop: {
                    calls.stopped()
                }
            }
            let root = ClosureService(name: "root", dependencies: [Parallel(leaves)]) {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let coordinator = Coordinator()
            let runner = makeRunner(root, coordinator: coordinator)
            let events = collect(runner.events())
            let run = Task { try await runner.run() }
            await Task.yield()
            run.cancel()
            _ = await run.result
            expectLegal(await events.value)
            #expect(calls.starts == calls.stops)
            #expect(await eventuallyIdle(coordinator))
        }
    }

    // MARK: abandoned start that never returns, and another tree

    @Test func anotherTreeWaitingForAnAbandonedStartCanStillBeStoppedPromptly() async throws {
        let gate = Gate()
        let service = ScriptedService(
            "stuck", starts: [.ignoreCancellationUntil(gate), .succeed], addsTask: true,
            gracefulShutdownTimeout: .milliseconds(100))
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let firstRun = Task { try await first.run() }
        #expect(await eventually { service.startCount == 1 })
        first.requestStop()
        let firstResult = await firstRun.result
        #expect(throws: LifecycleError.self) { try firstResult.get() }
        #expect(service.state == .failed)
        // A second tree wants the service while its abandoned start() is still in flight.
        let second = makeRunner(service, coordinator: coordinator)
        let secondStarted = Locked(false)
        let secondRun = Task {
            defer { secondStarted.withLock { $0 = true } }
            try await second.run()
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(service.startCount == 1, "no new life while the failed one winds down")
        let clock = ContinuousClock()
        let began = clock.now
        second.requestStop()
        _ = await secondRun.result
        #expect(clock.now - began < .seconds(2), "the waiting tree's stop must be bounded")
        gate.open()
        #expect(await eventually { service.stopCount == 1 }, "a late success is stopped")
        #expect(await eventually { service.ledger.began == service.ledger.ended })
        #expect(await eventuallyIdle(coordinator))
    }

    /// The abandoned start() returns within the service's gracefulShutdownTimeout (1 s) of the
    /// second tree's wait: that tree starts the service once the late success was stopped.
    @Test func aTreeWaitingForAnAbandonedStartStartsTheServiceOnceItReturns() async throws {
        let gate = Gate()
        let service = ScriptedService(
            "late", starts: [.ignoreCancellationUntil(gate), .succeed], gracefulShutdownTimeout: .seconds(1))
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let firstRun = Task { try await first.run() }
        #expect(await eventually { service.startCount == 1 })
        first.requestStop()
        _ = await firstRun.result
        let second = makeRunner(service, coordinator: coordinator)
        let events = collect(second.events())
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(100))
        gate.open()
        try await secondStart.value
        #expect(service.isRunning)
        #expect(service.startCount == 2 && service.stopCount == 1, "late success stopped before the new life")
        try await second.stop()
        #expect(service.stopCount == 2)
        expectLegal(await events.value)
        #expect(await coordinator.isIdle)
    }

    // MARK: two coordinators sharing a service (internal injection)

    /// README "Sharing": a service already running in another tree starts once and stops once, when
    /// the last holder stopped. Two runners on different coordinators do not share one machine.
    @Test(
        .disabled(
            "known limit, left: two coordinators (an internal, test-only injection) each count holders of a shared service"
        ))
    func twoCoordinatorsSharingAServiceDoNotStopItUnderTheOtherTree() async throws {
        let calls = Calls()
        let shared = ClosureService(name: "shared") {
            calls.started()
        } stop: {
            calls.stopped()
        }
        let rootB = ClosureService(name: "rootB", dependencies: [shared])
        let a = makeRunner(shared, coordinator: Coordinator())
        let b = makeRunner(rootB, coordinator: Coordinator())
        try await a.start()
        try await b.start()
        #expect(calls.starts == 1)
        try await b.stop()
        #expect(shared.isRunning, "tree B stopped a service tree A still holds")
        try await a.stop()
        #expect(calls.stops == 1, "stop() called \(calls.stops) times")
    }

    /// Two coordinators, one service still starting in the first: the second tree's machine is made
    /// from the table's `starting` and parks for a start its coordinator never drives.
    @Test(.disabled("known limit, left: a second coordinator waits on a start only the first one drives"))
    func secondCoordinatorJoiningAServiceStillStartingDoesNotWaitForever() async throws {
        let gate = Gate()
        let service = ScriptedService("slow", starts: [.ignoreCancellationUntil(gate)])
        let rootB = ClosureService(name: "rootB", dependencies: [service])
        let a = makeRunner(service, coordinator: Coordinator())
        let b = makeRunner(rootB, coordinator: Coordinator())
        let aStart = Task { try await a.start() }
        #expect(await eventually { service.startCount == 1 })
        let bDone = Locked(false)
        let bStart = Task {
            defer { bDone.withLock { $0 = true } }
            try await b.start()
        }
        try await Task.sleep(for: .milliseconds(50))
        gate.open()
        try await aStart.value
        let finished = await eventually(within: .seconds(2)) { bDone.withLock { $0 } }
        #expect(finished, "tree B on another coordinator never finished starting a service that is running")
        if !finished { b.requestStop() }
        _ = await bStart.result
        try? await b.stop()
        try? await a.stop()
        #expect(service.stopCount <= 1, "stop() called \(service.stopCount) times")
    }

    /// A late success of an abandoned start is stopped (`stopLateStart`), and every new life of the
    /// service waits for that stop. One that hangs does not hold the next start forever: after the
    /// service's gracefulShutdownTimeout (100 ms) that start fails with `earlierStartStillRunning`;
    /// once the stop returned, the service starts again.
    @Test func aHangingStopOfALateSuccessDoesNotBlockTheNextLifeForever() async throws {
        let gate = Gate()
        let stopGate = Gate()
        let service = ScriptedService(
            "late-hang", starts: [.ignoreCancellationUntil(gate), .succeed, .succeed], stopGate: stopGate,
            gracefulShutdownTimeout: .milliseconds(100))
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let firstRun = Task { try await first.run() }
        #expect(await eventually { service.startCount == 1 })
        first.requestStop()
        _ = await firstRun.result
        gate.open()
        #expect(await eventually { service.stopCount == 1 })  // the late success's stop hangs
        let second = makeRunner(service, coordinator: coordinator)
        let refused = await outcomeOf { try await second.start() }
        #expect(throws: LifecycleError.earlierStartStillRunning(service.serviceID, after: .milliseconds(100))) {
            try refused.get()
        }
        #expect(service.startCount == 1, "the refused start called start() beside the hanging stop()")
        stopGate.open()
        let third = makeRunner(service, coordinator: coordinator)
        try await third.start()
        #expect(service.startCount == 2 && service.isRunning)
        try await third.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    /// README: a new start of a service whose start failed waits until the tasks that start added
    /// ended, bounded by its gracefulShutdownTimeout (10 s here). An escalation of the failed tree
    /// ends that tree's own wait, not the bound for every later tree: the new life does not begin
    /// beside the old life's task. The same for a failed leaf of a `Parallel` stage.
    @Test(arguments: [false, true])
    func escalatingTheFailedTreeDoesNotLetANewLifeMeetTheOldTask(inAParallelStage: Bool) async throws {
        let release = Gate()
        let oldTaskAlive = Locked(false)
        let failFirst = Locked(true)
        let failGate = Gate()
        let service = GracefulService(name: "sticky", grace: .seconds(10)) { me in
            if failFirst.withLock({
                let f = $0
                $0 = false
                return f
            }) {
                try me.addTask {
                    oldTaskAlive.withLock { $0 = true }
                    await release.wait()  // ignores cancellation
                    oldTaskAlive.withLock { $0 = false }
                }
                await failGate.wait()
                throw ProbeError(name: "first")
            }
        }
        let coordinator = Coordinator()
        let tree: any Service =
            inAParallelStage
            ? ClosureService(name: "root", dependencies: [Parallel(service, ClosureService(name: "other"))]) : service
        let first = makeRunner(tree, coordinator: coordinator)
        let firstStart = Task { try await first.start() }
        #expect(await eventually { oldTaskAlive.withLock { $0 } })
        failGate.open()  // the start throws; the walk now waits (up to 10 s) for the task
        try await Task.sleep(for: .milliseconds(50))
        first.escalate(signal: 2)
        _ = await firstStart.result
        let second = makeRunner(service, coordinator: coordinator)
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(
            !(service.isRunning && oldTaskAlive.withLock { $0 }),
            "a new life runs while a task of the failed life still runs")
        release.open()
        _ = await secondStart.result
        try? await second.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    /// A start() that requests its own tree's stop and then throws: the rollback and the error.
    @Test func startThatRequestsStopThenThrowsSynchronously() async throws {
        let box = RunnerBox()
        let calls = Calls()
        let dep = ClosureService(name: "dep") {
            calls.started()
        } stop: {
            calls.stopped()
        }
        let root = ClosureService(name: "root", dependencies: [dep]) {
            box.runner?.requestStop()
            throw ProbeError(name: "after-request")
        }
        let coordinator = Coordinator()
        let runner = makeRunner(root, coordinator: coordinator)
        box.runner = runner
        let events = collect(runner.events())
        let result = await outcomeOf { try await runner.run() }
        expectLegal(await events.value)
        #expect(calls.starts == 1 && calls.stops == 1)
        #expect(root.state == .failed)
        // The start failed with a user error: run() should not swallow it as a clean stop.
        #expect(throws: ProbeError.self) { try result.get() }
        #expect(await eventuallyIdle(coordinator))
    }

    /// README: a new start waits for the failed start() to return and its tasks to end. An
    /// abandoned start() that never returns does not hold every later tree's start() forever:
    /// after the service's gracefulShutdownTimeout (100 ms) it fails with
    /// `earlierStartStillRunning`, and once the old start() returned (and its late success was
    /// stopped) the service starts again.
    @Test func aNewLifeIsNotHeldForeverByAnAbandonedStartThatNeverReturns() async throws {
        let gate = Gate()
        let service = ScriptedService(
            "never", starts: [.ignoreCancellationUntil(gate), .succeed], gracefulShutdownTimeout: .milliseconds(100))
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let firstRun = Task { try await first.run() }
        #expect(await eventually { service.startCount == 1 })
        first.requestStop()
        _ = await firstRun.result
        let second = makeRunner(service, coordinator: coordinator)
        let refused = await outcomeOf { try await second.start() }
        #expect(throws: LifecycleError.earlierStartStillRunning(service.serviceID, after: .milliseconds(100))) {
            try refused.get()
        }
        #expect(service.startCount == 1, "the refused start called start() beside the abandoned one")
        gate.open()
        #expect(await eventually { service.stopCount == 1 })  // the late success is stopped
        let third = makeRunner(service, coordinator: coordinator)
        try await third.start()
        #expect(service.startCount == 2 && service.isRunning)
        try await third.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    /// Two leaves of a `Parallel` stage fail; the tasks of `b` (10 s grace) ignore their
    /// cancellation, so the stage's wind-down, `a`'s included, waits for them. A new start of `a`
    /// (100 ms grace) waits too, and is not refused with `earlierStartStillRunning`: `a`'s own
    /// `start()` returned long ago, and the tasks' wait has a bound of its own.
    @Test func aNewStartWaitingOnlyForAFailedStagesTasksIsNotRefused() async throws {
        let release = Gate()
        let bTaskAlive = Locked(false)
        let aFails = Locked(true)
        let a = GracefulService(name: "a", grace: .milliseconds(100)) { me in
            guard aFails.withLock({ $0 }) else { return }
            try me.addTask { try await Task.sleep(for: .seconds(60)) }  // ends when cancelled
            throw ProbeError(name: "a")
        }
        let b = GracefulService(name: "b", grace: .seconds(10)) { me in
            try me.addTask {
                bTaskAlive.withLock { $0 = true }
                await release.wait()  // ignores cancellation
            }
            try await Task.sleep(for: .milliseconds(20))
            throw ProbeError(name: "b")
        }
        let coordinator = Coordinator()
        let first = makeRunner(ClosureService(name: "root", dependencies: [Parallel(a, b)]), coordinator: coordinator)
        let firstStart = Task { try await first.start() }
        #expect(await eventually { bTaskAlive.withLock { $0 } && a.state == .failed })
        aFails.withLock { $0 = false }
        let second = makeRunner(a, coordinator: coordinator)
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(300))  // past a's 100 ms grace
        release.open()
        await #expect(throws: ProbeError.self) { try await firstStart.value }
        try await secondStart.value
        #expect(a.state == .running)
        try await second.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    @Test func synchronousFailureOfOneParallelLeafRollsBackEverySiblingOnce() async throws {
        for round in 0..<30 {
            let calls = Calls()
            let leaves: [ClosureService] = (0..<8).map { index in
                ClosureService(name: "leaf\(index)") {
                    if index == round % 8 { throw ProbeError(name: "leaf") }
                    if index % 2 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    calls.started()
                } stop: {
                    calls.stopped()
                }
            }
            let root = ClosureService(name: "root", dependencies: [Parallel(leaves)])
            let coordinator = Coordinator()
            let runner = makeRunner(root, coordinator: coordinator)
            let events = collect(runner.events())
            await #expect(throws: ProbeError(name: "leaf")) { try await runner.run() }
            expectLegal(await events.value)
            #expect(calls.starts == calls.stops, "round \(round): \(calls.starts) started, \(calls.stops) stopped")
            #expect(await eventuallyIdle(coordinator))
        }
    }

    @Test func escalationEndsTheGraceOfAParallelSiblingIgnoringCancellation() async throws {
        let gate = Gate()
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate)], gracefulShutdownTimeout: .seconds(20))
        let failNow = ClosureService(name: "failNow") {
            try await Task.sleep(for: .milliseconds(20))
            throw ProbeError(name: "failNow")
        }
        let root = ClosureService(name: "root", dependencies: [Parallel(stubborn, failNow)])
        let runner = makeRunner(root)
        let clock = ContinuousClock()
        let run = Task { () -> (Result<Void, any Error>, Duration) in
            let began = clock.now
            let result = await outcomeOf { try await runner.run() }
            return (result, clock.now - began)
        }
        #expect(await eventually { failNow.state == .failed })
        runner.escalate(signal: 2)
        let (result, elapsed) = await run.value
        #expect(elapsed < .seconds(3), "run() took \(elapsed)")
        #expect(throws: ProbeError(name: "failNow")) { try result.get() }
        #expect(stubborn.state == .failed)
        gate.open()
        #expect(await eventually { stubborn.stopCount == 1 }, "the late success is stopped")
    }

    /// A stop requested from another task at arbitrary moments of a walk of synchronous starts.
    @Test func stopRequestsRacingSynchronousStartsKeepEveryServiceBalanced() async throws {
        var total = 0
        for round in 0..<150 {
            let calls = Calls()
            let a = ClosureService(name: "a") {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let b = ClosureService(name: "b", dependencies: [a]) {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let c = ClosureService(name: "c") {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let root = ClosureService(name: "root", dependencies: [Parallel(b, c)]) {
                calls.started()
            } stop: {
                calls.stopped()
            }
            let coordinator = Coordinator()
            let runner = makeRunner(root, coordinator: coordinator)
            let events = collect(runner.events())
            let stream = runner.events()
            let stopper = Task {
                var seen = 0
                for await _ in stream {
                    seen += 1
                    if seen == round % 8 + 1 { runner.requestStop() }
                }
            }
            let run = Task { try await runner.run() }
            let watchdog = Task {
                try await Task.sleep(for: .seconds(3))
                Issue.record(
                    "round \(round) hung: a=\(a.state) b=\(b.state) c=\(c.state) root=\(root.state) starts=\(calls.starts) stops=\(calls.stops)"
                )
                runner.requestStop()
                try await Task.sleep(for: .seconds(1))
                runner.escalate(signal: 2)
            }
            let result = await run.result
            watchdog.cancel()
            await stopper.value
            #expect((try? result.get()) != nil, "round \(round): \(result)")
            expectLegal(await events.value)
            #expect(calls.starts == calls.stops, "round \(round): \(calls.starts) started, \(calls.stops) stopped")
            #expect(await eventuallyIdle(coordinator))
            total += calls.starts
        }
        #expect(total > 150, "the stop requests landed before any start: \(total) starts")
    }
}
