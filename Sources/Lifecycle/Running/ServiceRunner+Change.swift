/// Changing a running tree (DESIGN §11).
extension ServiceRunner {
    /// Starts `service` and its dependencies while the tree runs, as a new last stage of the root.
    ///
    /// Dependencies already running, in this tree or another, are counted, not started again. When
    /// the tree stops, the root stops first, then the added services, newest first, then the root's
    /// declared stages in reverse. Adding one instance twice counts it twice; ``remove(_:)`` takes
    /// one addition back. The transitions are events on this runner's streams.
    ///
    /// A stop request while it starts cancels it: what it started is stopped again and it throws
    /// `CancellationError`; the stop waits for that. Cancelling the calling task does the same.
    ///
    /// - Throws: ``LifecycleError/notRunning(_:)`` unless the tree runs and no stop was requested;
    ///   ``LifecycleError/dependencyCycle(_:)`` when `service` depends on the root, and the other
    ///   bad-input errors of `start()`, before anything starts; else the first error of a `start()`,
    ///   after rolling back what this call started (the tree keeps running).
    public func add(_ service: any Service) async throws {
        try await change(isAdd: true) { try await self.coordinator.add(service, to: self) }
    }

    /// Stops a service that ``add(_:)`` added to this tree, and its dependencies nobody else holds,
    /// in reverse order.
    ///
    /// Dependencies another service still holds (a declared one, another added one, another tree)
    /// keep running. Cancelling the calling task does not cancel the stops; an escalation does.
    ///
    /// Called from the runner's own work (a background task of the service it removes, say: a
    /// worker done with its job), it begins the removal and returns once the service is taken out
    /// of the tree, without waiting for the stops: they wait for that task to end.
    ///
    /// - Throws: ``LifecycleError/notRunning(_:)`` unless the tree runs and no stop was requested;
    ///   ``LifecycleError/notAdded(_:)`` for a service `add` did not add; else the first error a
    ///   `stop()` threw, after every stop ran (not from the runner's own work: those are events).
    public func remove(_ service: any Service) async throws {
        if await isOwnWork() {
            // Tracked before the service is taken out of the tree: a stop requested meanwhile either
            // refuses the change (nothing taken out) or waits for it (the service is stopped).
            let (taken, takenOut) = AsyncThrowingStream<Void, any Error>.makeStream()
            _ = try startChange(isAdd: false, forgetsItselfWhenDone: true) {
                let removal: Coordinator.Removal
                do {
                    removal = try await self.coordinator.beginRemoval(of: service, from: self)
                } catch {
                    takenOut.finish(throwing: error)
                    throw error
                }
                takenOut.finish()
                _ = await self.coordinator.finishRemoval(removal, for: self)
            }
            for try await _ in taken {}
            return
        }
        try await change(isAdd: false) { try await self.coordinator.remove(service, from: self) }
    }

    /// Runs one change in a task the runner tracks: its stop waits for it, a stop request cancels
    /// an add, an escalation any change.
    private func change(isAdd: Bool, _ operation: @escaping @Sendable () async throws -> Void) async throws {
        let (token, task) = try startChange(isAdd: isAdd, operation)
        defer { _ = state.withLock { $0.changes.removeValue(forKey: token) } }
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            if isAdd { task.cancel() }
        }
    }

    /// Makes the task of one change and tracks it, once the runner's machine allowed the change.
    /// Nobody awaits a change that `forgetsItselfWhenDone`: its task stops being tracked as it ends.
    private func startChange(
        isAdd: Bool, forgetsItselfWhenDone: Bool = false, _ operation: @escaping @Sendable () async throws -> Void
    ) throws(LifecycleError) -> (token: Int, task: Task<Void, any Error>) {
        try state.withLock { state throws(LifecycleError) in
            try state.machine.changeRequested()
            state.lastChange += 1
            let token = state.lastChange
            let task = Task {
                defer { if forgetsItselfWhenDone { _ = self.state.withLock { $0.changes.removeValue(forKey: token) } } }
                try await operation()
            }
            state.changes[token] = (task, isAdd)
            return (token, task)
        }
    }
}
