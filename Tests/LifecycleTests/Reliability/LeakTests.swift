import Testing

@testable import Lifecycle

/// After a tree stops and its user drops it, nothing of it is left: services, runner, records.
@Suite(.timeLimit(.minutes(1))) struct LeakTests {
    /// Weak references to every service of a tree, and their identities.
    struct Watch {
        var services: [() -> (any Service)?] = []
        var ids: [ServiceID] = []
        /// The tree's own coordinator, so that what it keeps is this tree's alone.
        let coordinator = Coordinator()

        mutating func add(_ service: any Service) {
            weak let weakService = service
            services.append { weakService }
            ids.append(service.serviceID)
        }

        var alive: [String] { services.compactMap { $0()?.name } }
    }

    /// Builds `root [a, Parallel(b, c)]` where `b` behaves as asked, runs it through `body`, and
    /// returns the watch after every strong reference the test held was dropped.
    static func watchTree(
        start: ProbeBehaviour = .succeed, stop: ProbeBehaviour = .succeed,
        _ body: @Sendable (ServiceRunner) async throws -> Void
    ) async -> Watch {
        var watch = Watch()
        do {
            let log = CallLog()
            let a = ProbeService("a", log: log)
            let b = ProbeService("b", log: log, start: start, stop: stop, gracefulShutdownTimeout: .milliseconds(50))
            let c = ProbeService("c", log: log, dependencies: [a])
            let root = LoopingTaskService("root")
            let tree = ClosureService(name: "tree", dependencies: [a, Parallel(b, c), root])
            for service in [a, b, c, root, tree] as [any Service] { watch.add(service) }
            let runner = ServiceRunner(
                tree, observers: [], signals: [], clock: ContinuousClock(), coordinator: watch.coordinator)
            try? await body(runner)
        }
        return watch
    }

    static func expectNothingLeft(_ watch: Watch, sourceLocation: SourceLocation = #_sourceLocation) async {
        // Background tasks and abandoned stops end a moment after cancellation: give them that moment.
        for _ in 0..<200 where !watch.alive.isEmpty { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(watch.alive == [], sourceLocation: sourceLocation)
        for id in watch.ids {
            #expect(await !watch.coordinator.isTracking(id), "\(id) still tracked", sourceLocation: sourceLocation)
        }
        // Its own coordinator lets the test say more: nothing at all is kept once the walks ended.
        for _ in 0..<200 where await !watch.coordinator.isIdle { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(await watch.coordinator.isIdle, sourceLocation: sourceLocation)
    }

    @Test func aCleanRunLeavesNothing() async {
        let watch = await Self.watchTree { runner in
            try await runner.start()
            try await runner.stop()
        }
        await Self.expectNothingLeft(watch)
    }

    @Test func aFailedStartLeavesNothing() async {
        let watch = await Self.watchTree(start: .fail) { runner in try await runner.run() }
        await Self.expectNothingLeft(watch)
    }

    @Test func anAbandonedStopLeavesNothingOnceItHonoursItsCancellation() async {
        let watch = await Self.watchTree(stop: .untilCancelled) { runner in
            try await runner.start()
            try await runner.stop()
        }
        await Self.expectNothingLeft(watch)
    }

    @Test func aStopThatNeverReturnsKeepsOnlyItsOwnServiceAlive() async {
        // The user's stop() still runs on the service, so that one object lives; nothing else does.
        let watch = await Self.watchTree(stop: .hang) { runner in
            try await runner.start()
            try await runner.stop()
        }
        for _ in 0..<100 where watch.alive.count > 1 { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(watch.alive == ["b"])
        for id in watch.ids { #expect(await !watch.coordinator.isTracking(id)) }
    }

    @Test func aRunnerDroppedWithoutStartingLeavesNothing() async {
        let watch = await Self.watchTree { _ in }
        await Self.expectNothingLeft(watch)
    }
}
