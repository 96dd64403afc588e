import Foundation
import HTTPServerApp
import Lifecycle
import Logging
import Testing

/// The shutdown the orchestrator sees: the drain, the budget against the deadline, the probes.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ShutdownTests {
    static let silent = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// The chain of stops that makes the worst case, the root first.
    static func longestStop(of app: App) -> [ServiceID] {
        let chain: [any Service] = [app, app.worker, app.http, app.jobs, app.database, app.config]
        return chain.map(\.serviceID)
    }

    @Test func duringTheDrainReadinessIs503WhileRequestsStillSucceed() async throws {
        let drainBegan = Gate()
        let graceOver = Gate()
        let server = try await RunningServer.start(
            grace: "10", environment: ["SHUTDOWN_DEADLINE_SECONDS": "60"],
            graceWork: { grace in
                #expect(grace == .seconds(10))
                drainBegan.open()
                await graceOver.wait()
            })
        #expect(try await server.client.get("/health/ready").status == 200)

        server.runner.requestStop()
        await drainBegan.wait()
        let ready = try await server.client.get("/health/ready")
        #expect(ready.status == 503)
        #expect(ready.body == "not ready\n")
        #expect(try await server.client.get("/health/live").status == 200)
        // New requests still reach the database: a load balancer may send some until it sees the 503.
        let created = try await server.client.post("/notes", body: "sent during the drain")
        #expect(created.status == 201)
        let note = try JSONDecoder().decode(Note.self, from: Data(created.body.utf8))
        #expect(try await server.client.get("/notes/\(note.id)").status == 200)
        let snapshot = server.runner.snapshot()
        #expect(!snapshot.isReady)
        #expect(snapshot.stopCause == .requested)
        #expect(snapshot.state(of: server.app.http.serviceID) == .running)
        #expect(snapshot.state(of: server.app.database.serviceID) == .running)

        graceOver.open()
        try await server.run.value
        #expect(server.app.http.state == .stopped)
        let draining = try #require(try server.logs.objects().firstIndex { $0["lifecycle.event"] == "draining" })
        let httpStopping = try #require(try server.logs.index(ofMessage: "http: running → stopping"))
        #expect(draining < httpStopping)
    }

    @Test func aGraceThatOverstaysIsCutAtTheDrainTimeout() async throws {
        let never = Gate()
        let graceBegan = Gate()
        let server = try await RunningServer.start(
            grace: "0.2",
            graceWork: { _ in
                graceBegan.open()
                await never.waitIgnoringCancellation()
            })
        try await server.stop()  // returns although the grace's work never does
        #expect(graceBegan.isOpen)
        #expect(!never.isOpen)  // still waiting: the runner left it behind
        never.open()
        #expect(server.app.http.state == .stopped)
        #expect(server.app.state == .stopped)
    }

    @Test func theDefaultTreeFitsTheDefaultDeadlineAndTheChainIsTheLongestStop() throws {
        let app = App(environment: [:], logger: Self.silent)
        #expect(app.drainTimeout == .seconds(2))
        #expect(app.shutdownDeadline == .seconds(30))
        let plan = try app.makeRunner(signals: Signals.none).plan()
        // app 1 + worker 2 + http 10 + Parallel(cache 1, jobs 5) + database 2 + config 1.
        #expect(plan.worstCaseShutdown == .seconds(21))
        #expect(plan.criticalShutdownPath == Self.longestStop(of: app))
        #expect(plan.worstCaseShutdown + app.drainTimeout <= app.shutdownDeadline)
    }

    @Test func aGraceThatJustFitsTheDeadlineIsAccepted() throws {
        let app = App(environment: ["SHUTDOWN_GRACE_SECONDS": "9"], logger: Self.silent)
        #expect(throws: Never.self) { try app.makeRunner(signals: Signals.none).plan() }
    }

    @Test(arguments: [
        (["SHUTDOWN_DEADLINE_SECONDS": "10"], Duration.seconds(23), Duration.seconds(10)),
        (["SHUTDOWN_GRACE_SECONDS": "9.5"], Duration.seconds(30.5), Duration.seconds(30)),
        (["SHUTDOWN_DEADLINE_SECONDS": "1", "SHUTDOWN_GRACE_SECONDS": "0"], Duration.seconds(21), Duration.seconds(1)),
    ])
    func aDeadlineTooSmallForTheWorstCaseIsRefusedNamingTheChain(
        environment: [String: String], worstCase: Duration, deadline: Duration
    ) async throws {
        let app = App(
            environment: environment.merging(["PORT": "0", "DATABASE_PATH": ":memory:"]) { $1 }, logger: Self.silent)
        let refusal = LifecycleError.shutdownBudgetExceeded(
            path: Self.longestStop(of: app), worstCase: worstCase, deadline: deadline)
        #expect(throws: refusal) { try app.logShutdownPlan(of: app.makeRunner(signals: Signals.none)) }
        await #expect(throws: refusal) { try await app.makeRunner(signals: Signals.none).run() }
        // Refused before anything started: nothing opened, nothing listened.
        #expect(app.config.state == .idle)
        #expect(app.database.state == .idle)
        #expect(app.port == nil)
        #expect("\(refusal)".contains("app → worker → http → jobs → database → config"))
    }

    @Test func theShutdownPlanIsLoggedWithItsWorstCaseDrainDeadlineAndChain() throws {
        let logs = Lines()
        let logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .info) { logs.append($0) } }
        let app = App(
            environment: ["SHUTDOWN_GRACE_SECONDS": "0.25", "SHUTDOWN_DEADLINE_SECONDS": "60"], logger: logger)
        try app.logShutdownPlan(of: app.makeRunner(signals: Signals.none))
        let line = try #require(try logs.objects().first { $0["message"]?.hasPrefix("shutdown plan: ") == true })
        #expect(
            line["message"]
                == "shutdown plan: worst case 21s + drain 0.25s of the 60s deadline, through app → worker → http → jobs → database → config"
        )
        #expect(line["shutdown.worst_case"] == "21s")
        #expect(line["shutdown.drain"] == "0.25s")
        #expect(line["shutdown.deadline"] == "60s")
        #expect(line["shutdown.path"] == "app → worker → http → jobs → database → config")
    }

    @Test func liveUnlessTheTreeFailedReadyOnlyWhileRunningWithNoStopRequested() {
        let app = App(environment: [:], logger: Self.silent)
        #expect(!app.readiness.isReady)  // no runner yet
        #expect(!app.readiness.isLive)
        func snapshot(_ root: ServiceState, _ http: ServiceState, cause: StopCause?) -> LifecycleSnapshot {
            LifecycleSnapshot(
                root: app.serviceID, services: [app.serviceID, app.http.serviceID],
                states: [app.serviceID: root, app.http.serviceID: http], isReady: false, stopCause: cause,
                eventCount: 0)
        }
        #expect(Readiness.isLive(snapshot(.starting, .starting, cause: nil)))
        #expect(Readiness.isLive(snapshot(.running, .running, cause: nil)))
        #expect(Readiness.isLive(snapshot(.running, .running, cause: .signal(15))))  // draining after SIGTERM
        #expect(Readiness.isLive(snapshot(.stopped, .stopping, cause: .deadline)))
        #expect(!Readiness.isLive(snapshot(.running, .running, cause: .failure)))
        #expect(!Readiness.isLive(snapshot(.running, .failed, cause: nil)))
    }

    @Test func readinessFollowsTheRunnerItHoldsAndLetsItGo() async throws {
        let app = App(
            environment: ["PORT": "0", "DATABASE_PATH": ":memory:", "SHUTDOWN_GRACE_SECONDS": "0"], logger: Self.silent)
        var runner: ServiceRunner? = app.makeRunner(signals: Signals.none)
        #expect(!app.readiness.isReady)
        #expect(app.readiness.isLive)  // attached, starting soon: not failed
        try await runner?.start()
        #expect(app.readiness.isReady)
        try await runner?.stop()
        #expect(!app.readiness.isReady)
        runner = nil
        #expect(app.readiness.snapshot == nil)  // held weakly: the tree holds the holder
    }
}

extension ShutdownTests {
    @Test func systemdHearsReadyThenStoppingOnItsNotifySocket() async throws {
        let notify = try NotifySocket()
        defer { notify.close() }
        let server = try await RunningServer.start(environment: ["NOTIFY_SOCKET": notify.path])
        try await eventually { notify.messages.all.contains { $0.split(separator: "\n").contains("READY=1") } }
        #expect(!notify.messages.all.contains { $0.contains("STOPPING=1") })
        try await server.stop()
        try await eventually { notify.messages.all.contains { $0.split(separator: "\n").contains("STOPPING=1") } }
    }
}
