import Lifecycle
import Logging
import SQLiteNIO
import Synchronization

/// The SQLite database: opened, then migrated, in `start()`, so nothing that depends on it runs on
/// an old schema; closed in `stop()`, after everything that uses it stopped.
public final class DatabaseService: Service {
    /// `database`.
    public let name = "database"
    /// Two seconds to close the database.
    public let gracefulShutdownTimeout = Duration.seconds(2)
    private let config: ConfigService
    private let logger: Logger
    private let current = Mutex<SQLiteConnection?>(nil)

    /// A database whose file ``ConfigService`` names.
    public init(config: ConfigService, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Opens the database and applies the migrations it has not seen yet.
    public func start() async throws {
        let path = try config.settings.databasePath
        let storage: SQLiteConnection.Storage = path == ":memory:" ? .memory : .file(path: path)
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        do {
            let applied = try await Migrations.apply(on: connection)
            logger.info("database migrated", metadata: ["db.path": "\(path)", "db.migrations.applied": "\(applied)"])
        } catch {
            try? await connection.close()
            throw error
        }
        current.withLock { $0 = connection }
    }

    /// Closes the database.
    public func stop() async throws {
        let connection = current.withLock { $0.take() }
        try await connection?.close()
    }

    /// Runs one statement; the rows it returns.
    public func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        guard let connection = current.withLock({ $0 }) else { throw NotStarted(service: name) }
        return try await connection.query(sql, binds)
    }
}
