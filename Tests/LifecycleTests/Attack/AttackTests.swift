import Foundation
import Testing

@testable import Lifecycle

/// Adversarial use of the core changed by e7f45a1/5872dfa: each test states the documented rule it checks.
@Suite(.timeLimit(.minutes(1))) struct AttackTests {
    // MARK: Observer grace after the waiting task is cancelled

    /// README: "once the stop escalates (or the waiting task is cancelled), [observers] get one more
    /// second". A `stop()` whose calling task is cancelled must return about `observerGrace` later.
    @Test func cancellingTheTaskInStopBoundsTheWaitForAStuckObserver() async throws {
        let service = ClosureService(name: "quick") {}
        let runner = ServiceRunner(service, observers: [NeverReturningObserver()], signals: [])
        try await runner.start()
        let returned = Locked(false)
        let stopper = Task {
            try? await runner.stop()
            returned.withLock { $0 = true }
        }
        #expect(await eventually { service.state == .stopped })
        stopper.cancel()
        #expect(
            await eventually(within: .seconds(30)) { returned.withLock { $0 } },
            "stop() must return about observerGrace after its task was cancelled")
    }

    /// Same rule for `run()`: cancelling the task in `run()` stops the tree and bounds the observer wait.
    @Test func cancellingTheTaskInRunBoundsTheWaitForAStuckObserver() async throws {
        let service = ClosureService(name: "quick") {}
        let runner = ServiceRunner(service, observers: [NeverReturningObserver()], signals: [])
        let returned = Locked(false)
        let run = Task {
            _ = try? await runner.run()
            returned.withLock { $0 = true }
        }
        #expect(await eventually { service.isRunning })
        run.cancel()
        #expect(await eventually { service.state == .stopped })
        #expect(
            await eventually(within: .seconds(30)) { returned.withLock { $0 } },
            "run() must return about observerGrace after its task was cancelled")
    }

    // MARK: stop() from the runner's own work

    /// README: "stop() called from the runner's own work (… a background task added during a start())
    /// requests the stop and returns at once"; and "The tree stops when someone calls stop()". With the
    /// tree started by `start()` (nobody in `run()`), the stop must still happen.
    @Test func stopFromABackgroundTaskOfATreeStartedWithStartStopsTheTree() async throws {
        let holder = RunnerBox()
        let go = Gate()
        let stopped = Locked(0)
        let service = ClosureService(name: "job") {
            try holder.service?.addTask {
                await go.wait()
                try await holder.runner?.stop()
            }
        } stop: {
            stopped.withLock { $0 += 1 }
        }
        holder.service = service
        let runner = ServiceRunner(service, signals: [])
        holder.runner = runner
        try await runner.start()
        go.open()
        #expect(
            await eventually(within: .seconds(30)) { service.state == .stopped },
            "stop() called by the tree's own background task never stopped the tree")
        #expect(stopped.withLock { $0 } == 1)
        // Clean up so nothing outlives the test.
        try? await runner.stop()
    }

    /// Same, from an observer: the observer sees `running` and calls `stop()`; the tree was started with `start()`.
    @Test func stopFromAnObserverOfATreeStartedWithStartStopsTheTree() async throws {
        let holder = RunnerBox()
        let service = ClosureService(name: "observed") {}
        let observer = StopOnRunningObserver(holder: holder)
        let runner = ServiceRunner(service, observers: [observer], signals: [])
        holder.runner = runner
        try await runner.start()
        #expect(await eventually(within: .seconds(30)) { observer.didCall })
        #expect(
            await eventually(within: .seconds(30)) { service.state == .stopped },
            "stop() called by an observer never stopped the tree")
        try? await runner.stop()
    }

    /// A background task added while the service runs (from outside any runner's work, e.g. a request
    /// handler) that calls `stop()`: the stop waits for the task, the task waits for the stop. It must
    /// not end in a spurious `stopTimedOut` (the service stops cleanly, its stop() returned at once).
    @Test func stopFromATaskAddedWhileRunningDoesNotTimeOutOnItself() async throws {
        let service = GracefulService(name: "handler-host", grace: .seconds(1))
        let runner = ServiceRunner(service, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        let outcome = Locked<String?>(nil)
        try service.addTask {
            do {
                try await runner.stop()
                outcome.withLock { $0 = "returned" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        #expect(await eventually { outcome.withLock { $0 } != nil })
        #expect(outcome.withLock { $0 } == "returned")
        // stop() from the tree's own work requests the stop and returns; the stop follows.
        #expect(await eventually { service.state == .stopped })
        let received = await events.value
        expectLegal(received)
        #expect(!received.contains { $0.to == .failed }, "\(lines(received))")
    }

    /// A task of a service shared by two trees, added during tree A's start, that calls tree B's
    /// `stop()` when B holds the service last: B's stop awaits the task, the task awaits B's stop.
    @Test func aSharedServicesTaskStoppingTheOtherTreeDoesNotTimeOutOnItself() async throws {
        let holder = RunnerBox()
        let go = Gate()
        let outcome = Locked<String?>(nil)
        let shared = GracefulService(name: "shared", grace: .seconds(1)) { service in
            try service.addTask {
                await go.wait()
                do {
                    try await holder.runner?.stop()
                    outcome.withLock { $0 = "returned" }
                } catch {
                    outcome.withLock { $0 = "\(error)" }
                }
            }
        }
        let runnerA = ServiceRunner(shared, signals: [])
        let runnerB = ServiceRunner(ClosureService(name: "b-root", dependencies: [shared]), signals: [])
        holder.runner = runnerB
        try await runnerA.start()
        try await runnerB.start()
        try await runnerA.stop()  // B holds `shared` last now
        #expect(shared.isRunning)
        go.open()
        #expect(await eventually { outcome.withLock { $0 } != nil })
        #expect(outcome.withLock { $0 } == "returned")
        #expect(await eventually { shared.state == .stopped })
    }

    // MARK: Sharing and abandoned starts

    /// Tree A starts a shared service whose start ignores cancellation; tree B waits for that start.
    /// A is asked to stop: the start is abandoned for A. B was not asked to stop.
    @Test func aSecondTreeWaitingForAnAbandonedSharedStart() async throws {
        let gate = Gate()
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate), .succeed], gracefulShutdownTimeout: .milliseconds(100))
        let runnerA = ServiceRunner(stubborn, signals: [])
        let rootB = ScriptedService("b-root", dependencies: [stubborn])
        let runnerB = ServiceRunner(rootB, signals: [])
        let eventsB = collect(runnerB.events())
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { stubborn.startCount == 1 })
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(50))
        runnerA.requestStop()
        let a = await startA.result
        // B waits until the abandoned start() is over: no new life begins while it runs.
        try await Task.sleep(for: .milliseconds(20))
        gate.open()
        let b = await startB.result
        // Whatever B got, nothing hangs, nothing is left up, nothing is stopped twice.
        let bStarted = (try? b.get()) != nil
        if bStarted { try await runnerB.stop() } else { try? await runnerB.stop() }
        #expect(await eventually { stubborn.startCount >= 1 && stubborn.state != .stopping })
        try await Task.sleep(for: .milliseconds(100))
        // Record the outcome for the report.
        print("A:", a, "B:", b, "stubborn starts", stubborn.startCount, "stops", stubborn.stopCount, stubborn.state)
        #expect(stubborn.stopCount <= stubborn.startCount)
        #expect(stubborn.stopCount >= 1, "the start that returned late must be stopped")
        expectLegal(await eventsB.value)
    }

    /// The same with a start that honours cancellation: B retries and runs. With one that ignores it,
    /// B (never asked to stop) must not fail with the abandonment of A's cancelled start.
    @Test func aTreeNeverAskedToStopDoesNotFailWithAnotherTreesAbandonedStart() async throws {
        let gate = Gate()
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate), .succeed], gracefulShutdownTimeout: .milliseconds(100))
        let runnerA = ServiceRunner(stubborn, signals: [])
        let runnerB = ServiceRunner(ScriptedService("b-root", dependencies: [stubborn]), signals: [])
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { stubborn.startCount == 1 })
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(50))
        runnerA.requestStop()
        _ = await startA.result
        // B waits until the abandoned start() is over (it is stopped, then B starts it afresh).
        gate.open()
        let b = await startB.result
        #expect(throws: Never.self, "B was never asked to stop") { try b.get() }
        #expect(stubborn.startCount == 2 && stubborn.stopCount == 1 && stubborn.isRunning)
        try? await runnerB.stop()
    }

    @Test func aCooperativeSharedStartCancelledInOneTreeIsRetriedByTheOther() async throws {
        let stubborn = ScriptedService("coop", starts: [.untilCancelled, .succeed])
        let runnerA = ServiceRunner(stubborn, signals: [])
        let runnerB = ServiceRunner(ScriptedService("b-root", dependencies: [stubborn]), signals: [])
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { stubborn.startCount == 1 })
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(50))
        runnerA.requestStop()
        _ = await startA.result
        try await startB.value
        #expect(stubborn.isRunning)
        try await runnerB.stop()
        #expect(stubborn.stopCount == 1)
    }

    /// An abandoned start() still in flight, and a new tree starts the same instance: the new start
    /// waits until the abandoned start() returned and was stopped, so every successful start() gets
    /// exactly one stop() and two start() calls never overlap (DESIGN §4).
    @Test func anAbandonedStartThatReturnsAfterANewLifeBeganIsNeverStopped() async throws {
        let gate = Gate()
        let service = ScriptedService("twice", starts: [.ignoreCancellationUntil(gate), .succeed])
        let runnerA = ServiceRunner(service, signals: [])
        let runA = Task { try await runnerA.run() }
        #expect(await eventually { service.startCount == 1 })
        runnerA.requestStop()
        runnerA.escalate(signal: 2)
        _ = await runA.result
        #expect(service.state == .failed)
        let runnerB = ServiceRunner(service, signals: [])
        let startB = Task { try await runnerB.start() }  // waits: the first start() is still in flight
        try await Task.sleep(for: .milliseconds(20))
        #expect(service.startCount == 1)
        gate.open()  // the first start() returns successfully: it is stopped, then B starts afresh
        try await startB.value
        #expect(service.startCount == 2)
        #expect(service.stopCount == 1)
        try await runnerB.stop()
        #expect(
            await eventually(within: .seconds(30)) { service.stopCount == 2 },
            "2 successful start() calls, \(service.stopCount) stop() calls")
    }

    /// A task failure of a service running in tree A fails A, not tree B, which is still starting an
    /// unrelated service and does not hold the shared one yet (DESIGN §4: "every tree holding that
    /// service stops"): B goes on and starts the service afresh once A stopped it.
    @Test func aTaskFailureDoesNotFailATreeThatDoesNotHoldTheServiceYet() async throws {
        let failing = FailsInItsFirstLifeWhenTold()
        let runnerA = ServiceRunner(failing, signals: [])
        try await runnerA.start()
        let slowGate = Gate()
        let slow = ScriptedService(
            "slow", starts: [.ignoreCancellationUntil(slowGate)], gracefulShutdownTimeout: .seconds(5))
        let rootB = ScriptedService("b-root", dependencies: [slow, failing])
        let runnerB = ServiceRunner(rootB, signals: [])
        let startB = Task { try await runnerB.start() }
        #expect(await eventually { slow.startCount == 1 })
        failing.fail.open()
        await #expect(throws: ProbeError(name: "told-to-fail")) { try await runnerA.wait() }
        #expect(await eventually { failing.state == .stopped })
        slowGate.open()
        try await startB.value  // B did not hold the failing service when its task failed
        #expect(failing.starts == 2 && failing.state == .running && rootB.state == .running)
        try await runnerB.stop()
        #expect(failing.state == .stopped)
    }

    /// A tree waiting for another tree's `start()` of a shared service is bound to that life: a task
    /// that start added failing before it returned fails both trees (DESIGN §4), and both hear of it.
    @Test func aTaskFailingWhileAnotherTreeWaitsForItsStartFailsBothTrees() async throws {
        let shared = TaskFailingDuringItsStart()
        let (failNow, finishStart) = (shared.failNow, shared.finishStart)
        let coordinator = Coordinator()
        let runnerA = ServiceRunner(
            shared, observers: [], signals: [], clock: ContinuousClock(), coordinator: coordinator)
        let rootB = ClosureService(name: "b-root", dependencies: [shared])
        let runnerB = ServiceRunner(
            rootB, observers: [], signals: [], clock: ContinuousClock(), coordinator: coordinator)
        let eventsB = collect(runnerB.events())
        let eventsA = collect(runnerA.events())
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { shared.state == .starting })
        let startB = Task { try await runnerB.start() }
        // B parks, waiting for A's start: from then on its tree holds the service. (A fixed sleep
        // here let a slow run, under ThreadSanitizer, fail the task before B arrived.)
        let (sharedID, treeB) = (shared.serviceID, ObjectIdentifier(runnerB))
        let deadline = ContinuousClock.now + .seconds(30)
        while await coordinator.runners[treeB]?.holds[sharedID] == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(await coordinator.runners[treeB]?.holds[sharedID] != nil, "B never waited for A's start")
        failNow.open()
        try await Task.sleep(for: .milliseconds(20))
        finishStart.open()
        // A's own start() returned (its service's start() did), then A stops with the failure.
        _ = await startA.result
        await #expect(throws: ProbeError(name: "shared-task")) { try await runnerA.wait() }
        await #expect(throws: ProbeError(name: "shared-task")) { try await startB.value }
        #expect(rootB.state == .idle)  // B never started its root
        #expect(await eventsA.value.count { $0.kind == .taskFailed } == 1)
        #expect(await eventsB.value.count { $0.kind == .taskFailed } == 1)
        #expect(await eventually { shared.state == .stopped })
    }

    /// DESIGN §4: "every call to start/stop is visible as events". The late-return stop() of an
    /// abandoned start is not.
    @Test(
        .disabled(
            "known gap, left: the late stop() of an abandoned start emits no event (the run is over and its event stream ended; needs an event kind)"
        ))
    func theLateStopOfAnAbandonedStartIsVisibleAsAnEvent() async throws {
        let gate = Gate()
        let stubborn = ScriptedService("stubborn", starts: [.ignoreCancellationUntil(gate)])
        let runner = ServiceRunner(stubborn, signals: [])
        let events = collect(runner.events())
        let run = Task { try await runner.run() }
        #expect(await eventually { stubborn.startCount == 1 })
        runner.requestStop()
        runner.escalate(signal: 2)
        _ = await run.result
        gate.open()
        #expect(await eventually { stubborn.stopCount == 1 })
        let received = await events.value
        print(lines(received))
        #expect(received.contains { $0.service == stubborn.serviceID && $0.from == .failed }, "\(lines(received))")
    }

    /// Tree B waits for tree A's start of a shared service that ignores cancellation. B is asked to
    /// stop: B's start is cancelled, yet it keeps waiting for A's start with no grace time, so
    /// `runnerB.stop()` hangs for as long as A's start() takes (README: "shutdown never hangs on one
    /// service"; a cancelled start gets its gracefulShutdownTimeout).
    @Test func stoppingATreeThatWaitsForAnotherTreesStubbornStartIsBounded() async throws {
        let gate = Gate()
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate)], gracefulShutdownTimeout: .milliseconds(100))
        let runnerA = ServiceRunner(stubborn, signals: [])
        let runnerB = ServiceRunner(ScriptedService("b-root", dependencies: [stubborn]), signals: [])
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { stubborn.startCount == 1 })
        let startB = Task { try await runnerB.start() }
        try await Task.sleep(for: .milliseconds(50))
        let stoppedB = Locked(false)
        let stopB = Task {
            try? await runnerB.stop()
            stoppedB.withLock { $0 = true }
        }
        #expect(
            await eventually(within: .seconds(30)) { stoppedB.withLock { $0 } },
            "runnerB.stop() still waits for tree A's start() of the shared service")
        gate.open()
        _ = await startA.result
        _ = await startB.result
        _ = await stopB.result
        try? await runnerA.stop()
        #expect(stubborn.stopCount == (stubborn.state == .stopped ? 1 : 0))
    }

    /// The same, escalated: `escalate` abandons starts "at once", yet B still waits for A's start().
    @Test func escalatingATreeThatWaitsForAnotherTreesStubbornStartIsBounded() async throws {
        let gate = Gate()
        let stubborn = ScriptedService("stubborn", starts: [.ignoreCancellationUntil(gate)])
        let runnerA = ServiceRunner(stubborn, signals: [])
        let runnerB = ServiceRunner(ScriptedService("b-root", dependencies: [stubborn]), signals: [])
        let startA = Task { try await runnerA.start() }
        #expect(await eventually { stubborn.startCount == 1 })
        let runB = Task { try await runnerB.run() }
        try await Task.sleep(for: .milliseconds(50))
        runnerB.requestStop()
        runnerB.escalate(signal: 2)
        let returnedB = Locked(false)
        let watch = Task {
            _ = await runB.result
            returnedB.withLock { $0 = true }
        }
        #expect(
            await eventually(within: .seconds(30)) { returnedB.withLock { $0 } },
            "an escalated runnerB.run() still waits for tree A's start() of the shared service")
        gate.open()
        _ = await startA.result
        _ = await watch.value
        try? await runnerA.stop()
    }

    /// A stop requested during a start that ignores cancellation: the start is abandoned after its
    /// grace time and run() says so (the service may still be inside its start()); a late success is stopped.
    @Test func runThrowsStartAbandonedAfterAStopRequestedDuringAStubbornStart() async throws {
        let gate = Gate()
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate)], gracefulShutdownTimeout: .milliseconds(50))
        let runner = ServiceRunner(stubborn, signals: [])
        let run = Task { try await runner.run() }
        #expect(await eventually { stubborn.startCount == 1 })
        runner.requestStop()
        let result = await run.result
        gate.open()
        #expect(throws: LifecycleError.startAbandoned(stubborn.serviceID)) { try result.get() }
        #expect(await eventually { stubborn.stopCount == 1 })
    }

    /// A start cancelled by a stop request ends, leaving a background task that ignores cancellation;
    /// the failed start's tasks are awaited for up to gracefulShutdownTimeout (10 s). An escalation
    /// ("an escalation abandons it at once", "the process exits promptly") does not cut that wait.
    @Test func anEscalationDoesNotWaitOutAFailedStartsStubbornTask() async throws {
        let taskGate = Gate()
        let holder = RunnerBox()
        let service = GracefulService(name: "leaves-a-stubborn-task", grace: .seconds(10)) { service in
            try service.addTask { await taskGate.wait() }
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
            throw CancellationError()
        }
        holder.service = service
        let runner = ServiceRunner(service, signals: [])
        let returned = Locked(false)
        let run = Task {
            _ = try? await runner.run()
            returned.withLock { $0 = true }
        }
        #expect(await eventually { service.state == .starting })
        try await Task.sleep(for: .milliseconds(20))
        runner.requestStop()
        #expect(await eventually { service.state == .failed })
        runner.escalate(signal: 2)
        #expect(
            await eventually(within: .seconds(30)) { returned.withLock { $0 } },
            "run() still waits the 10 s grace for the failed start's task after the escalation")
        taskGate.open()
        _ = await run.result
    }

    /// Two trees sharing services, with stops, cancellations and escalations at random moments.
    @Test func twoTreesSharingServicesUnderRandomStops() async throws {
        for round in 0..<40 {
            let ledger = Ledger()
            let shared = LedgerService("shared", ledger: ledger, delay: .milliseconds(round % 3), addsTask: true)
            let a1 = LedgerService("a1", ledger: ledger, delay: .milliseconds(1), dependencies: [shared])
            let b1 = LedgerService("b1", ledger: ledger, delay: .milliseconds(2))
            let rootA = LedgerService("rootA", ledger: ledger, delay: .zero, dependencies: [Parallel(a1, b1)])
            let rootB = LedgerService(
                "rootB", ledger: ledger, delay: .zero,
                dependencies: [Parallel(shared, LedgerService("c", ledger: ledger, delay: .milliseconds(1)))])
            let runnerA = ServiceRunner(rootA, signals: [])
            let runnerB = ServiceRunner(rootB, signals: [])
            let eventsA = collect(runnerA.events())
            let eventsB = collect(runnerB.events())
            let runA = Task { try await runnerA.run() }
            let runB = Task { try await runnerB.run() }
            try await Task.sleep(for: .microseconds((round * 337) % 5000))
            switch round % 5 {
            case 0:
                runnerA.requestStop()
                runnerB.requestStop()
            case 1:
                runA.cancel()
                _ = try? await runnerB.stop()
            case 2:
                runnerB.requestStop()
                runnerB.escalate(signal: 2)
                runnerA.requestStop()
            case 3:
                async let x: Void? = try? runnerA.stop()
                async let y: Void? = try? runnerB.stop()
                _ = await (x, y)
            default:
                runB.cancel()
                runnerA.requestStop()
                runnerA.escalate(signal: 15)
            }
            _ = await runA.result
            _ = await runB.result
            // A tree that releases a shared service still held by the other emits no step for it:
            // check steps and chains per stream, not the final state.
            expectLegalSteps(await eventsA.value)
            expectLegalSteps(await eventsB.value)
            #expect(await eventually(within: .seconds(30)) { ledger.isBalanced }, "round \(round): \(ledger.summary)")
            #expect(await eventually(within: .seconds(30)) { ledger.tasksEnded }, "round \(round)")
            #expect(shared.state != .running && shared.state != .starting, "round \(round): \(shared.state)")
        }
    }

    // MARK: Stops at every moment of a start

    @Test func stopsRequestedAtEveryMomentOfAMixedParallelStart() async throws {
        for round in 0..<60 {
            let ledger = Ledger()
            let gate = Gate()
            let a = LedgerService("a", ledger: ledger, delay: .milliseconds(round % 7))
            let b = LedgerService("b", ledger: ledger, delay: .milliseconds(round % 5), addsTask: true)
            let c = LedgerService(
                "c", ledger: ledger, delay: .zero, ignoresCancellation: gate, grace: .milliseconds(30))
            let d = LedgerService("d", ledger: ledger, delay: .milliseconds(1), dependencies: [a])
            let root = LedgerService("root", ledger: ledger, delay: .zero, dependencies: [a, Parallel(b, c, d)])
            let runner = ServiceRunner(root, signals: [])
            let events = collect(runner.events())
            let run = Task { try await runner.run() }
            try await Task.sleep(for: .microseconds(round * 150))
            switch round % 4 {
            case 0: runner.requestStop()
            case 1: _ = try? await runner.stop()
            case 2: run.cancel()
            default:
                runner.requestStop()
                runner.escalate(signal: 2)
            }
            if round % 3 == 0 { gate.open() }
            let result = await run.result
            gate.open()
            _ = try? await runner.stop()
            let received = await events.value
            expectLegal(received)
            // Every start that returned is stopped exactly once, by the tree or by the late-return stop.
            #expect(
                await eventually(within: .seconds(30)) { ledger.isBalanced },
                "round \(round) (\(result)): \(ledger.summary)")
            #expect(await eventually(within: .seconds(30)) { ledger.tasksEnded })
            if case .failure(let error) = result {
                let documented =
                    error is CancellationError || error is LifecycleError
                #expect(documented, "round \(round): undocumented error \(error)")
            }
        }
    }

    // MARK: Concurrent callers

    @Test func manyConcurrentStopsAndWaitsDuringAStartAllReturn() async throws {
        for _ in 0..<30 {
            let ledger = Ledger()
            let root = LedgerService(
                "root", ledger: ledger, delay: .milliseconds(2),
                dependencies: [
                    Parallel(
                        LedgerService("x", ledger: ledger, delay: .milliseconds(3)),
                        LedgerService("y", ledger: ledger, delay: .milliseconds(1)))
                ])
            let runner = ServiceRunner(root, signals: [])
            let start = Task { try await runner.start() }
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        if i % 2 == 0 { _ = try? await runner.stop() } else { _ = try? await runner.wait() }
                    }
                }
            }
            _ = await start.result
            try? await runner.stop()
            #expect(await eventually(within: .seconds(30)) { ledger.isBalanced }, "\(ledger.summary)")
        }
    }

    // MARK: Errors

    /// README: "A start() that throws … is rethrown". A dependency whose background task throws a
    /// non-cancellation error when cancelled during the rollback must not replace the start's error.
    @Test func aTaskThatThrowsWhenCancelledDuringARollbackDoesNotReplaceTheStartsError() async throws {
        let dep = ClosureServiceWithTask(name: "dep")
        let root = ClosureService(name: "root", dependencies: [dep]) { throw ProbeError(name: "root") }
        await #expect(throws: ProbeError(name: "root")) {
            try await ServiceRunner(root, signals: []).run()
        }
    }

    /// wait() after the caller's start() was cancelled (a cancellation, not a request): documented to
    /// return or throw, never to hang.
    @Test func waitAfterACancelledStartReturns() async throws {
        let gate = Gate()
        let slow = ScriptedService("slow", starts: [.untilCancelled])
        let runner = ServiceRunner(slow, signals: [])
        let start = Task { try await runner.start() }
        #expect(await eventually { slow.startCount == 1 })
        start.cancel()
        _ = await start.result
        let returned = Locked(false)
        let waiter = Task {
            _ = try? await runner.wait()
            returned.withLock { $0 = true }
        }
        #expect(await eventually(within: .seconds(30)) { returned.withLock { $0 } })
        waiter.cancel()
        gate.open()
        try? await runner.stop()
    }
}

