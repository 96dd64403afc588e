import Hummingbird
import Lifecycle
import LifecycleServiceLifecycle
import Logging

/// The HTTP server: a Hummingbird `Application` hosted by Lifecycle, ready once it listens.
///
/// Its `stop()` (Hummingbird's graceful shutdown: the listener closes, requests in flight complete)
/// may take 10 seconds, more than the slowest `/slow` request.
enum HTTPService {
    /// A `HostedService` that builds a fresh `Application` on each start, on the settings' address.
    ///
    /// `port` receives the port it listens on (useful with `PORT=0`).
    static func make(
        config: ConfigService, routes: Routes, port: BoundPort, logger: Logger
    ) -> HostedService {
        HostedService("http", gracefulShutdownTimeout: .seconds(10), logger: logger) { ready in
            let settings = try config.settings
            let router = Router()  // built here: a Router is not Sendable
            routes.register(on: router)
            return Application(
                router: router,
                configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
                onServerRunning: { channel in
                    let bound = channel.localAddress?.port
                    port.set(bound)
                    logger.info(
                        "listening", metadata: ["http.host": "\(settings.host)", "http.port": "\(bound ?? -1)"])
                    ready()
                },
                logger: logger
            )
        }
    }
}
