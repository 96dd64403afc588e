/// Supervision (DESIGN §10): a background task that throws restarts its service, and every service
/// that depends on it in every tree holding it, while the trees stay up.
///
/// A restart is a task of its own, tracked by the runner whose clock times it (an escalation of that
/// runner cancels it, unless another tree holds a member). A tree that stops does not wait for a
/// restart's call on a service another tree still holds; an escalated stop cuts short the restart's
/// call on a service only it held. It stops its members that run, dependents first, with the release walk's
/// `.suspend` step (holders stay counted, dependencies are not let go), sleeps the backoff, then
/// starts them again, dependencies first. Meanwhile the machines hold them in `.restarting`: new
/// holders wait until they run again, and a tree that stops lets them go without a second `stop()`.
///
/// Several restarts may overlap (two services fail at once, or a restarted service fails again
/// while its restart still starts its dependents). Before a restart stops a member it waits for
/// any call in flight on it (a start, a stop, another restart's step); a member another restart
/// already holds down is left to that one, which starts it once the dependencies run again. A
/// member stays *pending* until its restart has stopped it: a failure of its tasks meanwhile joins
/// the restart, and a service that depends on it and is not a member waits before it starts.
extension Coordinator {
    /// One restart in progress.
    final class Restart {
        /// The services it takes, in start order.
        let members: [ServiceID]
        /// The members it has not stopped (or left to another restart) yet.
        var pending: Set<ServiceID>
        /// The runner whose clock times the backoff.
        let runner: ServiceRunner
        /// The failure that began it: what the trees fail with if it gives up.
        let error: any Error
        let firstDelay: Duration
        var task: Task<Void, Never>?
        /// The member `start()` in flight, in a task of its own: its last holder letting it go
        /// cancels it alone (`startLetGo`), the restart goes on with the other members.
        var startInFlight: Task<Void, any Error>?
        /// The outcome of that `start()`: an escalated last holder abandons it.
        var startAttempt: StartAttempt?
        var startLetGo = false

        init(members: [ServiceID], runner: ServiceRunner, error: any Error, firstDelay: Duration) {
            self.members = members
            self.pending = Set(members)
            self.runner = runner
            self.error = error
            self.firstDelay = firstDelay
        }
    }

    /// A background task of `id` failed while it runs: restarts it when its policy and the window
    /// allow, and says so; `false` when the trees must fail instead (DESIGN §4).
    func restartIfAllowed(_ id: ServiceID, after error: any Error) -> Bool {
        // A restart in progress is about to stop it and start it again: the failure joins it.
        if isPendingRestart(id) { return true }
        guard let entry = held[id], entry.machine.isRestartable, let runner = runnersHolding(id).first
        else { return false }
        let decision = restartDecision(id, policy: entry.node.restartPolicy, runner: runner)
        guard case .restart(let attempt, let delay) = decision else { return false }
        let members = RestartPlan.members(restarting: id, dependencies: heldDependencies())
        // Every tree holding a member hears why it restarts: one that holds only a dependent whose
        // start has not reached the failed service yet heard nothing of the failure so far.
        let told = Set(runnersHolding(id).map(ObjectIdentifier.init))
        let affected = runnersHolding(anyOf: members)
        let state = entry.machine.state
        for runner in affected where !told.contains(ObjectIdentifier(runner)) {
            runner.emit(
                LifecycleEvent(
                    service: id, from: state, to: state, error: error, time: runner.clock.elapsed(), kind: .taskFailed))
        }
        emitRestartScheduled(of: id, attempt: attempt, delay: delay, to: affected)
        let number = nextNumber()
        let restart = Restart(members: members, runner: runner, error: error, firstDelay: delay)
        restarts[number] = restart
        let task = Task { await self.performRestart(number) }
        restart.task = task
        // Tracked by the runner: its escalation cancels the restart as it cancels a rollback, unless
        // another tree still holds a member (that tree was not asked to stop).
        Task {
            _ = await runner.runUncancelled {
                await withTaskCancellationHandler {
                    await task.value
                } onCancel: {
                    Task { await self.trackerEscalated(number, runner: runner) }
                }
                return []
            }
        }
        return true
    }

    /// The service failed: decide on its policy and its window, timed on the clock its history
    /// began on (`runner`'s when this is its first failure).
    private func restartDecision(_ id: ServiceID, policy: RestartPolicy, runner: ServiceRunner) -> RestartPlan.Decision
    {
        var timed = restartHistories[id] ?? TimedHistory(clock: runner.clock)
        let decision = timed.history.failed(at: timed.clock.elapsed(), policy: policy)
        restartHistories[id] = timed
        return decision
    }

    /// The runner tracking a restart escalated: the restart ends unless another runner holds one of
    /// its members. The escalated stop does not wait for it either way: letting go of a member only
    /// it held cuts the restart's call on that member short (``escalateRestartStep(of:)``).
    private func trackerEscalated(_ number: Int, runner: ServiceRunner) {
        guard let restart = restarts[number] else { return }
        let isHeldElsewhere = restart.members.contains { member in
            runnersHolding(member).contains { $0 !== runner }
        }
        if !isHeldElsewhere { restart.task?.cancel() }
    }

    /// Whether a restart in progress will stop the service and has not yet.
    func isPendingRestart(_ id: ServiceID) -> Bool {
        restarts.values.contains { $0.pending.contains(id) }
    }

    /// What each service held here depends on (its stages' services), for the restart's members.
    private func heldDependencies() -> [ServiceID: [ServiceID]] {
        held.mapValues { entry in entry.node.stages.joined().map { entry.plan.nodes[$0].id } }
    }

