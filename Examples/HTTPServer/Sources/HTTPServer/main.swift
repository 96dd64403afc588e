import Foundation
import HTTPServerApp
import Logging

// One JSON object per log line; LOG_LEVEL (default info) sets the level.
let environment = ProcessInfo.processInfo.environment
let level = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
let logger = Logger(label: "http-server")

// SIGINT or SIGTERM: readiness turns false, requests in flight complete, the tree stops in order.
let app = App(environment: environment, logger: logger)
do {
    try await app.makeRunner().run()
} catch {
    logger.critical("the server failed", error: error)
    exit(1)
}
