import CoreMetrics
import Lifecycle
import Logging

/// The last service: a periodic task that counts the notes into the `notes` gauge.
public final class WorkerService: Service {
    /// `worker`.
    public let name = "worker"
    /// Two seconds: its loop is cancelled.
    public let gracefulShutdownTimeout = Duration.seconds(2)
    private let config: ConfigService
    private let database: DatabaseService
    private let notes: Gauge
    private let logger: Logger

    /// A worker counting the notes of `database`, with metrics from `factory`.
    public init(config: ConfigService, database: DatabaseService, factory: any MetricsFactory, logger: Logger) {
        self.config = config
        self.database = database
        self.notes = Gauge(label: "notes", dimensions: [], factory: factory)
        self.logger = logger
    }

    /// Counts once, then every `WORKER_INTERVAL_SECONDS`, until stopped.
    public func start() async throws {
        let interval = try config.settings.workerInterval
        try await count()
        try addTask { [self] in
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                try await count()
            }
        }
    }

    private func count() async throws {
        let rows = try await database.query("SELECT COUNT(*) AS count FROM notes")
        let count = rows.first?.column("count")?.integer ?? 0
        notes.record(count)
        logger.debug("notes counted", metadata: ["notes": "\(count)"])
    }
}
