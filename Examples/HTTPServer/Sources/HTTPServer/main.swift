import Foundation
import HTTPServerApp
import Logging

// One JSON object per log line; LOG_LEVEL (default info) sets the level.
let environment = ProcessInfo.processInfo.environment
let level = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
let logger = Logger(label: "http-server")

// SIGINT or SIGTERM: readiness turns false, the server keeps serving for the grace (the drain),
// requests in flight complete, the tree stops in order, all within SHUTDOWN_DEADLINE_SECONDS.
let app = App(environment: environment, logger: logger)
let runner = app.makeRunner()
do {
    try app.logShutdownPlan(of: runner)  // refuses a tree whose worst-case shutdown exceeds the deadline
    try await runner.run()
} catch {
    logger.critical("the server failed", error: error)
    exit(1)
}
