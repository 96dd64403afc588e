import CoreMetrics
import Lifecycle
import LifecycleLogging
import LifecycleMetrics
import LifecycleServiceLifecycle
import Logging
import Prometheus

/// The whole server, as one tree:
///
/// ```
/// app
/// ├── config                 settings from the environment
/// ├── database               SQLite, migrations in start()
/// ├── Parallel(cache, jobs)  the notes cache; the word-count queue
/// ├── http                   Hummingbird, through HostedService
/// └── worker                 counts the notes every few seconds
/// ```
///
/// The stages start in that order and stop in reverse. `app`'s own `stop()` comes first: it keeps
/// everything serving for `SHUTDOWN_GRACE_SECONDS` while `/health/ready` already answers 503.
public final class App: Service {
    /// `app`.
    public let name = "app"
    /// The settings.
    public let config: ConfigService
    /// The SQLite database.
    public let database: DatabaseService
    /// The notes cache.
    public let cache: CacheService
    /// The job queue.
    public let jobs: JobsService
    /// The HTTP server.
    public let http: HostedService
    /// The periodic worker.
    public let worker: WorkerService
    /// What `/health/ready` answers.
    public let readiness = Readiness()
    /// What `/metrics` shows.
    public let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let boundPort = BoundPort()

    /// The stages, in start order.
    public var dependencies: Dependencies { [config, database, Parallel(cache, jobs), http, worker] }

    /// The shutdown grace and 5 s more: the runner reads it when the tree starts, before `config`
    /// runs, so it comes from the environment given to ``init(environment:logger:registry:slowWork:)``.
    public let gracefulShutdownTimeout: Duration

    /// The server, configured by `environment`, logging to `logger`, its metrics in `registry`.
    ///
    /// - Parameter slowWork: what `/slow?ms=N` waits for; by default `N` milliseconds.
    public init(
        environment: [String: String],
        logger: Logger,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        slowWork: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) {
        let factory = PrometheusMetricsFactory(registry: registry)
        // A bad value fails `config`'s start with its message; here it only sizes the timeout.
        let grace = (try? Settings(environment: environment))?.shutdownGrace ?? Settings().shutdownGrace
        gracefulShutdownTimeout = grace + .seconds(5)
        self.logger = logger
        self.registry = registry
        config = ConfigService(environment: environment)
        database = DatabaseService(config: config, logger: logger)
        cache = CacheService()
        jobs = JobsService(database: database, cache: cache, logger: logger)
        worker = WorkerService(config: config, database: database, factory: factory, logger: logger)
        let routes = Routes(
            database: database, cache: cache, jobs: jobs, readiness: readiness, registry: registry, logger: logger,
            slowWork: slowWork)
        http = HTTPService.make(config: config, routes: routes, port: boundPort, logger: logger)
        readiness.watch(root: serviceID)
    }

    /// A runner for this tree with its observers: readiness, JSON logs, Prometheus metrics.
    ///
    /// - Parameter signals: the signals that stop it (SIGINT and SIGTERM by default).
    public func makeRunner(signals: [Int32] = Signals.default) -> ServiceRunner {
        let observers: [any LifecycleObserver] = [
            readiness,
            LoggingObserver(logger: logger, root: self),
            MetricsObserver(factory: PrometheusMetricsFactory(registry: registry)),
        ]
        return ServiceRunner(self, observers: observers, signals: signals)
    }

    /// The port `http` listens on, once it does.
    public var port: Int? { boundPort.value }

    /// Keeps serving for the shutdown grace: `/health/ready` answers 503 from the stop request on.
    ///
    /// A second signal cancels the wait.
    public func stop() async throws {
        let grace = try config.settings.shutdownGrace
        logger.info("shutting down", metadata: ["shutdown.grace": "\(grace)"])
        try? await Task.sleep(for: grace)
    }
}
