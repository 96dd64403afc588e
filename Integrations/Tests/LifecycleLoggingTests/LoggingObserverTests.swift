import InMemoryLogging
import Lifecycle
import LifecycleLogging
import Logging
import Testing

struct Boom: Error {}

@Suite(.timeLimit(.minutes(1)))
struct LoggingObserverTests {
    let handler = InMemoryLogHandler()

    var logger: Logger {
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .trace
        return logger
    }

    func entries(_ event: String) -> [InMemoryLogHandler.Entry] {
        handler.entries.filter { $0.metadata["lifecycle.event"] == .string(event) }
    }

    @Test func everyTransitionIsOneDebugRecordWithTheServiceAndBothStates() async throws {
        let database = ClosureService(name: "database")
        let api = ClosureService(name: "api", dependencies: [database])
        try await withRunning(api, observers: [LoggingObserver(logger: logger)]) { _ in }
        let transitions = entries("transition")
        #expect(transitions.count == 8)  // 4 per service
        #expect(transitions.allSatisfy { $0.level == .debug })
        let first = try #require(transitions.first)
        #expect(first.message == "database: idle → starting")
        #expect(first.metadata["lifecycle.service"] == "database")
        #expect(first.metadata["lifecycle.service.id"] == "\(database.serviceID.number)")
        #expect(first.metadata["lifecycle.from"] == "idle")
        #expect(first.metadata["lifecycle.to"] == "starting")
        #expect(first.metadata["lifecycle.duration"] == nil)  // no earlier state seen
        let running = try #require(transitions.first { $0.message == "database: starting → running" })
        #expect(running.metadata["lifecycle.duration"] != nil)
    }

    @Test func theStopCauseAndAllRunningAreInfo() async throws {
        let database = ClosureService(name: "database")
        let api = ClosureService(name: "api", dependencies: [database])
        try await withRunning(api, observers: [LoggingObserver(logger: logger, root: api)]) { _ in }
        let allRunning = try #require(entries("allRunning").first)
        #expect(entries("allRunning").count == 1)
        #expect(allRunning.level == .info)
        #expect(allRunning.message == "all running under api")
        #expect(allRunning.metadata["lifecycle.service"] == "api")
        #expect(allRunning.metadata["lifecycle.duration"] != nil)
        let stop = try #require(entries("stopRequested").first)
        #expect(stop.level == .info)
        #expect(stop.metadata["lifecycle.cause"] == "requested")
        #expect(stop.message == "api: stop requested (requested)")
        // "all running" comes after the root's own transition, the stop's cause before the first stop.
        let messages = handler.entries.map { "\($0.message)" }
        let rootRunning = try #require(messages.firstIndex(of: "api: starting → running"))
        #expect(messages[rootRunning + 1] == "all running under api")
        let firstStop = try #require(messages.firstIndex(of: "api: running → stopping"))
        #expect(messages[firstStop - 1] == "api: stop requested (requested)")
    }

    @Test func aFailedStartIsLoggedWithItsErrorAtTheFailureLevel() async throws {
        let failing = ClosureService(name: "failing", start: { throw Boom() })
        let levels = LoggingObserver.Levels(failure: .error)
        await #expect(throws: Boom.self) {
            try await failing.run(observers: [LoggingObserver(logger: logger, levels: levels)], signals: Signals.none)
        }
        let failed = try #require(handler.entries.first { $0.metadata["lifecycle.to"] == "failed" })
        #expect(failed.level == .error)
        #expect(failed.error is Boom)
        #expect(failed.message == "failing: starting → failed")
        #expect(entries("allRunning").isEmpty)
    }

    @Test func aFailedBackgroundTaskIsLoggedOnceWithItsError() async throws {
        let worker = ClosureService(name: "worker")
        let runner = ServiceRunner(worker, observers: [LoggingObserver(logger: logger)], signals: Signals.none)
        try await runner.start()
        try worker.addTask { throw Boom() }
        await #expect(throws: Boom.self) { try await runner.wait() }
        try? await runner.stop()
        let failures = entries("taskFailed")
        #expect(failures.count == 1)
        #expect(failures.first?.error is Boom)
        #expect(failures.first?.level == .info)
        #expect(entries("stopRequested").first?.metadata["lifecycle.cause"] == "failure")
    }

    @Test func theLoggersLevelFiltersRoutineRecords() async throws {
        var quiet = logger
        quiet.logLevel = .info
        let api = ClosureService(name: "api")
        try await withRunning(api, observers: [LoggingObserver(logger: quiet, root: api)]) { _ in }
        #expect(entries("transition").isEmpty)
        #expect(entries("allRunning").count == 1)
        #expect(entries("stopRequested").count == 1)
    }

    @Test func hostileNamesStayInTheirMetadataValue() async throws {
        let name = "db\"\n lifecycle.to=running"
        let service = ClosureService(name: name)
        try await withRunning(service, observers: [LoggingObserver(logger: logger)]) { _ in }
        #expect(entries("transition").allSatisfy { $0.metadata["lifecycle.service"] == .string(name) })
    }
}
