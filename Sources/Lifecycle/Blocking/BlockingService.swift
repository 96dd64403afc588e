/// The synchronous twin of ``Service``, for code that is not async (facet's `BlockingServiceMixin`).
///
/// Every requirement has a default, so the smallest blocking service is `final class S: BlockingService {}`.
///
/// ```swift
/// final class Worker: BlockingService {
///     let database = Database(), cache = Cache()
///     var dependencies: [any BlockingService] { [database, cache] }   // started in this order
///     func start() throws { /* open */ }
///     func stop() throws { /* close */ }
/// }
///
/// try withRunning(Worker()) { worker in worker.handle(job) }
/// ```
///
/// It is driven by the same `StateMachine` and transition table as ``Service``, goes through the same
/// ``ServiceState``s and emits the same ``LifecycleEvent``s, so every ``LifecycleObserver`` works unchanged.
///
/// - Important: A blocking service need not be `Sendable`. Its `start()` and `stop()` are called on
///   the thread of the runner that starts or stops it, never while the package holds a lock. A service
///   shared by trees running on several threads may be started on one thread and stopped on another,
///   but its `start()` and `stop()` never run concurrently, and each happens after the other's return.
public protocol BlockingService: AnyObject {
    /// The name events and errors use. Default: the type's name.
    var name: String { get }
    /// What must run before this service starts, started in list order and stopped in reverse. Default: none.
    ///
    /// Read once per start of a tree. A service listed by several services (a diamond) or running in
    /// another tree starts once and stops with its last dependent.
    var dependencies: [any BlockingService] { get }
    /// Starts the service. Its dependencies are running when this is called.
    ///
    /// Throwing here stops what this start already started, in reverse order, and is rethrown; `stop()`
    /// is not called.
    func start() throws
    /// Stops the service. Its dependencies still run; they stop after this returns (or throws).
    func stop() throws
}

extension BlockingService {
    /// The type's name.
    public var name: String { String(describing: type(of: self)) }
    /// No dependencies.
    public var dependencies: [any BlockingService] { [] }
    /// Does nothing.
    public func start() throws {}
    /// Does nothing.
    public func stop() throws {}

    /// The service's identity in events and errors; numbered from the same counter as async services.
    public var serviceID: ServiceID { BlockingServiceTable.shared.identify(self) }

    /// Where the service is in its life; readable from any thread at any time, also from its own `start()`.
    public var state: ServiceState { BlockingServiceTable.shared.state(of: self) }

    /// Whether the service is ``ServiceState/running``.
    public var isRunning: Bool { state == .running }
}
