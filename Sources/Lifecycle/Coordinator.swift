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
    struct Held {
        var machine: StateMachine
        /// The plan and node the service was started from: its stop releases that node's stages.
        var plan: TreePlan
        var index: Int
        var node: TreePlan.Node { plan.nodes[index] }
    }

    var held: [ServiceID: Held] = [:]
    private var startWaiters: [ServiceID: [CheckedContinuation<Void, any Error>]] = [:]
    var stopWaiters: [ServiceID: [CheckedContinuation<Void, Never>]] = [:]
    private var runners: [ObjectIdentifier: (runner: ServiceRunner, plan: TreePlan)] = [:]
    /// The releases in progress and their strands (see `ReleaseWalk.swift`).
    var walks: [Int: Walk] = [:]
    var strands: [Int: Strand] = [:]
    private var lastNumber = 0

    /// A number not handed out before, for walks, strands, drivers and claims.
    func nextNumber() -> Int {
        lastNumber += 1
        return lastNumber
    }

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
        let errors = await walkRelease([.release(0, plan)], for: runner)
        runners[ObjectIdentifier(runner)] = nil
        return errors
    }

    /// A runner whose tree holds the service, for `service.wait()`.
    func runner(holding id: ServiceID) -> ServiceRunner? {
        runners.values.first { $0.plan.indices[id] != nil }?.runner
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
            try await withCheckedThrowingContinuation { startWaiters[id, default: []].append($0) }
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
                _ = await walkRelease(node.stages.map { .stage($0, plan) }, for: runner)
                endStart(of: id, with: error)
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
                _ = await walkRelease(stages[..<position].map { .stage($0, plan) }, for: runner)
                throw error
            }
        }
        try Task.checkCancellation()
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
                }
            }
        }
        if let firstError {
            if !started.isEmpty { _ = await walkRelease([.stage(started, plan)], for: runner) }
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

    /// Hands the outcome of a start to the holders that waited for it.
    private func endStart(of id: ServiceID, with error: (any Error)?) {
        let waiters = startWaiters.removeValue(forKey: id) ?? []
        if error != nil, held[id]?.machine.holders == 0 { held[id] = nil }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    // MARK: Events

    /// Publishes a transition: the synchronous state first, then the event.
    func emit(
        _ transition: Transition, of node: TreePlan.Node, for runner: ServiceRunner, error: (any Error)? = nil
    ) {
        ServiceTable.shared.setState(transition.to, of: node.service)
        runner.emit(
            LifecycleEvent(
                service: node.id, from: transition.from, to: transition.to, error: error, time: runner.clock.elapsed()))
    }
}
