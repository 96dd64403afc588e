import Lifecycle
import ServiceLifecycle

/// A Lifecycle tree run as one service of a user's `ServiceGroup`.
///
/// ```swift
/// let group = ServiceGroup(
///     services: [TreeService(api, observers: [LoggingObserver(logger: logger)]), otherService],
///     gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// ``run()`` starts the tree under `root` with a runner that handles no signals (the group owns
/// them), and waits. The group's graceful shutdown requests the tree's stop: its services stop in
/// dependency order, which is the only way the group's shutdown reaches them. A tree failure (a
/// start that throws, a background task that fails) is thrown from ``run()`` after the tree stopped;
/// cancelling the task running it stops the tree too (cause `cancellation`).
///
/// Termination behaviours: ``run()`` returns only once the tree stopped, which without a failure
/// happens only after the group's graceful shutdown; so the default `successTerminationBehavior`
/// (`.cancelGroup`) fits. For `failureTerminationBehavior`, `.gracefullyShutdownGroup` lets the
/// other services stop gracefully when the tree fails; the default `.cancelGroup` cancels them.
public struct TreeService: ServiceLifecycle.Service, CustomStringConvertible {
    /// The root of the tree.
    public let root: any Lifecycle.Service
    /// The observers given to each run's runner.
    public let observers: [any LifecycleObserver]

    /// A service running the tree under `root`, with `observers` on each of its runs.
    public init(_ root: any Lifecycle.Service, observers: [any LifecycleObserver] = []) {
        self.root = root
        self.observers = observers
    }

    /// Starts the tree, waits until the group shuts down gracefully or the tree fails, stops it.
    ///
    /// - Throws: the tree's failure, as `ServiceRunner.run()` throws it.
    public func run() async throws {
        let runner = ServiceRunner(root, observers: observers, signals: Signals.none)
        try await withGracefulShutdownHandler {
            try await runner.run()
        } onGracefulShutdown: {
            runner.requestStop()
        }
    }

    /// The root's name: the name a `ServiceGroup` logs for this service.
    public var description: String { root.name }
}
