/// Waiting around a restart: the starts and stops that meet a restart's members wait until the
/// restart's step on them is over, and the restart waits for the calls already in flight on them.
extension Coordinator {
    /// The last holder let a member go: once no member is held down any more, the restart's
    /// backoff ends early (nothing is left to start).
    func restartLeft(_ id: ServiceID) {
        guard let number = restartOf[id], let restart = restarts[number] else { return }
        let holdsDown = restart.members.contains { restartOf[$0] == number && held[$0]?.machine.isRestarting == true }
        if restart.pending.isEmpty, !holdsDown {
            restart.task?.cancel()
        }
    }

    /// A tree lets go of a service whose restart's `start()` runs: cancel it, the stop wins.
    func cancelRestart(holding id: ServiceID) {
        guard let number = restartOf[id], let restart = restarts[number], let start = restart.startInFlight else {
            return
        }
        restart.startLetGo = true
        start.cancel()
    }

    /// An escalated walk lets go of a service a restart stops or starts: that `stop()` is cancelled
    /// (its walk), that `start()` abandoned, as the walk's own calls are (DESIGN §2).
    func escalateRestartStep(of id: ServiceID) {
        guard let number = restartOf[id], let restart = restarts[number] else { return }
        if held[id]?.machine.isCallingRestartStart == true { restart.startAttempt?.finish(.abandoned) }
        let walks = strands.values.filter { $0.inFlight?.suspends == true && $0.inFlight?.node.id == id }.map(\.walk)
        for walk in Set(walks) { cancelWalk(walk) }
    }

    /// Waits until no direct dependency of `node` is held down by a restart, or about to be (a
    /// pending member, unless `node` is a pending member of that restart too: it goes down first);
    /// `false` when the waiting task was cancelled.
    func awaitDependenciesUp(of node: TreePlan.Node, in plan: TreePlan) async -> Bool {
        func isBlocking(_ id: ServiceID) -> Bool {
            if held[id]?.machine.isRestarting == true { return true }
            return restarts.values.contains { $0.pending.contains(id) && !$0.pending.contains(node.id) }
        }
        while let blocked = node.stages.joined().lazy.map({ plan.nodes[$0].id }).first(where: isBlocking) {
            if Task.isCancelled { return false }
            if held[blocked]?.machine.isRestarting != true {
                await awaitPendingHandled(blocked)
                continue
            }
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

    /// Waits until no call is in flight on the service: a start (another tree's), a stop (a
    /// tree's), or another restart's stop or start. Two lives of a service never overlap.
    ///
    /// A service whose holder still starts its dependencies is not waited for: that start may wait
    /// for this very restart (a dependency pending in it). It is left down, no longer pending, and
    /// its start waits until its dependencies run again.
    func awaitStepsEnded(_ id: ServiceID) async {
        while let entry = held[id], !Task.isCancelled {
            if entry.machine.isCallingStart {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    registerSettleWaiter(continuation, for: id) { $0.isCallingStart }
                }
            } else if entry.machine.hasStepInFlight {
                let token = nextNumber()
                _ = try? await withTaskCancellationHandler {
                    try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                        parkWhileStepInFlight(continuation, token: token, on: id)
                    }
                } onCancel: {
                    Task { await self.waiterCancelled(id, token: token) }
                }
            } else {
                return
            }
        }
    }

    private func parkWhileStepInFlight(_ continuation: Waiter, token: Int, on id: ServiceID) {
        guard let entry = held[id], entry.machine.hasStepInFlight else { return continuation.resume() }
        entry.machine.park(token: token, waiter: continuation)
    }

    /// Waits until the restarts that will stop the service have (or have left it to another).
    private func awaitPendingHandled(_ id: ServiceID) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            registerSettleWaiter(continuation, for: id) { _ in self.isPendingRestart(id) }
        }
    }

    private func registerSettleWaiter(
        _ continuation: CheckedContinuation<Void, Never>, for id: ServiceID, while condition: (Machine) -> Bool
    ) {
        guard let entry = held[id], condition(entry.machine) else { return continuation.resume() }
        settleWaiters[id, default: []].append(continuation)
    }

    /// A start of the service ended (it runs, or it is down), or a restart stopped it: whoever waits
    /// for that goes on (and asks again).
    func startSettled(_ id: ServiceID) {
        guard !settleWaiters.isEmpty, let waiters = settleWaiters.removeValue(forKey: id) else { return }
        for waiter in waiters { waiter.resume() }
    }
}