// MARK: - Helpers

/// Each step is in the table and each service's steps chain (the end state is not checked).
func expectLegalSteps(_ events: [LifecycleEvent], sourceLocation: SourceLocation = #_sourceLocation) {
    var last: [ServiceID: ServiceState] = [:]
    for event in events where event.isTransition {
        #expect(event.from.canMove(to: event.to), "illegal step \(event)", sourceLocation: sourceLocation)
        if let previous = last[event.service] {
            #expect(
                previous == event.from, "\(event.service) jumped from \(previous) to \(event)",
                sourceLocation: sourceLocation)
        }
        last[event.service] = event.to
    }
}

/// Counts successful starts, stops and task ends per service.
final class Ledger: Sendable {
    private let state = Locked((started: [String: Int](), stopped: [String: Int](), tasksBegan: 0, tasksEnded: 0))
    func started(_ name: String) { state.withLock { $0.started[name, default: 0] += 1 } }
    func stopped(_ name: String) { state.withLock { $0.stopped[name, default: 0] += 1 } }
    func taskBegan() { state.withLock { $0.tasksBegan += 1 } }
    func taskEnded() { state.withLock { $0.tasksEnded += 1 } }
    var isBalanced: Bool { state.withLock { $0.started == $0.stopped.filter { $0.value > 0 } } }
    var tasksEnded: Bool { state.withLock { $0.tasksBegan == $0.tasksEnded } }
    var summary: String { state.withLock { "started \($0.started) stopped \($0.stopped)" } }
}

