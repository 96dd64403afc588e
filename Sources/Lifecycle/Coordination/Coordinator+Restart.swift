/// Supervision (DESIGN §10): a background task that throws restarts its service, and every service
/// that depends on it in every tree holding it, while the trees stay up.
///
/// A restart is a task of its own, tracked by the runner whose clock times it (an escalation of that
/// runner cancels it). It stops its members that run, dependents first, with the release walk's
/// `.suspend` step (holders stay counted, dependencies are not let go), sleeps the backoff, then
/// starts them again, dependencies first. Meanwhile the machines hold them in `.restarting`: new
/// holders wait until they run again, and a tree that stops lets them go without a second `stop()`.
extension Coordinator {
    /// One restart in progress.
    final class Restart {
        /// The services it takes, in start order.
        let members: [ServiceID]
        /// The runner whose clock times the backoff.
        let runner: ServiceRunner
        /// The failure that began it: what the trees fail with if it gives up.
        let error: any Error
        let firstDelay: Duration
        var task: Task<Void, Never>?

        init(members: [ServiceID], runner: ServiceRunner, error: any Error, firstDelay: Duration) {
            self.members = members
            self.runner = runner
            self.error = error
            self.firstDelay = firstDelay
        }
    }

    /// A background task of `id` failed while it runs: restarts it when its policy and the window
    /// allow, and says so; `false` when the trees must fail instead (DESIGN §4).
    ///
    /// Restarts may overlap (a service restarted by one fails again while another is still
    /// starting others): each takes every member that runs, and the machines decide which one
    /// starts a member again, so no member is stopped or started twice.
    func restartIfAllowed(_ id: ServiceID, after error: any Error) -> Bool {
        guard let entry = held[id], entry.machine.isRestartable,
            let runner = runnersHolding(id).first
        else { return false }
        let decision = restartHistories[id, default: RestartPlan.History()]
            .failed(at: runner.clock.elapsed(), policy: entry.node.restartPolicy)
        guard case .restart(let attempt, let delay) = decision else { return false }
        emitRestartScheduled(of: id, attempt: attempt, delay: delay)
        let members = RestartPlan.members(restarting: id, dependencies: heldDependencies())
        let number = nextNumber()
        let restart = Restart(members: members, runner: runner, error: error, firstDelay: delay)
        for member in members { restartOf[member] = number }
        restarts[number] = restart
        let task = Task { await self.performRestart(number) }
        restart.task = task
        // Tracked by the runner: its escalation cancels the restart as it cancels a rollback.
        Task {
            _ = await runner.runUncancelled {
                await withTaskCancellationHandler {
                    await task.value
                } onCancel: {
                    task.cancel()
                }
                return []
            }
        }
        return true
    }

    /// What each service held here depends on (its stages' services), for the restart's members.
    private func heldDependencies() -> [ServiceID: [ServiceID]] {
        held.mapValues { entry in entry.node.stages.joined().map { entry.plan.nodes[$0].id } }
    }

    private func emitRestartScheduled(of id: ServiceID, attempt: Int, delay: Duration) {
        let state = held[id]?.machine.state ?? .failed
        for runner in runnersHolding(id) {
            runner.emit(
                LifecycleEvent(
                    service: id, from: state, to: state, time: runner.clock.elapsed(),
                    kind: .restartScheduled(attempt: attempt, delay: delay)))
        }
    }

    // MARK: The restart's task

    /// Stops the members, waits the backoff, starts them again; a start that fails is retried after
    /// the next backoff while its service's policy allows, else the trees fail.
    private func performRestart(_ number: Int) async {
        guard let restart = restarts[number] else { return }
        for member in restart.members.reversed() {
            await awaitStartSettled(member)
            guard held[member]?.machine.isRestartable == true else { continue }
            _ = await walkRelease([.suspend(member)], for: restart.runner)
        }
        var delay = restart.firstDelay
        var next = 0
        while true {
            do {
                try await restart.runner.clock.sleep(delay)
            } catch {
                return giveUp(number, error: restart.error)  // quietly when no member is left
            }
            guard let (member, error, canRetry) = await startMembers(of: restart, from: &next) else {
                return finish(number)
            }
            // Cancelled (an escalation, or a tree letting a member go): the trees learn the failure
            // that began the restart, not the cancellation.
            if Task.isCancelled { return giveUp(number, error: restart.error) }
            guard canRetry, let entry = held[member], let runner = runnersHolding(member).first
            else { return giveUp(number, error: error) }
            let decision = restartHistories[member, default: RestartPlan.History()]
                .failed(at: runner.clock.elapsed(), policy: entry.node.restartPolicy)
            guard case .restart(let attempt, let nextDelay) = decision else { return giveUp(number, error: error) }
            emitRestartScheduled(of: member, attempt: attempt, delay: nextDelay)
            delay = nextDelay
        }
    }

