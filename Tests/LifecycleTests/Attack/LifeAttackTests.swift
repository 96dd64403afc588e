import Foundation
import LifecycleTesting
import Testing

@testable import Lifecycle

/// A service whose `start()` runs `body` with the number of the call (1 for the first), counting
/// the `start()` and `stop()` calls in flight at once: two lives overlap when that ever exceeds one.
private final class LifeService: Service, Sendable {
    let name: String
    let dependencies: Dependencies
    let gracefulShutdownTimeout: Duration
    let startTimeout: Duration?
    let restartPolicy: RestartPolicy
    private let body: @Sendable (LifeService, Int) async throws -> Void
    private let counts = Locked((starts: 0, stops: 0, inFlight: 0, mostInFlight: 0))

    init(
        _ name: String, dependencies: Dependencies = [], grace: Duration, startTimeout: Duration? = nil,
        restartPolicy: RestartPolicy = .never, start body: @escaping @Sendable (LifeService, Int) async throws -> Void
    ) {
        self.name = name
        self.dependencies = dependencies
        self.gracefulShutdownTimeout = grace
        self.startTimeout = startTimeout
        self.restartPolicy = restartPolicy
        self.body = body
    }

    var starts: Int { counts.withLock { $0.starts } }
    var stops: Int { counts.withLock { $0.stops } }
    /// The most `start()` and `stop()` calls that ran at once.
    var mostInFlight: Int { counts.withLock { $0.mostInFlight } }

    private func began() {
        counts.withLock {
            $0.inFlight += 1
            $0.mostInFlight = max($0.mostInFlight, $0.inFlight)
        }
    }

    private func ended() { counts.withLock { $0.inFlight -= 1 } }

    func start() async throws {
        let number = counts.withLock {
            $0.starts += 1
            return $0.starts
        }
        began()
        defer { ended() }
        try await body(self, number)
    }

    func stop() async throws {
        counts.withLock { $0.stops += 1 }
        began()
        ended()
    }
}

