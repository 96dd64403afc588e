/// A thing with a life: started after its dependencies, stopped before them.
///
/// Every requirement has a default, so the smallest service is `final class S: Service {}`.
/// An `actor` can be a service; its `name`, `dependencies` and timeouts are then `nonisolated`.
///
/// ```swift
/// final class API: Service {
///     let database = Database(), cache = Cache(), queue = Queue()
///     var dependencies: Dependencies { [database, Parallel(cache, queue)] }
///     func start() async throws { try addTask { try await self.refreshLoop() } }
/// }
/// ```
///
/// The lifecycle reads `name`, `dependencies` and the timeouts once per start of a tree.
public protocol Service: AnyObject, DependencyElement {
    /// The name events and errors use. Default: the type's name.
    var name: String { get }
    /// What must run before this service starts, as sequential stages. Default: none.
    var dependencies: Dependencies { get }
    /// How long `stop()` (and the cancelling of background tasks) may take before it is abandoned.
    /// Default: 10 seconds.
    var gracefulShutdownTimeout: Duration { get }
    /// How long `start()` may take before it is cancelled and counted as failed. Default: none.
    var startTimeout: Duration? { get }
    /// What a failure of one of its background tasks leads to: fail fast (``RestartPolicy/never``,
    /// the default) or a restart of this service and what depends on it (DESIGN §10).
    var restartPolicy: RestartPolicy { get }
    /// Starts the service. Its dependencies are running when this is called.
    ///
    /// Throwing here stops what already started and is rethrown by `run()`; `stop()` is not called.
    func start() async throws
    /// Stops the service. Its dependencies still run; background tasks are cancelled after it returns.
    func stop() async throws
    /// Stops taking new work while the work in flight goes on: close the listener, stop pulling jobs.
    ///
    /// Called only by a runner with a `drainTimeout` above zero, on every running service of its tree
    /// concurrently, when a stop is requested and before the first `stop()`. The ordered stop begins
    /// when every `drain()` returned or the `drainTimeout` passed (the late ones are cancelled), or
    /// at once when the stop escalates. A start that is rolled back is not drained. A service
    /// shared with another tree that still runs is drained too: it runs in this tree.
    /// Default: does nothing.
    func drain() async
}

extension Service {
    /// The type's name.
    public var name: String { TypeNames.shared.name(of: type(of: self)) }
    /// No dependencies.
    public var dependencies: Dependencies { [] }
    /// Ten seconds.
    public var gracefulShutdownTimeout: Duration { .seconds(10) }
    /// No start timeout.
    public var startTimeout: Duration? { nil }
    /// Fail fast: ``RestartPolicy/never``.
    public var restartPolicy: RestartPolicy { .never }
    /// Does nothing.
    public func start() async throws {}
    /// Does nothing.
    public func stop() async throws {}
    /// Does nothing.
    public func drain() async {}
    /// A service stands in a dependency list as a stage of its own.
    public var stageServices: [any Service] { [self] }

    /// The service's identity in events and errors.
    public var serviceID: ServiceID { ServiceTable.shared.identify(self) }

    /// Where the service is in its life; readable from any thread at any time.
    public var state: ServiceState { ServiceTable.shared.state(of: self) }

    /// Whether the service is ``ServiceState/running``.
    public var isRunning: Bool { state == .running }
}