    /// The runners whose trees hold at least one of the services, each once.
    private func runnersHolding(anyOf services: [ServiceID]) -> [ServiceRunner] {
        var seen: Set<ObjectIdentifier> = []
        return services.flatMap(runnersHolding).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    private func emitRestartScheduled(of id: ServiceID, attempt: Int, delay: Duration, to runners: [ServiceRunner]) {
        let state = held[id]?.machine.state ?? .failed
        for runner in runners {
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
        var abandonedStop: (any Error)?
        for member in restart.members.reversed() {
            await awaitStepsEnded(member)
            // Decided and begun at once, on the actor: no other restart or tree takes it meanwhile.
            // Once cancelled (an escalation), it stops nothing more: the tree's stop takes the rest.
            var stopping: (Held, Transition)?
            if !Task.isCancelled, let entry = held[member], entry.machine.isRestartable,
                let transition = try? entry.machine.restartStopBegan()
            {
                stopping = (entry, transition)
            }
            // No longer pending from here: a start that waited for it now waits while it is down.
            restart.pending.remove(member)
            startSettled(member)
            guard let (entry, transition) = stopping else { continue }
            restartOf[member] = number
            let life = emitToHolders(transition, of: entry.node)
            let errors = await walkRelease([.suspend(member, life: life)], for: restart.runner)
            abandonedStop =
                abandonedStop
                ?? errors.first { error in
                    if case LifecycleError.stopTimedOut = error { return true }
                    return false
                }
        }
        // A `stop()` abandoned at its timeout may still run: no new life may begin over it.
        if let abandonedStop { return giveUp(number, error: abandonedStop) }
        var delay = restart.firstDelay
        var next = 0
        while true {
            do {
                try await restart.runner.clock.sleep(delay)
            } catch {
                return giveUp(number, error: restart.error)  // quietly when every tree stops
            }
            guard let (member, error, canRetry) = await startMembers(of: restart, number: number, from: &next) else {
                return finish(number)
            }
            if restart.startLetGo {
                // Its last holder let it go: not a failure of it; the other members go on at once.
                restart.startLetGo = false
                next += 1
                delay = .zero
                continue
            }
            guard canRetry, !Task.isCancelled, let entry = held[member], let runner = runnersHolding(member).first
            else { return giveUp(number, error: error) }
            let decision = restartDecision(member, policy: entry.node.restartPolicy, runner: runner)
            guard case .restart(let attempt, let nextDelay) = decision else { return giveUp(number, error: error) }
            emitRestartScheduled(
                of: member, attempt: attempt, delay: nextDelay, to: runnersHolding(anyOf: restart.members))
            delay = nextDelay
        }
    }

    /// Starts the members still held down, dependencies first, from `next` on.
    ///
    /// - Returns: `nil` when every one is up (or let go); else the member whose start failed, the
    ///   error, and whether it may be tried again (not when its `start()` still runs: two lives of
    ///   a service never overlap).
    private func startMembers(of restart: Restart, number: Int, from next: inout Int) async -> (
        ServiceID, any Error, Bool
    )? {
        while next < restart.members.count {
            let member = restart.members[next]
            // Let go meanwhile, up again, or held down by a later restart that starts it itself.
            guard restartOf[member] == number, let entry = held[member], entry.machine.isRestarting,
                entry.machine.holders > 0
            else {
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
            let runner = restart.runner
            let starting = Task { [node, life, attempt, runner] in
                try await Self.callStart(node, life: life, attempt: attempt, for: runner, restarting: true)
            }
            restart.startInFlight = starting
            restart.startAttempt = attempt
            defer {
                restart.startInFlight = nil
                restart.startAttempt = nil
            }
            do {
                // Cancelling the restart (an escalation) cancels the start; a release cancels it alone.
                try await withTaskCancellationHandler {
                    try await starting.value
                } onCancel: {
                    starting.cancel()
                }
            } catch {
                // The tasks the failed life added end before the machine lets it go, so nothing it
                // depends on stops meanwhile (its step is still in flight); their failures are only
                // reported. An abandoned `start()` is waited for after: no retry begins over it.
                restartWindingDown.insert(member)
                let tasks = ServiceTable.shared.takeTasks(of: node.record, life: life)
                for task in tasks { task.cancel() }
                // It winds down as a first start's failed life does: once the restart lets it go, a
                // new life waits for that start() and, even past an escalation, for its tasks
                // (bounded by the grace time) (DESIGN §4).
                windDown(member, attempt: attempt, hasTasks: !tasks.isEmpty)
                await awaitFailedLifeTasks(
                    tasks, windingDown: [member], limit: node.gracefulShutdownTimeout, for: restart.runner)
                restartWindingDown.remove(member)
                if let (failed, waiters) = try? entry.machine.restartStartFailed() {
                    emitToHolders(failed, of: node, error: error)
                    resume(waiters, with: nil)
                }
                let hasEnded = await Self.awaitWorkEnded(
                    attempt, limit: node.gracefulShutdownTimeout, for: restart.runner)
                return (member, error, hasEnded)
            }
            // A start let go (cancelled) that returned anyway: the flag was for it alone, not for a
            // later member's failure.
            restart.startLetGo = false
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
    }

    /// The restart cannot go on: every tree holding a member it still holds down fails (DESIGN §4);
    /// their stops let the members go. A tree already stopping is left to its stop: the stop wins.
    private func giveUp(_ number: Int, error: any Error) {
        guard let restart = restarts[number] else { return }
        let down = restart.members.filter { restartOf[$0] == number && held[$0]?.machine.isRestarting == true }
        finish(number)
        var failed: Set<ObjectIdentifier> = []
        for member in down {
            for runner in runnersHolding(member)
            where !runner.isStopRequested && failed.insert(ObjectIdentifier(runner)).inserted {
                runner.fail(error)
            }
        }
    }
}
