/// The starting half of the coordinator: an iterative walk over a tree, dependencies first.
///
/// The walk keeps the nodes whose dependencies it is starting on an explicit stack of
/// ``StartFrame``s, a few bytes each, instead of one suspended `async` frame per level: a chain
/// 100,000 deep starts on a flat stack and in little memory. Only a `Parallel` stage makes tasks,
/// one child per member in a task group, each member walked by this same loop.
extension Coordinator {
    /// A node whose dependencies are being started, and the stage it is at.
    struct StartFrame {
        let index: Int
        var nextStage = 0
    }

    /// What asking for a node gave.
    enum Entry {
        /// This walk owns the node's start: its dependencies come next.
        case owned
        /// Nothing to start (already running, or another walk started it): this is the outcome.
        case finished(Result<Void, any Error>)
    }

    /// Makes the node run for one more holder; on throw, the node and everything this call began are down.
    func acquireTree(_ root: Int, of plan: TreePlan, for runner: ServiceRunner) async throws {
        var frames: [StartFrame] = []
        var outcome: Result<Void, any Error>?
        switch await enter(root, of: plan, for: runner) {
        case .owned: frames.append(StartFrame(index: root))
        case .finished(let result): outcome = result
        }
        while true {
            if let result = outcome {
                outcome = nil
                guard let top = frames.last else { return try result.get() }
                switch result {
                case .success:
                    frames[frames.count - 1].nextStage += 1
                case .failure(let error):
                    // A stage failed and is down already: stop the stages before it (DESIGN §4).
                    frames.removeLast()
                    outcome = .failure(await dependenciesFailed(top, of: plan, for: runner, error: error))
                    continue
                }
            }
            let top = frames.last!
            let stages = plan.nodes[top.index].stages
            guard top.nextStage < stages.count else {
                frames.removeLast()
                outcome = await startOwned(top, of: plan, for: runner)
                continue
            }
            // A stop requested while starting: start nothing more (DESIGN §2, requestStop).
            if Task.isCancelled {
                outcome = .failure(CancellationError())
                continue
            }
            let stage = stages[top.nextStage]
            guard stage.count == 1 else {
                outcome = await acquireParallel(stage, of: plan, for: runner)
                continue
            }
            switch await enter(stage[0], of: plan, for: runner) {
            case .owned: frames.append(StartFrame(index: stage[0]))
            case .finished(let result): outcome = result
            }
        }
    }

