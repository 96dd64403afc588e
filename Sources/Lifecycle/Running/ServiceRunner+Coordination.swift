/// The runner's side of the coordination: the coordinator and the signal handling report facts
/// here, the runner's machine decides, and these methods carry its decisions out.
extension ServiceRunner {
    /// Delivers an event to every subscriber; the event is made only when someone subscribed.
    func emit(_ event: @autoclosure () -> LifecycleEvent) {
        hub.emit(event())
    }

    /// The tree failed (a background task threw): record the failure, request the stop, wake `wait()`
    /// with it, and stop the tree even when nobody is in `run()` (DESIGN §4); a later `stop()` joins.
    func fail(_ error: any Error) {
        requestStop(cause: .failure, failure: error)
        stopWithoutWaiting()
    }

    /// Whether a stop of the tree was asked for (or the tree failed): a restart that gives up then
    /// leaves it to that stop rather than record a failure (DESIGN §10, the stop wins).
    var isStopRequested: Bool { state.withLock { $0.machine.stopCause != nil } }

    /// Performs the stop in a task of its own, for a stop nobody may wait for here (a failure, or a
    /// `stop()` from the tree's own work); a later `stop()` joins it.
    func stopWithoutWaiting() {
        Task { _ = try? await self.stopTree() }
    }

    /// Records why the tree stops (first cause wins), emits it, cancels a start in flight, wakes `wait()`.
    ///
    /// Returns whether this call was the first request.
    @discardableResult
    func requestStop(cause: StopCause, failure: (any Error)? = nil) -> Bool {
        let begun = state.withLock { state in
            let begun = state.machine.stopRequested(cause, failure: failure)
            return begun.map { take($0, in: &state) }
        }
        guard let begun else { return false }
        begun.resume()
        return true
    }

    /// A signal arrived while `run()` listens: the first request stops, any later one escalates.
    func signalArrived(_ number: Int32) {
        let action = state.withLock { state in
            switch state.machine.signalArrived(number) {
            case .stop(let begun): return Decided.stop(take(begun, in: &state))
            case .escalate: return Decided.escalate(takeEscalation(in: &state))
            }
        }
        switch action {
        case .stop(let begun): begun.resume()
        case .escalate(let escalation): perform(escalation, cause: .escalation(number))
        }
    }

    /// Stops the stops and starts in flight, and makes the remaining stops run already cancelled: a
    /// second signal while stopping (DESIGN §2). Also makes `run()` count the stops'
    /// `CancellationError`s as the escalation's doing rather than as failures.
    func escalate(signal: Int32) {
        let escalation = state.withLock { state in
            _ = state.machine.escalated()
            return takeEscalation(in: &state)
        }
        perform(escalation, cause: .escalation(signal))
    }

