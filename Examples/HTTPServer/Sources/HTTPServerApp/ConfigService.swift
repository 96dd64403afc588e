import Lifecycle
import Synchronization

/// The first service: reads the settings from the environment when it starts, so a bad value fails
/// the start before anything else opens.
public final class ConfigService: Service {
    /// `config`.
    public let name = "config"
    /// One second: it has nothing to stop.
    public let gracefulShutdownTimeout = Duration.seconds(1)
    private let environment: [String: String]
    private let current = Mutex<Settings?>(nil)

    /// A config service reading `environment` on each start.
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Reads and checks the settings.
    public func start() async throws {
        let settings = try Settings(environment: environment)
        current.withLock { $0 = settings }
    }

    /// The settings of the current start; the services after `config` read them in their own start.
    public var settings: Settings {
        get throws(NotStarted) {
            guard let settings = current.withLock({ $0 }) else { throw NotStarted(service: name) }
            return settings
        }
    }
}

/// A service was used before it started.
public struct NotStarted: Error, CustomStringConvertible {
    /// The service's name.
    public let service: String
    /// `database is not started: use it from a service that depends on it`.
    public var description: String { "\(service) is not started: use it from a service that depends on it" }
}
