extension Service {
    /// Starts the tree under this service, waits until a stop is requested or it fails, and stops it.
    ///
    /// The form for `main`: SIGINT and SIGTERM stop it gracefully by default; it returns normally
    /// after a clean stop and rethrows the failure (a `start()` error or a background task's) otherwise.
    public func run(
        observers: [any LifecycleObserver] = [],
        signals: [Int32] = Signals.default,
        clock: some Clock<Duration> = ContinuousClock()
    ) async throws {
        try await ServiceRunner(self, observers: observers, signals: signals, clock: clock).run()
    }

    /// Waits until a tree holding this service is asked to stop; returns at once when none runs it.
    ///
    /// - Throws: the failure that ended the tree, such as a background task's error.
    public func wait() async throws {
        try await ServiceTable.shared.holder(of: self)?.runner(holding: serviceID)?.wait()
    }
}

/// Starts the tree under `service`, runs `body` with it, and stops the tree however `body` ends.
///
/// The scoped form, like Python's `async with`. If the tree fails while `body` runs (a background
/// task throws), `body`'s task is cancelled and the failure is what this throws, after the tree has
/// stopped. If `body` throws, the tree is stopped and `body`'s error rethrown. A background task
/// that fails after `body` returned, or while the tree stops, makes it throw that failure, as `run()`
/// does. Signals are not handled.
public func withRunning<S: Service, T: Sendable>(
    _ service: S,
    observers: [any LifecycleObserver] = [],
    clock: some Clock<Duration> = ContinuousClock(),
    _ body: @escaping @Sendable (S) async throws -> T
) async throws -> T {
    let runner = ServiceRunner(service, observers: observers, signals: Signals.none, clock: clock)
    try await runner.start()
    let outcome: Result<T, any Error> = await withTaskGroup(of: ScopeEnd<T>.self) { group in
        group.addTask {
            do { return .body(.success(try await body(service))) } catch { return .body(.failure(error)) }
        }
        group.addTask {
            do {
                try await runner.wait()
                return .tree(nil)
            } catch {
                // CancellationError: the body finished first and this watch was cancelled.
                return .tree(error is CancellationError ? nil : error)
            }
        }
        let first = await group.next()!
        group.cancelAll()
        let second = await group.next()!
        switch (first, second) {
        case (.tree(let failure?), _):
            // The tree failed while the body ran: its failure wins over the cancelled body's outcome.
            return .failure(failure)
        case (.body(let result), _), (.tree, .body(let result)):
            return result
        case (.tree, .tree):
            preconditionFailure("withRunning has exactly one body")
        }
    }
    var stopError: (any Error)?
    do { try await runner.stop() } catch { stopError = error }
    let value = try outcome.get()
    if let stopError { throw stopError }
    // A background task that failed after the body ended, or while the tree stopped, is thrown as
    // `run()` throws it (DESIGN §2, §4).
    if let failure = runner.failure { throw failure }
    return value
}

/// What ended first in `withRunning`: the body, or the tree (with its failure, if it failed).
private enum ScopeEnd<T: Sendable>: Sendable {
    case body(Result<T, any Error>)
    case tree((any Error)?)
}