    /// Starts the members still held down, dependencies first, from `next` on.
    ///
    /// - Returns: `nil` when every one is up (or let go); else the member whose start failed, the
    ///   error, and whether it may be tried again (not when its `start()` still runs: two lives of
    ///   a service never overlap).
    private func startMembers(of restart: Restart, from next: inout Int) async -> (ServiceID, any Error, Bool)? {
        while next < restart.members.count {
            let member = restart.members[next]
            guard let entry = held[member], entry.machine.isRestarting, entry.machine.holders > 0 else {
                next += 1
                continue
            }
            guard await awaitDependenciesUp(of: entry.node, in: entry.plan), !Task.isCancelled else {
                return (member, CancellationError(), false)
            }
            let node = entry.node
            let life: Int
            do {
                life = emitToHolders(try entry.machine.restartStartBegan(), of: node)
            } catch {
                next += 1  // let go meanwhile, or not down: nothing to start
                continue
            }
            let attempt = StartAttempt()
            do {
                try await Self.callStart(node, life: life, attempt: attempt, for: restart.runner)
            } catch {
                if let (failed, waiters) = try? entry.machine.restartStartFailed() {
                    emitToHolders(failed, of: node, error: error)
                    resume(waiters, with: nil)
                }
                let tasks = ServiceTable.shared.takeTasks(of: node.record, life: life)
                for task in tasks { task.cancel() }
                await Self.awaitEnded(tasks, limit: node.gracefulShutdownTimeout, for: restart.runner)
                let hasEnded = await Self.awaitWorkEnded(
                    attempt, limit: node.gracefulShutdownTimeout, for: restart.runner)
                return (member, error, hasEnded)
            }
            if let (running, waiters) = try? entry.machine.restartStartReturned() {
                emitToHolders(running, of: node)
                resume(waiters, with: nil)
            }
            next += 1
        }
        return nil
    }

    /// Waits until the task running an ended `start()` is over, for at most `limit`, and no
    /// longer once the runner escalates; returns whether it is over.
    private nonisolated static func awaitWorkEnded(
        _ attempt: StartAttempt, limit: Duration, for runner: ServiceRunner
    ) async -> Bool {
        let wait = StartAttempt()
        guard attempt.whenWorkEnds({ wait.finish(.returned) }) else { return true }
        runner.startCancelled(wait, grace: limit)
        if case .returned = await wait.outcome() { return true }
        return false
    }

    /// The restart is over: every member runs again (or was let go).
    private func finish(_ number: Int) {
        guard let restart = restarts.removeValue(forKey: number) else { return }
        for member in restart.members where restartOf[member] == number { restartOf[member] = nil }
        for member in restart.members {
            guard let (life, error) = deferredFailures.removeValue(forKey: member) else { continue }
            backgroundTaskFailed(member, life: life, error)
        }
    }

    /// The restart cannot go on: every tree holding a member still held down fails (DESIGN §4); their
    /// stops let the members go.
    private func giveUp(_ number: Int, error: any Error) {
        guard let restart = restarts[number] else { return }
        let down = restart.members.filter { held[$0]?.machine.isRestarting == true }
        finish(number)
        var failed: Set<ObjectIdentifier> = []
        for member in down {
            // A tree already stopping (an escalation) keeps the cause it has: its stop lets the members go.
            for runner in runnersHolding(member) where failed.insert(ObjectIdentifier(runner)).inserted {
                if !runner.isStopRequested { runner.fail(error) }
            }
        }
    }

    // MARK: Waiting around a restart

    /// The last holder let a member go: once no member is held down any more, the restart's
    /// backoff ends early (nothing is left to start).
    func restartLeft(_ id: ServiceID) {
        guard let number = restartOf[id], let restart = restarts[number] else { return }
        if !restart.members.contains(where: { held[$0]?.machine.isRestarting == true }) {
            restart.task?.cancel()
        }
    }

    /// A tree lets go of a service whose restart's `start()` runs: cancel it, the stop wins.
    func cancelRestart(holding id: ServiceID) {
        guard let number = restartOf[id] else { return }
        restarts[number]?.task?.cancel()
    }

    /// Waits until no direct dependency of `node` is held down by a restart; `false` when the
    /// waiting task was cancelled.
    func awaitDependenciesUp(of node: TreePlan.Node, in plan: TreePlan) async -> Bool {
        while let blocked = node.stages.joined().lazy.map({ plan.nodes[$0].id }).first(where: {
            self.held[$0]?.machine.isRestarting == true
        }) {
            if Task.isCancelled { return false }
            let token = nextNumber()
            do {
                try await withTaskCancellationHandler {
                    try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                        parkWhileRestarting(continuation, token: token, on: blocked)
                    }
                } onCancel: {
                    Task { await self.waiterCancelled(blocked, token: token) }
                }
            } catch {
                return false
            }
        }
        return true
    }

    /// Parks a waiter in a restarting machine; resumes it at once when the restart let it go.
    private func parkWhileRestarting(_ continuation: Waiter, token: Int, on id: ServiceID) {
        guard let entry = held[id], entry.machine.isRestarting else { return continuation.resume() }
        entry.machine.park(token: token, waiter: continuation)
    }

    /// Waits until a start in flight of the service (another tree's) has ended.
    private func awaitStartSettled(_ id: ServiceID) async {
        while held[id]?.machine.isAcquiring == true {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                registerSettleWaiter(continuation, for: id)
            }
        }
    }

    private func registerSettleWaiter(_ continuation: CheckedContinuation<Void, Never>, for id: ServiceID) {
        guard held[id]?.machine.isAcquiring == true else { return continuation.resume() }
        settleWaiters[id, default: []].append(continuation)
    }

    /// A start of the service ended (it runs, or it is down): a restart waiting for it goes on.
    func startSettled(_ id: ServiceID) {
        guard !settleWaiters.isEmpty, let waiters = settleWaiters.removeValue(forKey: id) else { return }
        for waiter in waiters { waiter.resume() }
    }
}
