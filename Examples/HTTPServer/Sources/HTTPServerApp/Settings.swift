/// The server's settings, read from the environment by ``ConfigService``.
public struct Settings: Sendable, Equatable {
    /// The address to listen on (`HOST`, default `127.0.0.1`).
    public var host = "127.0.0.1"
    /// The port to listen on (`PORT`, default 8080; 0 picks a free one, logged once listening).
    public var port = 8080
    /// The SQLite file (`DATABASE_PATH`, default `notes.sqlite`; `:memory:` for none).
    public var databasePath = "notes.sqlite"
    /// How long the server keeps serving, with `/health/ready` answering 503, after a stop was requested
    /// (`SHUTDOWN_GRACE_SECONDS`, default 2): the time a load balancer needs to see it is going away.
    /// The runner's drain phase lasts this long (its `drainTimeout`).
    public var shutdownGrace = Duration.seconds(2)
    /// The time the orchestrator allows between its stop signal and its kill (`SHUTDOWN_DEADLINE_SECONDS`,
    /// default 30 like Kubernetes' `terminationGracePeriodSeconds`; systemd's `TimeoutStopSec`): the
    /// runner's `shutdownDeadline`. The tree refuses to start when its worst-case shutdown plus the
    /// grace does not fit in it.
    public var shutdownDeadline = Duration.seconds(30)
    /// How often the worker counts the notes (`WORKER_INTERVAL_SECONDS`, default 5).
    public var workerInterval = Duration.seconds(5)

    /// The defaults.
    public init() {}

    /// The settings `environment` gives, the defaults for the variables it lacks.
    ///
    /// - Throws: ``ConfigError`` naming the first variable whose value is not usable.
    public init(environment: [String: String]) throws(ConfigError) {
        if let host = environment["HOST"] { self.host = host }
        if let port = environment["PORT"] {
            guard let number = Int(port), (0...65535).contains(number) else {
                throw ConfigError(variable: "PORT", value: port, expected: "a port number from 0 to 65535")
            }
            self.port = number
        }
        if let path = environment["DATABASE_PATH"] {
            guard !path.isEmpty else {
                throw ConfigError(variable: "DATABASE_PATH", value: path, expected: "a file path or :memory:")
            }
            databasePath = path
        }
        if let grace = environment["SHUTDOWN_GRACE_SECONDS"] {
            shutdownGrace = try Self.seconds(grace, variable: "SHUTDOWN_GRACE_SECONDS", minimum: 0)
        }
        if let deadline = environment["SHUTDOWN_DEADLINE_SECONDS"] {
            shutdownDeadline = try Self.seconds(deadline, variable: "SHUTDOWN_DEADLINE_SECONDS", minimum: 1)
        }
        if let interval = environment["WORKER_INTERVAL_SECONDS"] {
            workerInterval = try Self.seconds(interval, variable: "WORKER_INTERVAL_SECONDS", minimum: 0.01)
        }
    }

    private static func seconds(_ text: String, variable: String, minimum: Double) throws(ConfigError) -> Duration {
        guard let value = Double(text), value >= minimum, value <= 3600 else {
            throw ConfigError(variable: variable, value: text, expected: "seconds from \(minimum) to 3600")
        }
        return .milliseconds(Int64(value * 1000))
    }
}

/// An environment variable whose value cannot be used.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// The variable's name.
    public let variable: String
    /// Its value.
    public let value: String
    /// What it should be.
    public let expected: String

    /// An error about `variable`, whose `value` is not `expected`.
    public init(variable: String, value: String, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    /// `PORT="http" is not usable: expected a port number from 0 to 65535`.
    public var description: String { "\(variable)=\"\(value)\" is not usable: expected \(expected)" }
}