final class LedgerService: Service {
    let name: String
    let dependencies: Dependencies
    let gracefulShutdownTimeout: Duration
    let ledger: Ledger
    let delay: Duration
    let addsTask: Bool
    let ignoresCancellation: Gate?

    init(
        _ name: String, ledger: Ledger, delay: Duration, dependencies: Dependencies = [], addsTask: Bool = false,
        ignoresCancellation: Gate? = nil, grace: Duration = .seconds(5)
    ) {
        self.name = name
        self.ledger = ledger
        self.delay = delay
        self.dependencies = dependencies
        self.addsTask = addsTask
        self.ignoresCancellation = ignoresCancellation
        self.gracefulShutdownTimeout = grace
    }

    func start() async throws {
        if addsTask {
            ledger.taskBegan()
            try addTask { [ledger] in
                defer { ledger.taskEnded() }
                while true { try await Task.sleep(for: .milliseconds(5)) }
            }
        }
        if let ignoresCancellation { await ignoresCancellation.wait() }
        if delay > .zero { try await Task.sleep(for: delay) }
        ledger.started(name)
    }

    func stop() async throws { ledger.stopped(name) }
}

/// A service with a short grace time and an optional start body.
final class GracefulService: Service {
    let name: String
    let gracefulShutdownTimeout: Duration
    private let body: @Sendable (GracefulService) async throws -> Void
    init(
        name: String, grace: Duration, start body: @escaping @Sendable (GracefulService) async throws -> Void = { _ in }
    ) {
        self.name = name
        self.gracefulShutdownTimeout = grace
        self.body = body
    }
    func start() async throws { try await body(self) }
}