    /// Performs (or joins) the stop and returns every error the stops threw.
    ///
    /// The request and the stop task are made under one lock, after the machine accepted the call:
    /// a refused call records nothing, and the cause is emitted before the stop task exists (DESIGN §6).
    func stopTree() async throws(LifecycleError) -> [any Error] {
        let (task, begun): (Task<[any Error], Never>, Begun?) = try state.withLock {
            state throws(LifecycleError) in
            let (request, action) = try state.machine.stopCalled()
            let begun = request.map { take($0, in: &state) }
            switch action {
            case .join:
                return (state.stopTask!, begun)
            case .create(let cancelled):
                let task = makeStopTask(after: state.startTask, changes: state.changes.values.map(\.task))
                state.stopTask = task
                // An escalation that came before the stop task existed still cancels it.
                if cancelled { task.cancel() }
                return (task, begun)
            }
        }
        begun?.resume()
        // Cancelling the caller does not cancel the stop, but bounds its wait for observers (DESIGN §6).
        return await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            giveUpOnObservers(after: Self.observerGrace)
        }
    }

    /// A start in flight was cancelled: it gets its grace time, or is abandoned at once after an escalation.
    func startCancelled(_ attempt: StartAttempt, grace: Duration) {
        let isEscalated = state.withLock { state in
            if !state.machine.isEscalated { state.cancelledStarts[ObjectIdentifier(attempt)] = attempt }
            return state.machine.isEscalated
        }
        if isEscalated {
            attempt.finish(.abandoned)
        } else {
            attempt.cancelled(grace: grace, clock: clock)
        }
    }

    /// Runs `operation` in a task of its own, untouched by the cancellation of the caller's task.
    ///
    /// For the stops of a rollback: a stop request cancels the start, yet the services it already
    /// started must stop gracefully. An escalation, before or during, cancels them as it does every stop.
    func runUncancelled(_ operation: @escaping @Sendable () async -> [any Error]) async -> [any Error] {
        let task = Task { await operation() }
        let token: Int? = state.withLock { state in
            if state.machine.isEscalated { return nil }
            state.lastRollback += 1
            state.rollbacks[state.lastRollback] = task
            return state.lastRollback
        }
        guard let token else {
            task.cancel()
            return await task.value
        }
        let errors = await task.value
        _ = state.withLock { $0.rollbacks.removeValue(forKey: token) }
        return errors
    }

    /// The failure recorded for the tree (a background task's error), if any; `withRunning` throws it
    /// as `run()` does.
    var failure: (any Error)? { state.withLock { $0.machine.failure } }

    /// Ends the event streams and waits until every observer consumed the last event, or, after an
    /// escalation or a cancellation of the waiting task, at most ``observerGrace`` more.
    func finishEvents() async {
        shutdown.stopEnded()
        hub.finish()
        await withTaskCancellationHandler {
            await observers.waitForAll()
        } onCancel: {
            giveUpOnObservers(after: Self.observerGrace)
        }
    }

    /// Resumes a `wait()` as the machine decided.
    static func resume(_ waiter: CheckedContinuation<Void, any Error>, with result: RunnerStateMachine.WaitResult) {
        switch result {
        case .returned: waiter.resume()
        case .threw(let error): waiter.resume(throwing: error)
        }
    }

    // MARK: Carrying out

    /// A first stop request, taken out of the lock: the waiters and the start to cancel.
    struct Begun {
        let waiters: [CheckedContinuation<Void, any Error>]
        let start: Task<Void, any Error>?
        /// `add` calls in flight: a stop request cancels them (they roll back).
        let adds: [Task<Void, any Error>]
        let result: RunnerStateMachine.WaitResult

        func resume() {
            start?.cancel()
            for add in adds { add.cancel() }
            for waiter in waiters { ServiceRunner.resume(waiter, with: result) }
        }
    }

    /// What an escalation cancels, taken out of the lock.
    struct Escalation {
        let stopTask: Task<[any Error], Never>?
        let startTask: Task<Void, any Error>?
        let rollbacks: [Task<[any Error], Never>]
        let starts: [StartAttempt]
        let changes: [Task<Void, any Error>]
    }

    /// A signal's decision, taken out of the lock.
    private enum Decided {
        case stop(Begun)
        case escalate(Escalation)
    }

    /// Emits the cause inside the lock, so no `stop()` on another thread can emit `running → stopping`
    /// (or wake a waiter) before it (DESIGN §6), and takes out what the request must wake.
    private func take(_ begun: RunnerStateMachine.StopBegun, in state: inout State) -> Begun {
        emit(.stopRequested(begun.cause, root: rootID, state: root.state, time: clock.elapsed()))
        armShutdownDeadline()
        let waiters = begun.wakes.compactMap { state.waiters.removeValue(forKey: $0) }
        return Begun(
            waiters: waiters, start: begun.cancelsStart ? state.startTask : nil,
            adds: state.changes.values.filter(\.isAdd).map(\.task), result: begun.result)
    }

    func takeEscalation(in state: inout State) -> Escalation {
        defer { state.cancelledStarts = [:] }
        return Escalation(
            stopTask: state.stopTask, startTask: state.startTask, rollbacks: Array(state.rollbacks.values),
            starts: Array(state.cancelledStarts.values), changes: state.changes.values.map(\.task))
    }

    /// Cancels what the escalation took; `cause` says why (a second signal, the deadline).
    func perform(_ escalation: Escalation, cause: StopCause) {
        for rollback in escalation.rollbacks { rollback.cancel() }
        emit(.stopRequested(cause, root: rootID, state: root.state, time: clock.elapsed()))
        escalation.stopTask?.cancel()
        escalation.startTask?.cancel()
        for change in escalation.changes { change.cancel() }
        for start in escalation.starts { start.finish(.abandoned) }
        giveUpOnObservers(after: Self.observerGrace)
    }

    /// The stop task: waits for the start and the changes in flight to end, stops the tree if it
    /// runs, ends the event streams.
    private func makeStopTask(
        after startTask: Task<Void, any Error>?, changes: [Task<Void, any Error>]
    ) -> Task<[any Error], Never> {
        Task {
            _ = await startTask?.result
            for change in changes { _ = await change.result }
            let isRunning = self.state.withLock { $0.machine.stopTaskBegan() }
            var errors: [any Error] = []
            if isRunning {
                await self.drainIfAsked()
                let stallReports = self.reportStalls()
                errors = await self.coordinator.stop(self)
                stallReports?.cancel()
                self.state.withLock { $0.machine.stopTaskEnded() }
            }
            await self.finishEvents()
            return errors
        }
    }

    /// The start ended in an error: hand it to the waiters, so none waits for a tree that never ran.
    func startFailed(with error: any Error) {
        let (waiters, result) = state.withLock { state in
            state.cancelledStarts = [:]
            let (wakes, result) = state.machine.startFailed(error)
            return (wakes.compactMap { state.waiters.removeValue(forKey: $0) }, result)
        }
        for waiter in waiters { Self.resume(waiter, with: result) }
    }

    /// Whether the calling task is work this runner's stop waits for: a `start()` or `stop()` of its
    /// tree, an observer, or a background task of a service its tree holds.
    func isOwnWork() async -> Bool {
        if Self.currentRunner == ObjectIdentifier(self) { return true }
        guard let owner = ServiceTable.currentTaskOwner else { return false }
        return await coordinator.runner(self, holds: owner)
    }

    /// Bounds the wait for the observers: after `grace` on the runner's clock, stop waiting for them.
    private func giveUpOnObservers(after grace: Duration) {
        let observers = self.observers
        let clock = self.clock
        Task {
            try? await clock.sleep(grace)
            observers.giveUp()
        }
    }
}
