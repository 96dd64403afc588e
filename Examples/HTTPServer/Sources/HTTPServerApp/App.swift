import CoreMetrics
import Lifecycle
import LifecycleLogging
import LifecycleMetrics
import LifecycleObservers
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
/// The stages start in that order and stop in reverse. Before the ordered stop, the runner drains:
/// `app`'s `drain()` keeps everything serving for `SHUTDOWN_GRACE_SECONDS` while `/health/ready`
/// already answers 503 (the runner's `drainTimeout` is that grace). The worst-case shutdown plus the
/// grace must fit in `SHUTDOWN_DEADLINE_SECONDS` (the runner's `shutdownDeadline`), or the tree
/// refuses to start.
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
    /// What `/health/ready` and `/health/live` answer: the snapshots of the runner ``makeRunner(signals:)`` made.
    public let readiness = Readiness()
    /// What `/metrics` shows.
    public let registry: PrometheusCollectorRegistry
    let logger: Logger
    private let environment: [String: String]
    private let boundPort = BoundPort()
    private let graceWork: @Sendable (Duration) async -> Void

    /// The stages, in start order.
    public var dependencies: Dependencies { [config, database, Parallel(cache, jobs), http, worker] }

    /// One second: `app` has nothing of its own to stop (its grace is its ``drain()``).
    public let gracefulShutdownTimeout = Duration.seconds(1)

    /// The runner's `drainTimeout`: `SHUTDOWN_GRACE_SECONDS`, the time ``drain()`` keeps serving.
    ///
    /// The runner needs it, and ``shutdownDeadline``, before `config` runs, so both come from the
    /// environment given to ``init(environment:logger:registry:slowWork:graceWork:)``; a value there
    /// that is not usable leaves the default here and fails `config`'s start with its message.
    public let drainTimeout: Duration
    /// The runner's `shutdownDeadline`: `SHUTDOWN_DEADLINE_SECONDS`.
    public let shutdownDeadline: Duration

    /// The server, configured by `environment`, logging to `logger`, its metrics in `registry`.
    ///
    /// - Parameters:
    ///   - slowWork: what `/slow?ms=N` waits for; by default `N` milliseconds.
    ///   - graceWork: what ``drain()`` waits for, given the shutdown grace; by default the grace.
    public init(
        environment: [String: String],
        logger: Logger,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        slowWork: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        graceWork: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) {
        let factory = PrometheusMetricsFactory(registry: registry)
        let settings = (try? Settings(environment: environment)) ?? Settings()
        drainTimeout = settings.shutdownGrace
        shutdownDeadline = settings.shutdownDeadline
        self.environment = environment
        self.graceWork = graceWork
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
    }

    /// A runner for this tree, with its shutdown deadline and drain timeout, and its observers: JSON
    /// logs, Prometheus metrics, and systemd's notifications (only when the environment has a
    /// `NOTIFY_SOCKET`). ``readiness`` answers from its snapshots from now on.
    ///
    /// - Parameter signals: the signals that stop it (SIGINT and SIGTERM by default).
    public func makeRunner(signals: [Int32] = Signals.default) -> ServiceRunner {
        let observers: [any LifecycleObserver] = [
            LoggingObserver(logger: logger, root: self),
            MetricsObserver(factory: PrometheusMetricsFactory(registry: registry)),
            SystemdNotifier(root: self, environment: environment),
        ]
        let runner = ServiceRunner(
            self, observers: observers, signals: signals, shutdownDeadline: shutdownDeadline,
            drainTimeout: drainTimeout)
        readiness.attach(runner)
        return runner
    }

    /// The port `http` listens on, once it does.
    public var port: Int? { boundPort.value }

    /// Keeps everything serving for the shutdown grace, the time a load balancer needs to see that
    /// `/health/ready` answers 503 (it does from the stop request on); then the ordered stop begins.
    ///
    /// A second signal, or the deadline, cuts the wait short.
    public func drain() async {
        await graceWork(drainTimeout)
    }
}