/// A service whose start adds a task that throws `ProbeError("dep-task")` when it is cancelled.
final class ClosureServiceWithTask: Service {
    let name: String
    init(name: String) { self.name = name }
    func start() async throws {
        try addTask {
            do {
                while true { try await Task.sleep(for: .milliseconds(5)) }
            } catch {
                throw ProbeError(name: "dep-task")
            }
        }
    }
}

/// An observer that calls `stop()` on its runner when it sees the root running.
final class StopOnRunningObserver: LifecycleObserver {
    let holder: RunnerBox
    private let called = Locked(false)
    init(holder: RunnerBox) { self.holder = holder }
    var didCall: Bool { called.withLock { $0 } }
    func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events where event.to == .running {
            try? await holder.runner?.stop()
            called.withLock { $0 = true }
        }
    }
}

/// A service whose first life's task throws `ProbeError("told-to-fail")` once `fail` opens; later
/// lives' tasks wait for their cancellation.
private final class FailsInItsFirstLifeWhenTold: Service, Sendable {
    let fail = Gate()
    let name = "told-to-fail"
    private let count = Locked(0)

    var starts: Int { count.withLock { $0 } }

    func start() async throws {
        let life = count.withLock { count in
            count += 1
            return count
        }
        try addTask { [fail] in
            guard life == 1 else {
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
                return
            }
            await fail.wait()
            throw ProbeError(name: "told-to-fail")
        }
    }
}

/// A service whose `start()` adds a task that throws `ProbeError("shared-task")` once `failNow`
/// opens, then waits for `finishStart` before it returns.
private final class TaskFailingDuringItsStart: Service, Sendable {
    let failNow = Gate()
    let finishStart = Gate()
    let name = "shared"

    func start() async throws {
        try addTask { [failNow] in
            await failNow.wait()
            throw ProbeError(name: "shared-task")
        }
        await finishStart.wait()
    }
}
