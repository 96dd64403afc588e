import Lifecycle
import LifecycleServiceLifecycle
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite(.timeLimit(.minutes(1)))
struct TreeServiceTests {
    let journal = Journal()
    let servers = Instances<FakeServer>()
    let logger = Logger(label: "test")

    /// `worker → http (hosted) → database`, the worker's stop held until `workerStop` opens.
    func tree(workerStop: Gate? = nil) -> Recorded {
        let database = Recorded("database", journal: journal)
        let http = HostedService("http", dependencies: [database]) { [journal, servers] ready in
            servers.add(FakeServer("http", journal: journal, ready: ready))
        }
        return Recorded("worker", journal: journal, dependencies: [http], holdStop: workerStop)
    }

    @Test func theGroupsShutdownStopsTheTreeInOrderAndARequestInFlightCompletes() async throws {
        let workerStop = Gate()
        let worker = tree(workerStop: workerStop)
        let group = ServiceGroup(services: [TreeService(worker)], logger: logger)
        let groupRun = Task { try await group.run() }
        try await eventually { worker.isRunning }
        let server = try #require(servers.last)
        let release = Gate()
        let request = Task { await server.handle(release: release) }
        try await eventually { journal.all.contains("http request began") }

        await group.triggerGracefulShutdown()
        try await eventually { journal.all.contains("worker stopping") }
        // The outer group's shutdown must reach http only through the tree's stop, after the worker's.
        try await Task.sleep(for: .milliseconds(50))
        #expect(!server.isShuttingDown)

        workerStop.open()
        try await eventually { server.isShuttingDown }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!journal.all.contains("database stopping"))  // the request in flight holds http's stop

        release.open()
        #expect(await request.value == "ok")
        try await groupRun.value
        #expect(
            journal.all == [
                "database started", "http run", "worker started", "http request began", "worker stopping",
                "worker stopped", "http shutting down", "http request completed", "http run returned",
                "database stopping", "database stopped",
            ])
    }

    @Test func aFailedStartIsThrownFromRun() async throws {
        let failing = ClosureService(name: "failing", start: { throw Boom() })
        let group = ServiceGroup(services: [TreeService(failing)], logger: logger)
        await #expect(throws: Boom.self) { try await group.run() }
    }

    @Test func aFailedBackgroundTaskIsThrownFromRunAfterTheTreeStopped() async throws {
        let database = Recorded("database", journal: journal)
        let gate = Gate()
        let api = ClosureService(name: "api", dependencies: [database]) {}
        let failing = ClosureService(name: "failing", dependencies: [api])
        let group = ServiceGroup(services: [TreeService(failing)], logger: logger)
        let run = Task { try await group.run() }
        try await eventually { failing.isRunning }
        try failing.addTask {
            await gate.wait()
            throw Boom()
        }
        gate.open()
        await #expect(throws: Boom.self) { try await run.value }
        #expect(journal.all == ["database started", "database stopping", "database stopped"])
    }

    @Test func aShutdownWhileTheTreeStartsRollsItBack() async throws {
        let startHeld = Gate()
        let slow = ClosureService(name: "slow", start: { await startHeld.wait() })
        let root = Recorded("root", journal: journal, dependencies: [slow])
        let watcher = StopWatcher()
        let group = ServiceGroup(services: [TreeService(root, observers: [watcher])], logger: logger)
        let run = Task { try await group.run() }
        try await eventually { slow.state == .starting }
        await group.triggerGracefulShutdown()
        try await eventually { watcher.isStopRequested }  // the group's shutdown reached the tree
        startHeld.open()
        try await run.value
        #expect(journal.all.isEmpty)  // root never started
        #expect(root.state == .idle)
    }

    @Test func aShutdownTriggeredBeforeRunStillStartsNothingOrStopsItAndReturns() async throws {
        let worker = tree()
        try await testGracefulShutdown { trigger in
            trigger.triggerGracefulShutdown()
            try await TreeService(worker).run()
        }
        #expect(worker.state != .running)
        #expect(servers.all.allSatisfy { $0.isShuttingDown })
        // Whatever started was stopped, in order.
        let entries = journal.all
        if let databaseStopped = entries.firstIndex(of: "database stopped") {
            #expect(entries.firstIndex(of: "http run returned").map { $0 < databaseStopped } ?? true)
        }
    }

    @Test func itsDescriptionIsTheRootsName() {
        #expect(TreeService(tree()).description == "worker")
    }
}
