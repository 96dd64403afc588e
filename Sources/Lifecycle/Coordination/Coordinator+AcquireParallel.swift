/// The parallel half of the start walk: a `Parallel` stage started concurrently, all or nothing.
extension Coordinator {
    /// Starts a parallel stage concurrently, all or nothing: on failure the members that started are stopped.
    ///
    /// A member with no dependencies that nobody holds yet (the common case: a stage of leaves) has
    /// its machine steps taken here on the actor, and its child task only calls `start()`: no actor
    /// hop per member. Any other member is walked by ``acquireTree(_:of:for:)`` in its child task.
    func acquireParallel(_ stage: [Int], of plan: TreePlan, for runner: ServiceRunner) async -> Result<
        Void, any Error
    > {
        var leaves: [(member: Int, life: Int)] = []
        var others: [Int] = []
        var started: [Int] = []
        var firstError: (any Error)?
        for member in stage where firstError == nil {
            let node = plan.nodes[member]
            guard node.stages.isEmpty, held[node.id] == nil else {
                others.append(member)
                continue
            }
            // Nobody holds the service, so `enter` does not suspend.
            switch await enter(member, of: plan, for: runner) {
            case .owned:
                do {
                    leaves.append(
                        (member, emit(try held[node.id]!.machine.dependenciesStarted(), of: node, for: runner)))
                } catch {
                    resume(held[node.id]!.machine.dependenciesFailed(), with: error)
                    holdReleased(node.id, for: runner)
                    forgetIfUnused(node.id)
                    firstError = error
                }
            case .finished(.success):
                started.append(member)
            case .finished(.failure(let error)):
                firstError = error
            }
        }
        if let firstError {
            // Nothing was spawned: give back what was entered, and fail before any `start()` ran.
            for (member, life) in leaves {
                // Never started: no task was added, none to end.
                _ = leafStartEnded(plan.nodes[member], life: life, attempt: nil, for: runner, error: firstError)
            }
            if !started.isEmpty { await rollBack([.stage(started, plan)], for: runner) }
            return .failure(firstError)
        }
        var lives: [Int: Int] = [:]
        var attempts: [Int: StartAttempt] = [:]
        var leftoverTasks: [Task<Void, Never>] = []
        var windingDownIDs: [ServiceID] = []
        var longestGrace = Duration.zero
        await withTaskGroup(of: (Int, Bool, (any Error)?).self) { group in
            for (member, life) in leaves {
                let node = plan.nodes[member]
                lives[member] = life
                let attempt = StartAttempt()
                attempts[member] = attempt
                group.addTask {
                    do {
                        try await Self.callStart(node, life: life, attempt: attempt, for: runner)
                        return (member, true, nil)
                    } catch {
                        return (member, true, error)
                    }
                }
            }
            for member in others {
                group.addTask {
                    do {
                        try await self.acquireTree(member, of: plan, for: runner)
                        return (member, false, nil)
                    } catch {
                        return (member, false, error)
                    }
                }
            }
            for await (member, isLeaf, error) in group {
                if isLeaf {
                    let node = plan.nodes[member]
                    let tasks = leafStartEnded(
                        node, life: lives[member]!, attempt: attempts[member], for: runner, error: error)
                    if !tasks.isEmpty {
                        leftoverTasks += tasks
                        windingDownIDs.append(node.id)
                        longestGrace = max(longestGrace, node.gracefulShutdownTimeout)
                    }
                }
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
        guard let firstError else { return .success(()) }
        await awaitFailedLifeTasks(leftoverTasks, windingDown: windingDownIDs, limit: longestGrace, for: runner)
        if !started.isEmpty { await rollBack([.stage(started, plan)], for: runner) }
        return .failure(firstError)
    }

    /// The `start()` of a leaf started by ``acquireParallel(_:of:for:)`` returned or threw.
    ///
    /// - Returns: on failure, the background tasks the failed start added, cancelled already: the
    ///   caller awaits them before the failure goes on, then reports ``failedLifePartEnded(_:)``.
    private func leafStartEnded(
        _ node: TreePlan.Node, life: Int, attempt: StartAttempt?, for runner: ServiceRunner, error: (any Error)?
    ) -> [Task<Void, Never>] {
        let entry = held[node.id]!
        defer { startSettled(node.id) }
        guard let error else {
            do {
                let (running, waiters) = try entry.machine.startReturned()
                emit(running, of: node, for: runner)
                resume(waiters, with: nil)
            } catch {
                resume(entry.machine.dependenciesFailed(), with: error)  // a defect: nobody waits forever
                holdReleased(node.id, for: runner)
            }
            return []
        }
        holdReleased(node.id, for: runner)
        var tasks: [Task<Void, Never>] = []
        do {
            let (failed, waiters) = try entry.machine.startFailed(earlierLifeWindsDown: true)
            emit(failed, of: node, for: runner, error: error)
            // The state is `failed` now, so no task can be added after these are taken.
            tasks = ServiceTable.shared.takeTasks(of: node.record, life: life)
            for task in tasks { task.cancel() }
            windDown(node.id, attempt: attempt, hasTasks: !tasks.isEmpty)
            resume(waiters, with: error)
        } catch {
            resume(entry.machine.dependenciesFailed(), with: error)  // a defect: nobody waits forever
        }
        forgetIfUnused(node.id)
        return tasks
    }
}