    /// Asks the node's machine for one more holder, parking in it while another holder's start,
    /// another tree's stop or an abandoned `start()` is in flight; the runner's tree counts the hold.
    func enter(_ index: Int, of plan: TreePlan, for runner: ServiceRunner) async -> Entry {
        let node = plan.nodes[index]
        let id = node.id
        while true {
            let entry: Held
            if let known = held[id] {
                entry = known
            } else {
                let machine = Machine(service: id, state: ServiceTable.shared.state(of: node.record))
                entry = Held(machine: machine, plan: plan, index: index)
                held[id] = entry
            }
            let action = entry.machine.acquireRequested()
            if action == .waitForStop, entry.machine.isFailedLife, let failure = lifeFailures[id],
                treesHolding(id).contains(where: { $0.runner === runner })
            {
                // The tree holds that failed life already, through a service it counted since (a
                // dependent a restart brought back, say): waiting for the life to end would wait for
                // itself. It fails with it, as the trees told of the failure do (DESIGN §4).
                runner.fail(failure)
                return .finished(.failure(failure))
            }
            // Counted at once, also while waiting for another holder's start: this tree is bound to
            // that life, and a task of it failing meanwhile fails this tree too (DESIGN §4).
            let counts: Bool
            switch action {
            case .countHolder, .startDependencies, .waitForStart: counts = true
            case .waitForStop, .waitForEarlierLife: counts = false
            }
            if counts { holdCounted(id, for: runner) }
            do {
                switch action {
                case .countHolder, .startDependencies:
                    break  // no wait, and no suspension: nothing else runs on the actor in between
                case .waitForStart, .waitForStop, .waitForEarlierLife:
                    // Parked in the machine until it hands the continuation back. Cancelling this
                    // holder takes it out of the machine, nothing more. The closures must capture
                    // `self` (through `park`): one that does not is nonisolated, runs off the actor,
                    // and lets other facts reach the machine between the request and the parking.
                    let token = nextNumber()
                    let limit = node.gracefulShutdownTimeout
                    let bound =
                        action == .waitForEarlierLife
                        ? boundEarlierLifeWait(id, token: token, limit: limit, clock: runner.clock) : nil
                    defer { bound?.cancel() }
                    try await withTaskCancellationHandler {
                        try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                            park(continuation, token: token, in: entry)
                        }
                    } onCancel: {
                        Task { await self.waiterCancelled(id, token: token) }
                    }
                }
            } catch is CancellationError where !Task.isCancelled {
                // The holder that was starting it was cancelled, not this one: ask again, and
                // start it for this holder if nobody else has meanwhile.
                if counts { holdReleased(id, for: runner) }
                continue
            } catch LifecycleError.startAbandoned where !Task.isCancelled {
                // The same, with a start() that ignored that holder's cancellation: ask again,
                // which waits until the abandoned start() is over (DESIGN §4).
                if counts { holdReleased(id, for: runner) }
                continue
            } catch {
                if counts { holdReleased(id, for: runner) }
                return .finished(.failure(error))
            }
            switch action {
            case .countHolder, .waitForStart:
                return .finished(.success(()))
            case .waitForStop, .waitForEarlierLife:
                // That stop, or that abandoned start(), is over: ask again.
                if Task.isCancelled { return .finished(.failure(CancellationError())) }
                continue
            case .startDependencies:
                entry.plan = plan
                entry.index = index
                return .owned
            }
        }
    }

    /// The runner's tree holds the service once more (see ``RunningTree/holds``).
    func holdCounted(_ id: ServiceID, for runner: ServiceRunner) {
        runners[ObjectIdentifier(runner)]?.holds[id, default: 0] += 1
    }

    /// The runner's tree let the service go once (its release, or a start that failed).
    func holdReleased(_ id: ServiceID, for runner: ServiceRunner) {
        let key = ObjectIdentifier(runner)
        guard let count = runners[key]?.holds[id] else { return }
        runners[key]?.holds[id] = count > 1 ? count - 1 : nil
    }

    /// A holder waits for an earlier life that is over once its `start()` returned: one abandoned
    /// that ignores its cancellation may never return. If it still runs after `limit`, the holder
    /// leaves the machine and its start fails with ``LifecycleError/earlierStartStillRunning(_:after:)``
    /// (lives never overlap, and a start must not wait forever). A life waiting only for its tasks
    /// is waited for: that wait has a bound of its own.
    private func boundEarlierLifeWait(
        _ id: ServiceID, token: Int, limit: Duration, clock: LifecycleClock
    ) -> Task<Void, Never> {
        Task {
            do { try await clock.sleep(limit) } catch { return }  // cancelled: the wait ended first
            guard let attempt = startsStillRunning[id], !attempt.isWorkOver else { return }
            let error = LifecycleError.earlierStartStillRunning(id, after: limit)
            held[id]?.machine.waiterLeft(token: token)?.resume(throwing: error)
        }
    }

    /// Parks a holder in the machine `acquireRequested()` just told it to wait in, on the actor.
    private func park(_ continuation: Waiter, token: Int, in entry: Held) {
        entry.machine.park(token: token, waiter: continuation)
    }

    /// The node's dependencies are running: call its `start()`; on failure stop them again.
    private func startOwned(_ frame: StartFrame, of plan: TreePlan, for runner: ServiceRunner) async -> Result<
        Void, any Error
    > {
        let node = plan.nodes[frame.index]
        let id = node.id
        if Task.isCancelled {
            return .failure(await dependenciesFailed(frame, of: plan, for: runner, error: CancellationError()))
        }
        // A dependency a restart holds down (DESIGN §10): start once it runs again.
        if !restarts.isEmpty, !(await awaitDependenciesUp(of: node, in: plan)) {
            return .failure(await dependenciesFailed(frame, of: plan, for: runner, error: CancellationError()))
        }
        let entry = held[id]!
        defer { startSettled(id) }
        var life: Int?
        let attempt = StartAttempt()
        do {
            life = emit(try entry.machine.dependenciesStarted(), of: node, for: runner)
            try await Self.callStart(node, life: life!, attempt: attempt, for: runner)
        } catch {
            // `starting → failed` when `start()` was called; nothing to emit when it never was. A
            // `start()` still in flight (abandoned) keeps any new life from beginning until it is over.
            let waiters: [Waiter]
            do {
                let (failed, parked) = try entry.machine.startAttemptFailed(earlierLifeWindsDown: life != nil)
                if let failed { emit(failed, of: node, for: runner, error: error) }
                waiters = parked
            } catch {
                waiters = entry.machine.dependenciesFailed()  // a defect, reported: nobody waits forever
            }
            holdReleased(id, for: runner)
            // The tasks the failed start added end before the failure goes on (DESIGN §4); the state
            // is `failed` already, so no new one can be added.
            let tasks = life.map { ServiceTable.shared.takeTasks(of: node.record, life: $0) } ?? []
            for task in tasks { task.cancel() }
            if life != nil { windDown(id, attempt: attempt, hasTasks: !tasks.isEmpty) }
            // Waiters learn the outcome now; a new life waits until this one wound down.
            resume(waiters, with: error)
            forgetIfUnused(id)
            await awaitFailedLifeTasks(tasks, windingDown: [id], limit: node.gracefulShutdownTimeout, for: runner)
            await rollBack(node.stages.map { .stage($0, plan) }, for: runner)
            return .failure(error)
        }
        do {
            let (running, waiters) = try entry.machine.startReturned()
            emit(running, of: node, for: runner)
            resume(waiters, with: nil)
            // Its dependencies are its own to hold now, for every tree holding it (RunningTree.holds).
            for index in node.stages.joined() { holdReleased(plan.nodes[index].id, for: runner) }
        } catch {
            // The machine refused (a defect, reported): the waiters still learn it, nobody waits forever.
            resume(entry.machine.dependenciesFailed(), with: error)
            holdReleased(id, for: runner)
            forgetIfUnused(id)
            return .failure(error)
        }
        return .success(())
    }

    /// A dependency failed (or the start was cancelled): stop the stages already started, fail the waiters.
    private func dependenciesFailed(
        _ frame: StartFrame, of plan: TreePlan, for runner: ServiceRunner, error: any Error
    ) async -> any Error {
        let node = plan.nodes[frame.index]
        let started = node.stages[..<frame.nextStage]
        await rollBack(started.map { .stage($0, plan) }, for: runner)
        resume(held[node.id]!.machine.dependenciesFailed(), with: error)
        holdReleased(node.id, for: runner)
        startSettled(node.id)
        forgetIfUnused(node.id)
        return error
    }
}
