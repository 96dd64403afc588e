import Lifecycle
import Logging
import ServiceLifecycle
import Synchronization

/// A swift-service-lifecycle service (a Hummingbird `Application`, a `PostgresClient`, an exporter)
/// run as a Lifecycle service: started after its dependencies, stopped before them.
///
/// ```swift
/// let http = HostedService("http", dependencies: [database]) { ready in
///     let router = Router()                    // built inside: a Router is not Sendable
///     router.get("hello") { _, _ in "hello" }
///     return Application(router: router, onServerRunning: { _ in ready() })
/// }
/// try await http.run()                         // database, then http; SIGTERM stops http first
/// ```
///
/// - `makeService` is called on every start and must build a fresh instance: such services run
///   once (Hummingbird's server traps on a second `run()`). It receives the `ready` callback.
/// - ``start()`` launches the instance's `run()` in a `ServiceGroup` of its own (no signals, the
///   logger bound as the task-local logger), in a task detached from the caller's task-locals, so
///   an outer group's graceful shutdown cannot reach it out of order. It returns when the instance
///   is ready (``Readiness``); `startTimeout` bounds that wait, migrations in a Hummingbird
///   `beforeServerStarts` included. A `run()` that ends first makes the start throw
///   ``HostedServiceError/endedBeforeReady(service:error:)``.
/// - ``stop()`` triggers that group's graceful shutdown and waits for `run()` to return, so a
///   request in flight completes. Past `gracefulShutdownTimeout` the run is cancelled.
/// - A `run()` that returns or throws while the service is up and not stopping fails the tree,
///   once, with ``HostedServiceError/endedWhileRunning(service:error:)``.
public final class HostedService: Lifecycle.Service {
    /// The name events and errors use.
    public let name: String
    /// What must run before the hosted service starts.
    public let dependencies: Dependencies
    /// When the start counts as done.
    public let readiness: Readiness
    /// How long the start may wait for readiness.
    public let startTimeout: Duration?
    /// How long the graceful shutdown may take before the run is cancelled.
    public let gracefulShutdownTimeout: Duration

    private let logger: Logger
    private let makeService:
        @Sendable (_ ready: @escaping @Sendable () -> Void) async throws -> any ServiceLifecycle.Service
    /// The run of the current (or last) start; replaced on every start.
    private let current = Mutex<HostedRun?>(nil)

    /// A Lifecycle service that builds and runs a fresh `ServiceLifecycle.Service` on every start.
    ///
    /// - Parameters:
    ///   - name: the name events, logs and errors use.
    ///   - dependencies: what must run before it starts, and stop after it.
    ///   - readiness: ``Readiness/signalled`` (default): up once the `ready` callback is called;
    ///     ``Readiness/immediately``: up once its `run()` began.
    ///   - startTimeout: how long the start may wait for readiness.
    ///   - gracefulShutdownTimeout: how long its graceful shutdown may take.
    ///   - logger: the logger of its group, and the task-local `Logger.current` inside its `run()`.
    ///   - makeService: builds a fresh instance; call `ready` (from any task, any number of times)
    ///     once it serves, for example from Hummingbird's `onServerRunning`.
    public init(
        _ name: String,
        dependencies: Dependencies = [],
        readiness: Readiness = .signalled,
        startTimeout: Duration = .seconds(60),
        gracefulShutdownTimeout: Duration = .seconds(10),
        logger: Logger = .current,
        makeService:
            @escaping @Sendable (_ ready: @escaping @Sendable () -> Void) async throws
            -> any ServiceLifecycle.Service
    ) {
        self.name = name
        self.dependencies = dependencies
        self.readiness = readiness
        self.startTimeout = startTimeout
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
        self.logger = logger
        self.makeService = makeService
    }

    /// Builds a fresh instance, runs it in a group of its own, and returns once it is ready.
    ///
    /// When the wait fails (the run ended first, or the start was cancelled), the run is cancelled and
    /// awaited before this throws.
    public func start() async throws {
        let run = HostedRun(name: name)
        current.withLock { $0 = run }
        let service = try await makeService { run.readySignalled() }
        run.launch(service, logger: logger, readiness: readiness)
        do {
            try await run.waitUntilReady()
            try addTask { try await run.monitor() }
        } catch {
            await run.abandon()
            throw error
        }
    }

    /// Triggers the hosted group's graceful shutdown and returns once its `run()` has returned.
    public func stop() async throws {
        try await current.withLock({ $0 })?.stop()
    }
}
