/// The actor that carries out what the state machines decide: calls `start`/`stop`, sleeps on the
/// clock, cancels, and emits every transition as an event.
///
/// There is one coordinator per process, so a service shared by two separately running trees has
/// one machine and one count of holders (DESIGN §3). It asks the machine again after every `await`:
/// other requests may have run meanwhile.
actor Coordinator {
    /// The coordinator of the process.
    static let shared = Coordinator()

    /// A service this coordinator is starting, runs, or is stopping.
    private struct Held {
        var machine: StateMachine
        /// The plan and node the service was started from: its stop releases that node's stages.
        var plan: TreePlan
        var index: Int
        var node: TreePlan.Node { plan.nodes[index] }
    }

    private var held: [ServiceID: Held] = [:]
    private var startWaiters: [ServiceID: [CheckedContinuation<Void, any Error>]] = [:]
    private var stopWaiters: [ServiceID: [CheckedContinuation<Void, Never>]] = [:]
    private var runners: [ObjectIdentifier: (runner: ServiceRunner, plan: TreePlan)] = [:]

    // MARK: Trees

    /// Plans the runner's tree and starts it; on failure everything this start began is stopped.
    func start(_ runner: ServiceRunner) async throws {
        let plan = try TreePlan(root: runner.root) { ServiceTable.shared.identify($0) }
        runners[ObjectIdentifier(runner)] = (runner, plan)
        do {
            try await acquire(0, of: plan, for: runner)
        } catch {
            runners[ObjectIdentifier(runner)] = nil
            throw error
        }
    }

    /// Stops the runner's tree and returns every error its stops threw, in the order they happened.
    func stop(_ runner: ServiceRunner) async -> [any Error] {
        guard let plan = runners[ObjectIdentifier(runner)]?.plan else { return [] }
        let errors = await release(0, of: plan, for: runner)
        runners[ObjectIdentifier(runner)] = nil
        return errors
    }

    /// A runner whose tree holds the service, for `service.wait()`.
    func runner(holding id: ServiceID) -> ServiceRunner? {
        runners.values.first { $0.plan.indices[id] != nil }?.runner
    }

    /// Whether the coordinator still keeps anything of the service (a record, or a runner holding it).
    func isTracking(_ id: ServiceID) -> Bool {
        held[id] != nil || startWaiters[id] != nil || stopWaiters[id] != nil
            || runners.values.contains { $0.plan.indices[id] != nil }
    }

    /// A background task of the service threw: every tree holding the service fails (DESIGN §4).
    func backgroundTaskFailed(_ id: ServiceID, _ error: any Error) {
        let action = held[id]?.machine.taskFailed() ?? .report
        let state = held[id]?.machine.state ?? .stopped
        for (runner, plan) in runners.values where plan.indices[id] != nil {
            runner.emit(
                LifecycleEvent(
                    service: id, from: state, to: state, error: error, time: runner.clock.elapsed(), kind: .taskFailed))
            if action == .failTrees { runner.fail(error) }
        }
    }

    // MARK: Starting

    /// Makes the node run for one more holder; on throw, the node and everything this call began are down.
    private func acquire(_ index: Int, of plan: TreePlan, for runner: ServiceRunner) async throws {
        let node = plan.nodes[index]
        let id = node.id
        if held[id] == nil {
            let machine = StateMachine(service: id, state: ServiceTable.shared.state(of: node.service))
            held[id] = Held(machine: machine, plan: plan, index: index)
        }
        switch held[id]!.machine.acquireRequested() {
        case .countHolder:
            return
        case .waitForStart:
            do {
                try await withCheckedThrowingContinuation { startWaiters[id, default: []].append($0) }
            } catch is CancellationError where !Task.isCancelled {
                // The holder that was starting it was cancelled, not this one: start it for this holder.
                try await acquire(index, of: plan, for: runner)
            }
        case .waitForStop:
            await withCheckedContinuation { stopWaiters[id, default: []].append($0) }
            try await acquire(index, of: plan, for: runner)
        case .startDependencies:
            held[id]!.plan = plan
            held[id]!.index = index
            do {
                try await acquireStages(node.stages, of: plan, for: runner)
            } catch {
                held[id]!.machine.dependenciesFailed()
                endStart(of: id, with: error)
                throw error
            }
            do {
                emit(try held[id]!.machine.dependenciesStarted(), of: node, for: runner)
                try await callStart(node, clock: runner.clock)
            } catch {
                if held[id]!.machine.state == .starting {
                    emit(try held[id]!.machine.startFailed(), of: node, for: runner, error: error)
                } else {
                    held[id]!.machine.dependenciesFailed()
                }
                // Waiters learn the outcome now, before the awaits below let a new start begin.
                endStart(of: id, with: error)
                await rollBack(node.stages[...], of: plan, for: runner)
                throw error
            }
            emit(try held[id]!.machine.startReturned(), of: node, for: runner)
            endStart(of: id, with: nil)
        }
    }

    /// Starts the stages in order; on throw, the stages already started are stopped in reverse.
    private func acquireStages(_ stages: [[Int]], of plan: TreePlan, for runner: ServiceRunner) async throws {
        for (position, stage) in stages.enumerated() {
            do {
                // A stop requested while starting: start nothing more (DESIGN §2, requestStop).
                try Task.checkCancellation()
                try await acquireStage(stage, of: plan, for: runner)
            } catch {
                await rollBack(stages[..<position], of: plan, for: runner)
                throw error
            }
        }
        if Task.isCancelled {
            // Cancelled while the last stage started: the service's own start must not follow.
            await rollBack(stages[...], of: plan, for: runner)
            throw CancellationError()
        }
    }

    /// Starts one stage: a lone service directly, a parallel group concurrently, all or nothing.
    private func acquireStage(_ stage: [Int], of plan: TreePlan, for runner: ServiceRunner) async throws {
        if stage.count == 1 {
            return try await acquire(stage[0], of: plan, for: runner)
        }
        var started: [Int] = []
        var firstError: (any Error)?
        await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for member in stage {
                group.addTask {
                    do {
                        try await self.acquire(member, of: plan, for: runner)
                        return (member, nil)
                    } catch {
                        return (member, error)
                    }
                }
            }
            for await (member, error) in group {
                guard let error else {
                    started.append(member)
                    continue
                }
                if firstError == nil {
                    // The first failure in time is the one reported; the rest are cancelled (DESIGN §4).
                    firstError = error
                    group.cancelAll()
                } else if firstError is CancellationError, !(error is CancellationError) {
                    // A cancellation is not a failure: a real error that follows it is more useful.
                    firstError = error
                }
            }
        }
        if let firstError {
            await rollBack([started], of: plan, for: runner)
            throw firstError
        }
    }

    /// Calls `start()`, against the service's `startTimeout` when it has one.
    private func callStart(_ node: TreePlan.Node, clock: LifecycleClock) async throws {
        guard let limit = node.startTimeout else {
            return try await node.service.start()
        }
        let service = node.service
        switch await runWithDeadline(limit, clock: clock, { try await service.start() }) {
        case .returned: return
        case .threw(let error): throw error
        case .timedOut: throw LifecycleError.startTimedOut(node.id, after: limit)
        }
    }

    /// Stops, in reverse, the stages a failed or cancelled start had already started.
    ///
    /// The stops run gracefully even when the start was cancelled by a stop request: only an
    /// escalation cancels them (DESIGN §2). Their errors are visible as events; the start's own
    /// error is what the caller throws.
    private func rollBack(_ stages: ArraySlice<[Int]>, of plan: TreePlan, for runner: ServiceRunner) async {
        _ = await runner.runUncancelled { await self.releaseStages(stages, of: plan, for: runner) }
    }

    /// Hands the outcome of a start to the holders that waited for it.
    private func endStart(of id: ServiceID, with error: (any Error)?) {
        let waiters = startWaiters.removeValue(forKey: id) ?? []
        if error != nil { forgetIfUnused(id) }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    /// Drops the record of a service nobody holds or is starting; its state stays in the table.
    ///
    /// Checked, never assumed: during the awaits of a stop or a rollback another tree may have
    /// begun to start the same service again, and its record must survive.
    private func forgetIfUnused(_ id: ServiceID) {
        guard let machine = held[id]?.machine, machine.holders == 0, !machine.isAcquiring else { return }
        held[id] = nil
    }

    // MARK: Stopping

    /// One holder lets the node go; the last one stops it, then its dependencies in reverse stage order.
    ///
    /// Never throws and never skips: every error is collected and the remaining stops still run.
    private func release(_ index: Int, of plan: TreePlan, for runner: ServiceRunner) async -> [any Error] {
        let id = plan.nodes[index].id
        guard held[id] != nil else {
            return [
                LifecycleError.illegalTransition(
                    id, from: ServiceTable.shared.state(of: plan.nodes[index].service), to: .stopping)
            ]
        }
        let transition: Transition
        do {
            switch try held[id]!.machine.releaseRequested() {
            case .keepRunning: return []
            case .callStop(let stopping): transition = stopping
            }
        } catch {
            return [error]
        }
        // The node as it was started, possibly by another tree: its stages are what it holds.
        let owner = held[id]!
        let node = owner.node
        emit(transition, of: node, for: runner)
        let stopError = await callStop(node, clock: runner.clock)
        var errors: [any Error] = stopError.map { [$0] } ?? []
        do {
            emit(try held[id]!.machine.stopFinished(failed: stopError != nil), of: node, for: runner, error: stopError)
        } catch {
            errors.append(error)
        }
        errors += await releaseStages(node.stages[...], of: owner.plan, for: runner)
        forgetIfUnused(id)
        for waiter in stopWaiters.removeValue(forKey: id) ?? [] { waiter.resume() }
        return errors
    }

    /// Stops stages in reverse order.
    private func releaseStages(_ stages: ArraySlice<[Int]>, of plan: TreePlan, for runner: ServiceRunner) async
        -> [any Error]
    {
        var errors: [any Error] = []
        for stage in stages.reversed() {
            errors += await releaseStage(stage, of: plan, for: runner)
        }
        return errors
    }

    /// Stops one stage: a lone service directly, a parallel group concurrently.
    private func releaseStage(_ stage: [Int], of plan: TreePlan, for runner: ServiceRunner) async -> [any Error] {
        if stage.count == 1 {
            return await release(stage[0], of: plan, for: runner)
        }
        return await withTaskGroup(of: [any Error].self) { group in
            for member in stage {
                group.addTask { await self.release(member, of: plan, for: runner) }
            }
            var errors: [any Error] = []
            for await memberErrors in group { errors += memberErrors }
            return errors
        }
    }

    /// Calls `stop()`, then cancels and awaits the background tasks, all within the graceful timeout.
    ///
    /// Returns the stop's error, or ``LifecycleError/stopTimedOut(_:after:)`` when it was abandoned.
    private func callStop(_ node: TreePlan.Node, clock: LifecycleClock) async -> (any Error)? {
        let service = node.service
        let outcome = await runWithDeadline(node.gracefulShutdownTimeout, clock: clock) {
            var stopError: (any Error)?
            do { try await service.stop() } catch { stopError = error }
            // Background tasks end after the service's own stop() returned (DESIGN §3).
            let tasks = ServiceTable.shared.takeTasks(of: service)
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
            if let stopError { throw stopError }
        }
        switch outcome {
        case .returned:
            return nil
        case .threw(let error):
            return error
        case .timedOut:
            for task in ServiceTable.shared.takeTasks(of: service) { task.cancel() }
            return LifecycleError.stopTimedOut(node.id, after: node.gracefulShutdownTimeout)
        }
    }

    // MARK: Events

    /// Publishes a transition: the synchronous state first, then the event.
    private func emit(
        _ transition: Transition, of node: TreePlan.Node, for runner: ServiceRunner, error: (any Error)? = nil
    ) {
        ServiceTable.shared.setState(transition.to, of: node.service)
        runner.emit(
            LifecycleEvent(
                service: node.id, from: transition.from, to: transition.to, error: error, time: runner.clock.elapsed()))
    }
}
