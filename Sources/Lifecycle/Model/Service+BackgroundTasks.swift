extension Service {
    /// Runs `operation` as a background task bound to this service.
    ///
    /// Call it from `start()` or while the service runs. The task is cancelled, and awaited, after
    /// the service's `stop()` returned and before its dependencies stop (DESIGN §3). A task that
    /// returns is simply gone; one that throws (other than `CancellationError`) fails every tree
    /// holding this service: they stop, and their `run()`/`wait()`/`withRunning` throw its error.
    ///
    /// - Throws: ``LifecycleError/taskAddedWhileNotRunning(_:_:)`` when the service is neither
    ///   starting nor running.
    public func addTask(_ operation: @escaping @Sendable () async throws -> Void) throws {
        try ServiceTable.shared.addTask(to: self, operation) { coordinator, id, life, error in
            await coordinator?.backgroundTaskFailed(id, life: life, error)
        }
    }
}
