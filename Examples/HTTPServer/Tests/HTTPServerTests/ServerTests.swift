import Foundation
import HTTPServerApp
import Lifecycle
import Logging
import Testing

/// The server in this process, its runner with no signal handling, its log lines kept.
struct RunningServer {
    let app: App
    let runner: ServiceRunner
    let run: Task<Void, any Error>
    let logs: Lines
    let client: Client

    static func start(
        databasePath: String = ":memory:", grace: String = "0", environment extra: [String: String] = [:],
        slowWork: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        graceWork: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) async throws -> RunningServer {
        let logs = Lines()
        var logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .debug) { logs.append($0) } }
        logger.logLevel = .debug
        let environment = [
            "PORT": "0", "DATABASE_PATH": databasePath, "SHUTDOWN_GRACE_SECONDS": grace,
            "WORKER_INTERVAL_SECONDS": "0.05",
        ].merging(extra) { $1 }
        let app = App(environment: environment, logger: logger, slowWork: slowWork, graceWork: graceWork)
        let runner = app.makeRunner(signals: Signals.none)
        let ended = Gate()
        let run = Task {
            defer { ended.open() }
            try await runner.run()
        }
        try await eventually { app.readiness.isReady || ended.isOpen }
        if ended.isOpen { try await run.value }  // a start that failed: its error
        let port = try #require(app.port)
        return RunningServer(app: app, runner: runner, run: run, logs: logs, client: Client(port: port))
    }

    func stop() async throws {
        runner.requestStop()
        try await run.value
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServerTests {
    @Test func healthAndMetricsAnswerOverHTTP() async throws {
        let server = try await RunningServer.start()
        let live = try await server.client.get("/health/live")
        #expect(live.status == 200)
        #expect(live.body == "live\n")
        let ready = try await server.client.get("/health/ready")
        #expect(ready.status == 200)
        let metrics = try await server.client.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType?.hasPrefix("text/plain") == true)
        #expect(metrics.body.contains("lifecycle_services{state=\"running\"} 7"))
        #expect(metrics.body.contains("# TYPE lifecycle_service_start_duration_seconds histogram"))
        #expect(metrics.body.contains("lifecycle_service_starts_total{service=\"database\"} 1"))
        try await server.stop()
    }

    @Test func notesGoThroughTheDatabaseAndTheJobQueue() async throws {
        let server = try await RunningServer.start()
        let created = try await server.client.post("/notes", body: "three little words")
        #expect(created.status == 201)
        let note = try JSONDecoder().decode(Note.self, from: Data(created.body.utf8))
        #expect(note.text == "three little words")
        // The job counts the words in the background.
        try await eventually {
            let fetched = try await server.client.get("/notes/\(note.id)")
            return try JSONDecoder().decode(Note.self, from: Data(fetched.body.utf8)).words == 3
        }
        let list = try await server.client.get("/notes")
        #expect(
            try JSONDecoder().decode([Note].self, from: Data(list.body.utf8)) == [
                Note(id: note.id, text: note.text, words: 3)
            ])
        #expect(try await server.client.get("/notes/9999").status == 404)
        #expect(try await server.client.post("/notes", body: "  ").status == 400)
        try await server.stop()
    }

    @Test func migrationsRunInTheDatabasesStartAndTheDataOutlivesARestart() async throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let first = try await RunningServer.start(databasePath: database.path)
        _ = try await first.client.post("/notes", body: "kept")
        try await first.stop()
        let second = try await RunningServer.start(databasePath: database.path)
        let list = try await second.client.get("/notes")
        #expect(try JSONDecoder().decode([Note].self, from: Data(list.body.utf8)).map(\.text) == ["kept"])
        try await second.stop()
        let migrated = { (lines: Lines) in try lines.objects().first { $0["message"] == "database migrated" } }
        #expect(try migrated(first.logs)?["db.migrations.applied"] == "2")
        #expect(try migrated(second.logs)?["db.migrations.applied"] == "0")
    }

    @Test func everyLogLineIsAJSONObjectAndTheTreeStartsInOrder() async throws {
        let server = try await RunningServer.start()
        try await server.stop()
        let lines = try server.logs.objects()  // throws if a line is not JSON
        #expect(lines.allSatisfy { $0["time"] != nil && $0["level"] != nil && $0["message"] != nil })
        let running = lines.filter { $0["lifecycle.to"] == "running" && $0["lifecycle.event"] == "transition" }
        let order = running.compactMap { $0["lifecycle.service"] }
        #expect(order.first == "config")
        #expect(order.last == "app")
        #expect(order.firstIndex(of: "database")! < order.firstIndex(of: "cache")!)
        #expect(order.firstIndex(of: "jobs")! < order.firstIndex(of: "http")!)
        #expect(order.firstIndex(of: "http")! < order.firstIndex(of: "worker")!)
        #expect(lines.contains { $0["lifecycle.event"] == "allRunning" && $0["lifecycle.service"] == "app" })
    }

    @Test func aBadSettingFailsTheStartWithAMessageThatNamesIt() async throws {
        let app = App(environment: ["PORT": "http"], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        await #expect(throws: ConfigError(variable: "PORT", value: "http", expected: "a port number from 0 to 65535")) {
            try await app.makeRunner(signals: Signals.none).run()
        }
        #expect(app.database.state == .idle)
    }

    @Test(arguments: [
        ("PORT", "65536"), ("PORT", "-1"), ("SHUTDOWN_GRACE_SECONDS", "soon"), ("SHUTDOWN_GRACE_SECONDS", "-1"),
        ("WORKER_INTERVAL_SECONDS", "0"), ("DATABASE_PATH", ""), ("SHUTDOWN_DEADLINE_SECONDS", "0.5"),
        ("SHUTDOWN_DEADLINE_SECONDS", "never"), ("SHUTDOWN_GRACE_SECONDS", "3601"),
    ])
    func unusableSettingsAreRefusedByName(variable: String, value: String) {
        #expect {
            try Settings(environment: [variable: value])
        } throws: { error in
            (error as? ConfigError)?.variable == variable
                && "\(error)".hasPrefix("\(variable)=\"\(value)\" is not usable")
        }
    }

    @Test func aStopRequestTurnsReadinessFalseAndARequestInFlightCompletesBeforeHTTPStops() async throws {
        let began = Gate()
        let release = Gate()
        let server = try await RunningServer.start(grace: "0.5") { _ in
            began.open()
            await release.wait()
        }
        let request = Task { try await server.client.get("/slow?ms=1") }
        await began.wait()

        server.runner.requestStop()
        // Readiness turns false at once, while the server still serves (the drain: the shutdown grace).
        #expect(try await server.client.get("/health/ready").status == 503)
        // Then http's graceful shutdown begins, and waits for the request in flight.
        try await eventually { server.app.http.state == .stopping }
        try await Task.sleep(for: .milliseconds(100))  // time for a wrong implementation to stop http anyway
        #expect(server.app.http.state == .stopping)
        #expect(server.app.database.state == .running)

        release.open()
        let reply = try await request.value
        #expect(reply.status == 200)
        #expect(reply.body == "done after 1 ms\n")
        try await server.run.value
        #expect(server.app.http.state == .stopped)
        let completed = try #require(try server.logs.index(ofMessage: "slow request completed"))
        let httpStopped = try #require(try server.logs.index(ofMessage: "http: stopping → stopped"))
        #expect(completed < httpStopped)
    }
}
