import Testing

@testable import Lifecycle

/// Every mistake a user can make gets an error that names the service and says what to do.
@Suite(.timeLimit(.minutes(2))) struct BadInputTests {
    @Test func aCycleMessageNamesTheServicesInOrder() async throws {
        let a = Node("api")
        let b = Node("database")
        a.next = [b]
        b.next = [a]
        let error = await #expect(throws: LifecycleError.self) { try await a.run(signals: []) }
        #expect(
            error?.description
                == "dependency cycle: api → database → api; nothing was started. "
                + "Break the cycle so that every service's dependencies are started before it.")
    }

    @Test func anEmptyParallelIsRefusedByTheRunnerBeforeAnythingStarts() async throws {
        let log = CallLog()
        let first = ProbeService("first", log: log)
        let root = ProbeService("root", log: log, dependencies: [first, Parallel()])
        let error = await #expect(throws: LifecycleError.emptyParallel(in: root.serviceID)) {
            try await root.run(signals: [])
        }
        #expect(log.all.isEmpty)
        #expect(error?.description.hasPrefix("root lists an empty Parallel()") == true)
    }

    @Test func aZeroStartTimeoutIsRefusedByTheRunner() async throws {
        let log = CallLog()
        let service = ProbeService("eager", log: log, startTimeout: .zero)
        let error = await #expect(throws: LifecycleError.invalidTimeout(service.serviceID, .zero)) {
            try await service.run(signals: [])
        }
        #expect(error?.description == "eager has a timeout of 0.0 seconds; timeouts must be greater than zero")
        #expect(log.all.isEmpty)
    }

    @Test func startingARunnerTwiceNamesTheRoot() async throws {
        let service = ClosureService(name: "api")
        let runner = ServiceRunner(service, signals: [])
        try await runner.start()
        let error = await #expect(throws: LifecycleError.alreadyStarted(service.serviceID)) {
            try await runner.start()
        }
        #expect(error?.description.contains("the runner of api was already started") == true)
        try await runner.stop()
    }

    @Test func addTaskAfterTheServiceStoppedIsRefused() async throws {
        let service = ClosureService(name: "worker")
        try await withRunning(service) { _ in }
        let error = #expect(throws: LifecycleError.taskAddedWhileNotRunning(service.serviceID, .stopped)) {
            try service.addTask {}
        }
        #expect(error?.description.contains("addTask was called on worker while it is stopped") == true)
    }

    @Test func aServiceReachableAlongOverAThousandPathsStartsAndStopsOnce() async throws {
        let log = CallLog()
        let shared = ProbeService("shared", log: log)
        var layer: [any Service] = [shared]
        for depth in 0..<10 {
            let dependencies = Dependencies([Parallel(layer)])
            layer = [
                ClosureService(name: "l\(depth)a", dependencies: dependencies),
                ClosureService(name: "l\(depth)b", dependencies: dependencies),
            ]
        }
        try await withRunning(ClosureService(name: "root", dependencies: [Parallel(layer)])) { _ in }
        #expect(shared.startCount == 1)
        #expect(shared.stopCount == 1)
    }

    @Test func aTreeTenThousandDeepStartsStopsAndIsReleased() async throws {
        let log = CallLog()
        let leaf = ProbeService("leaf", log: log)
        var root: any Service = leaf
        for depth in 0..<10_000 { root = ClosureService(name: "d\(depth)", dependencies: [root]) }
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        #expect(root.isRunning)
        try await runner.stop()
        #expect(leaf.stopCount == 1)
        #expect(log.all == [.start("leaf"), .stop("leaf")])
    }
}