private func makeRunner(
    _ service: any Service, coordinator: Coordinator, clock: some Clock<Duration> = ContinuousClock()
)
    -> ServiceRunner
{
    ServiceRunner(service, observers: [], signals: [], clock: clock, coordinator: coordinator)
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

/// A service whose first `start()` ignores its cancellation until `gate` opens, then succeeds;
/// later starts succeed at once.
private func stubborn(_ name: String, gate: Gate, grace: Duration, startTimeout: Duration? = nil) -> LifeService {
    LifeService(name, grace: grace, startTimeout: startTimeout) { _, number in
        if number == 1 { await gate.wait() }
    }
}

/// Runs a tree of `service` and stops it while its first start() hangs: the start is abandoned
/// after the service's grace and the service is `failed` with that start() still running.
private func abandonFirstStart(of service: LifeService, coordinator: Coordinator) async {
    let first = makeRunner(service, coordinator: coordinator)
    let run = Task { try await first.run() }
    #expect(await eventually { service.starts == 1 })
    first.requestStop()
    _ = await run.result
    #expect(service.state == .failed)
}

/// Attacks on the wait of a new life for an earlier, abandoned `start()` and for the tasks of a
/// failed start (`earlierStartStillRunning`, the failed lives' wind-down).
@Suite(.timeLimit(.minutes(1))) struct LifeAttackTests {
    /// README `add`: "else the first error of a start(), after rolling back what this call started
    /// (the tree keeps running)". Adding a service whose dependency's abandoned start() still runs
    /// fails with `earlierStartStillRunning`, stops the fresh dependency it started, and the tree
    /// runs on; once the old start() returned the same add succeeds.
    @Test func addingAServiceWhoseDependencyIsStillInAnAbandonedStartRollsBackOnlyWhatItStarted() async throws {
        let gate = Gate()
        let stuck = stubborn("stuck", gate: gate, grace: .milliseconds(100))
        let coordinator = Coordinator()
        await abandonFirstStart(of: stuck, coordinator: coordinator)
        let fresh = LifeService("fresh", grace: .seconds(1)) { _, _ in }
        let added = LifeService("added", dependencies: [fresh, stuck], grace: .seconds(1)) { _, _ in }
        let root = LifeService("app", grace: .seconds(1)) { _, _ in }
        let runner = makeRunner(root, coordinator: coordinator)
        try await runner.start()
        let refused = await outcomeOf { try await runner.add(added) }
        #expect(throws: LifecycleError.earlierStartStillRunning(stuck.serviceID, after: .milliseconds(100))) {
            try refused.get()
        }
        #expect(fresh.starts == 1 && fresh.stops == 1, "what the add started is stopped again")
        #expect(added.starts == 0 && stuck.starts == 1)
        #expect(root.isRunning && runner.state(of: root) == .running, "the tree keeps running")
        gate.open()
        #expect(await eventually { stuck.stops == 1 })  // the late success is stopped
        try await runner.add(added)
        #expect(added.isRunning && stuck.isRunning && fresh.starts == 2)
        try await runner.stop()
        #expect(stuck.mostInFlight == 1, "two lives of one service overlapped")
        #expect(await eventuallyIdle(coordinator))
    }

    /// A tree whose dependency is a service another tree abandoned in `start()`: its root never
    /// starts, its other dependency is stopped again, and its start throws the error.
    @Test func aTreeSharingTheAbandonedServiceFailsWithoutStartingItsRoot() async throws {
        let gate = Gate()
        let stuck = stubborn("shared", gate: gate, grace: .milliseconds(100))
        let coordinator = Coordinator()
        await abandonFirstStart(of: stuck, coordinator: coordinator)
        let other = LifeService("other", grace: .seconds(1)) { _, _ in }
        let root = LifeService("b", dependencies: [other, stuck], grace: .seconds(1)) { _, _ in }
        let runner = makeRunner(root, coordinator: coordinator)
        let outcome = await outcomeOf { try await runner.start() }
        #expect(throws: LifecycleError.earlierStartStillRunning(stuck.serviceID, after: .milliseconds(100))) {
            try outcome.get()
        }
        #expect(root.starts == 0 && other.starts == 1 && other.stops == 1 && stuck.starts == 1)
        #expect(!other.isRunning && !root.isRunning)
        gate.open()
        #expect(await eventually { stuck.stops == 1 })
        #expect(await eventuallyIdle(coordinator))
        #expect(stuck.mostInFlight == 1)
    }

    /// The error says which service, why, and what to do.
    @Test func theRefusalExplainsItself() {
        let message = String(
            describing: LifecycleError.earlierStartStillRunning(ServiceID(name: "db", number: 1), after: .seconds(2)))
        #expect(message.contains("db") && message.contains("2") && message.contains("cancellation"))
    }

    /// A tree waiting for an abandoned start() (10 s bound) whose start task is cancelled leaves
    /// at once with `CancellationError`, not the refusal, and calls no `start()`.
    @Test func cancellingAStartWaitingForAnAbandonedStartEndsItPromptly() async throws {
        let gate = Gate()
        let stuck = stubborn("timed-out", gate: gate, grace: .seconds(10), startTimeout: .milliseconds(20))
        let coordinator = Coordinator()
        let first = makeRunner(stuck, coordinator: coordinator)
        await #expect(throws: LifecycleError.startTimedOut(stuck.serviceID, after: .milliseconds(20))) {
            try await first.start()
        }
        let second = makeRunner(stuck, coordinator: coordinator)
        let waiting = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let began = clock.now
        waiting.cancel()
        let outcome = await waiting.result
        #expect(clock.now - began < .seconds(5), "the waiting start must end promptly")
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(stuck.starts == 1)
        // Its stop requested while it waits: the same, and `run()` ends without the refusal.
        let third = makeRunner(stuck, coordinator: coordinator)
        let run = Task { try await third.run() }
        try await Task.sleep(for: .milliseconds(100))
        third.requestStop()
        let runOutcome = await run.result
        if case .failure(let error) = runOutcome {
            #expect(!(error is LifecycleError), "a stop while waiting is no refusal: \(error)")
        }
        #expect(stuck.starts == 1)
        gate.open()
        #expect(await eventually { stuck.stops == 1 })
        #expect(await eventuallyIdle(coordinator))
        #expect(stuck.mostInFlight == 1)
    }

    /// On a manual clock: the abandoned start() returns (and its late success is stopped) just
    /// before the waiting tree's bound comes; advancing past the bound then does not refuse it.
    @Test func anEarlierStartReturningJustBeforeTheBoundIsNotARefusal() async throws {
        let clock = ManualClock()
        let gate = Gate()
        let stuck = stubborn("edge", gate: gate, grace: .seconds(5), startTimeout: .seconds(1))
        let coordinator = Coordinator()
        let first = makeRunner(stuck, coordinator: coordinator, clock: clock)
        let firstStart = Task { try await first.start() }
        #expect(await eventually { stuck.starts == 1 && clock.hasSleeper(wakingIn: .seconds(1)) })
        clock.advance(by: .seconds(1))
        await #expect(throws: LifecycleError.self) { try await firstStart.value }
        let second = makeRunner(stuck, coordinator: coordinator, clock: clock)
        let secondStart = Task { try await second.start() }
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(5)) })  // the bound
        gate.open()
        #expect(await eventually { stuck.stops == 1 })
        // The coordinator has learned that the start() is over (not only that stop() was called).
        let deadline = ContinuousClock.now + .seconds(10)
        while await !coordinator.startsStillRunning.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        clock.advance(by: .seconds(5))
        try await secondStart.value
        #expect(stuck.isRunning && stuck.starts == 2)
        try await second.stop()
        #expect(stuck.mostInFlight == 1)
        #expect(await eventuallyIdle(coordinator))
    }

    /// On a manual clock advanced past the grace in one step while the failed start's tasks are
    /// still waited for (their start() returned long ago): the new start is not refused.
    @Test func aManualClockJumpingPastTheGraceDuringTheTasksWaitDoesNotRefuse() async throws {
        let clock = ManualClock()
        let release = Gate()
        let taskAlive = Locked(false)
        let service = LifeService("tasks", grace: .seconds(5)) { me, number in
            guard number == 1 else { return }
            try me.addTask {
                taskAlive.withLock { $0 = true }
                await release.wait()  // ignores its cancellation
            }
            throw ProbeError(name: "first")
        }
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator, clock: clock)
        let firstStart = Task { try await first.start() }
        #expect(await eventually { taskAlive.withLock { $0 } && clock.hasSleeper(wakingIn: .seconds(5)) })
        let second = makeRunner(service, coordinator: coordinator, clock: clock)
        let secondStart = Task { try await second.start() }
        #expect(await eventually { clock.sleeperCount >= 2 })  // the tasks' wait and the bound
        clock.advance(by: .seconds(60))
        await #expect(throws: ProbeError.self) { try await firstStart.value }
        try await secondStart.value
        #expect(service.isRunning && service.starts == 2)
        release.open()
        try await second.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    /// A restart's start() that ignores its cancellation and times out: the restart gives up and
    /// the tree fails. A new tree of the service must not call `start()` beside that one still
    /// running (lives never overlap): it waits, or is refused with `earlierStartStillRunning`.
    @Test func aNewTreeDoesNotStartBesideARestartsAbandonedStart() async throws {
        let crash = Gate()
        let gate = Gate()
        let service = LifeService(
            "restarted", grace: .milliseconds(100), startTimeout: .milliseconds(50),
            restartPolicy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .constant(.milliseconds(1)))
        ) { me, number in
            switch number {
            case 1:
                try me.addTask {
                    await crash.wait()
                    throw ProbeError(name: "crash")
                }
            case 2: await gate.wait()  // the restart's start: ignores its cancellation
            default: break
            }
        }
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let run = Task { try await first.run() }
        #expect(await eventually { service.isRunning })
        crash.open()
        _ = await run.result  // the restart gave up: the tree failed
        #expect(service.starts == 2)
        let second = makeRunner(service, coordinator: coordinator)
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(service.starts == 2, "start() called beside the restart's abandoned start()")
        gate.open()
        if case .failure(let error) = await secondStart.result {
            #expect(error as? LifecycleError == .earlierStartStillRunning(service.serviceID, after: .milliseconds(100)))
        }
        try? await second.stop()
        #expect(service.mostInFlight == 1, "two lives of one service overlapped")
        #expect(await eventually { service.stops >= 2 }, "the late success of the restart's start is stopped")
        #expect(await eventuallyIdle(coordinator))
    }

    /// The same abandoned restart start() returning much later: its late success is stopped, and
    /// the coordinator ends idle.
    @Test func aRestartsAbandonedStartReturningLateLeavesNothingRunning() async throws {
        let crash = Gate()
        let gate = Gate()
        let service = LifeService(
            "restarted-late", grace: .milliseconds(50), startTimeout: .milliseconds(20),
            restartPolicy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .constant(.milliseconds(1)))
        ) { me, number in
            switch number {
            case 1:
                try me.addTask {
                    await crash.wait()
                    throw ProbeError(name: "crash")
                }
            case 2: await gate.wait()
            default: break
            }
        }
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let run = Task { try await first.run() }
        #expect(await eventually { service.isRunning })
        crash.open()
        await #expect(throws: (any Error).self) { try await run.value }
        try await Task.sleep(for: .milliseconds(200))
        gate.open()
        #expect(await eventually { service.stops == 2 }, "the late success of the restart's start is stopped")
        #expect(!service.isRunning)
        #expect(await eventuallyIdle(coordinator))
    }

    /// The tree stops while the restart's start() hangs ignoring its cancellation: the stop lets
    /// the service go once that start is abandoned. A new tree started right then must not call
    /// `start()` beside it.
    @Test(arguments: [false, true])
    func aNewTreeDoesNotStartBesideARestartsStartItsStoppedTreeAbandoned(escalating: Bool) async throws {
        let crash = Gate()
        let gate = Gate()
        let service = LifeService(
            "restart-let-go", grace: .milliseconds(100),
            restartPolicy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .constant(.milliseconds(1)))
        ) { me, number in
            switch number {
            case 1:
                try me.addTask {
                    await crash.wait()
                    throw ProbeError(name: "crash")
                }
            case 2: await gate.wait()  // the restart's start: ignores its cancellation
            default: break
            }
        }
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let run = Task { try await first.run() }
        #expect(await eventually { service.isRunning })
        crash.open()
        #expect(await eventually { service.starts == 2 })
        first.requestStop()
        if escalating { first.escalate(signal: 2) }
        _ = await run.result
        let second = makeRunner(service, coordinator: coordinator)
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(service.starts == 2, "start() called beside the restart's abandoned start()")
        gate.open()
        if case .failure(let error) = await secondStart.result {
            #expect(error as? LifecycleError == .earlierStartStillRunning(service.serviceID, after: .milliseconds(100)))
        }
        try? await second.stop()
        #expect(service.mostInFlight == 1, "two lives of one service overlapped")
        #expect(await eventuallyIdle(coordinator))
    }

    /// A restart's start() throws after adding a task that ignores its cancellation (10 s grace);
    /// the tree is escalated during the wait for that task. Escalating ends that tree's wait, not
    /// the bound for a new tree: the new life does not begin beside the old task.
    @Test(arguments: [1, 3])
    func escalatingDuringARestartsFailedStartDoesNotLetANewLifeMeetItsTask(maxRestarts: Int) async throws {
        let crash = Gate()
        let release = Gate()
        let oldTaskAlive = Locked(false)
        let service = LifeService(
            "restart-task", grace: .seconds(10),
            restartPolicy: .onFailure(
                maxRestarts: maxRestarts, within: .seconds(60), backoff: .constant(.milliseconds(1)))
        ) { me, number in
            switch number {
            case 1:
                try me.addTask {
                    await crash.wait()
                    throw ProbeError(name: "crash")
                }
            case 2:
                try me.addTask {
                    oldTaskAlive.withLock { $0 = true }
                    await release.wait()  // ignores its cancellation
                    oldTaskAlive.withLock { $0 = false }
                }
                throw ProbeError(name: "restart")
            default: break
            }
        }
        let coordinator = Coordinator()
        let first = makeRunner(service, coordinator: coordinator)
        let run = Task { try await first.run() }
        #expect(await eventually { service.isRunning })
        crash.open()
        #expect(await eventually { oldTaskAlive.withLock { $0 } })
        try await Task.sleep(for: .milliseconds(50))
        first.escalate(signal: 2)
        _ = await run.result
        #expect(service.starts == 2, "a restart retried beside the failed life's task")
        let second = makeRunner(service, coordinator: coordinator)
        let secondStart = Task { try await second.start() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(
            !(service.isRunning && oldTaskAlive.withLock { $0 }),
            "a new life runs while a task of the failed restart's life still runs")
        release.open()
        _ = await secondStart.result
        try? await second.stop()
        #expect(await eventuallyIdle(coordinator))
    }

    /// A member of a `Parallel` stage waits for an abandoned start() and is refused: its siblings
    /// are stopped again, the root never starts, and the start throws the refusal.
    @Test func aParallelMemberRefusedRollsBackItsSiblings() async throws {
        let gate = Gate()
        let stuck = stubborn("parallel-stuck", gate: gate, grace: .milliseconds(100))
        let coordinator = Coordinator()
        await abandonFirstStart(of: stuck, coordinator: coordinator)
        let siblings = (0..<3).map { index in LifeService("sibling\(index)", grace: .seconds(1)) { _, _ in } }
        let root = LifeService(
            "root", dependencies: [Parallel(siblings[0], stuck, siblings[1], siblings[2])], grace: .seconds(1)
        ) { _, _ in }
        let runner = makeRunner(root, coordinator: coordinator)
        await #expect(throws: LifecycleError.earlierStartStillRunning(stuck.serviceID, after: .milliseconds(100))) {
            try await runner.start()
        }
        #expect(root.starts == 0 && stuck.starts == 1)
        for sibling in siblings { #expect(sibling.starts == sibling.stops && !sibling.isRunning) }
        gate.open()
        #expect(await eventually { stuck.stops == 1 })
        #expect(await eventuallyIdle(coordinator))
    }

    /// A restart's start() fails with a task that ignores its cancellation (100 ms grace): once the
    /// grace passed, the restart tries again and the service runs; nothing hangs, no tree fails,
    /// and the coordinator ends idle once the old task ended.
    @Test func aRestartRetriesAfterItsFailedStartsTaskGraceAndNothingHangs() async throws {
        let crash = Gate()
        let release = Gate()
        let service = LifeService(
            "restart-retry", grace: .milliseconds(100),
            restartPolicy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .constant(.milliseconds(1)))
        ) { me, number in
            switch number {
            case 1:
                try me.addTask {
                    await crash.wait()
                    throw ProbeError(name: "crash")
                }
            case 2:
                try me.addTask { await release.wait() }  // ignores its cancellation
                throw ProbeError(name: "restart")
            default: break
            }
        }
        let coordinator = Coordinator()
        let runner = makeRunner(service, coordinator: coordinator)
        try await runner.start()
        crash.open()
        #expect(await eventually { service.starts == 3 && service.isRunning })
        #expect(runner.state(of: service) == .running)
        try await runner.stop()
        release.open()
        #expect(await eventuallyIdle(coordinator))
    }

    /// README `add`: "A stop request while it starts cancels it". An add waiting (10 s bound) for
    /// a dependency's timed-out start() still running ends with `CancellationError` when the tree
    /// stops, its fresh dependency stopped again, and the stop returns promptly.
    @Test func stoppingTheTreeWhileAnAddWaitsForAnEarlierStartEndsBoth() async throws {
        let gate = Gate()
        let stuck = stubborn("add-stuck", gate: gate, grace: .seconds(10), startTimeout: .milliseconds(20))
        let coordinator = Coordinator()
        let failed = makeRunner(stuck, coordinator: coordinator)
        await #expect(throws: LifecycleError.startTimedOut(stuck.serviceID, after: .milliseconds(20))) {
            try await failed.start()
        }
        let fresh = LifeService("add-fresh", grace: .seconds(1)) { _, _ in }
        let added = LifeService("add-added", dependencies: [fresh, stuck], grace: .seconds(1)) { _, _ in }
        let root = LifeService("add-root", grace: .seconds(1)) { _, _ in }
        let runner = makeRunner(root, coordinator: coordinator)
        try await runner.start()
        let adding = Task { try await runner.add(added) }
        #expect(await eventually { fresh.starts == 1 })
        try await Task.sleep(for: .milliseconds(50))
        let clock = ContinuousClock()
        let began = clock.now
        try await runner.stop()
        let outcome = await adding.result
        #expect(clock.now - began < .seconds(5), "the stop must not wait for the 10 s bound")
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(fresh.stops == 1 && added.starts == 0 && root.stops == 1 && stuck.starts == 1)
        gate.open()
        #expect(await eventually { stuck.stops == 1 })
        #expect(await eventuallyIdle(coordinator))
    }
}
