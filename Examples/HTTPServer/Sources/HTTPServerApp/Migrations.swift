import SQLiteNIO

/// The schema, as numbered steps applied once each, in order, recorded in `schema_migrations`.
enum Migrations {
    /// Every migration, oldest first; append, never edit.
    static let all: [(version: Int, sql: String)] = [
        (1, "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)"),
        (2, "ALTER TABLE notes ADD COLUMN words INTEGER"),
    ]

    /// Applies the migrations `connection` has not seen; how many it applied.
    static func apply(on connection: SQLiteConnection) async throws -> Int {
        _ = try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        let rows = try await connection.query("SELECT version FROM schema_migrations")
        let seen = Set(rows.compactMap { $0.column("version")?.integer })
        var applied = 0
        for migration in all where !seen.contains(migration.version) {
            _ = try await connection.query("BEGIN")
            do {
                _ = try await connection.query(migration.sql)
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version) VALUES (?)", [.integer(migration.version)])
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
            applied += 1
        }
        return applied
    }
}
