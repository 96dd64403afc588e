import LifecycleTesting
import Testing

/// Real runs of probe trees pass the checker: it finds no violation where the lifecycle kept its rules.
@Suite(.timeLimit(.minutes(1))) struct InvariantCheckerRunTests {
    /// api → [config, Parallel(cache, queue)], every probe with a background task.
    struct Tree {
        let log = ProbeLog()
        let clock = ManualClock()
        let config: ProbeService
        let cache: ProbeService
        let queue: ProbeService
        let api: ProbeService

        init(
            cacheStart: ProbeBehavior = .instant, queueStop: ProbeBehavior = .instant,
            apiTask: ProbeBehavior = .untilCancelled
        ) {
            config = ProbeService("config", log: log, clock: clock, task: .untilCancelled)
            cache = ProbeService("cache", log: log, clock: clock, start: cacheStart, task: .untilCancelled)
            queue = ProbeService(
                "queue", log: log, clock: clock, stop: queueStop, task: .untilCancelled,
                gracefulShutdownTimeout: .seconds(5))
            api = ProbeService(
                "api", log: log, clock: clock, dependencies: [config, Parallel(cache, queue)], task: apiTask)
        }

        var all: [ProbeService] { [config, cache, queue, api] }
    }

    @Test func aCleanStartAndStopPasses() async throws {
        let tree = Tree()
        let run = await startAndStop(tree.api, clock: tree.clock)
        #expect(run.start == nil && run.stop == nil)
        try InvariantChecker(root: tree.api).verify(run.events, log: tree.log)
        #expect(tree.all.allSatisfy { $0.startCount == 1 && $0.stopCount == 1 })
    }

    @Test func aRolledBackStartPasses() async throws {
        let tree = Tree(cacheStart: .throw)
        let run = await startAndStop(tree.api, clock: tree.clock)
        #expect(run.start as? ProbeError == ProbeError(service: "cache", phase: .start))
        try InvariantChecker(root: tree.api).verify(run.events, log: tree.log)
        #expect(tree.cache.stopCount == 0 && tree.api.startCount == 0)
    }

    @Test func aStopAbandonedAtItsTimeoutPasses() async throws {
        let tree = Tree(queueStop: .hang)
        defer { tree.queue.releaseHangs() }
        let run = await startAndStop(tree.api, clock: tree.clock, drivingTime: true)
        #expect(run.stop is LifecycleError)
        try InvariantChecker(root: tree.api).verify(run.events, log: tree.log)
        #expect(tree.config.stopCount == 1)
    }

    @Test func aFailedBackgroundTaskPasses() async throws {
        let tree = Tree(apiTask: .throw)
        let runner = ServiceRunner(tree.api, signals: [], clock: tree.clock)
        let events = collect(runner.events())
        await #expect(throws: ProbeError(service: "api", phase: .task)) { try await runner.run() }
        try InvariantChecker(root: tree.api).verify(await events.value, log: tree.log)
    }

    @Test func twoTreesSharingAServicePass() async throws {
        let log = ProbeLog()
        let shared = ProbeService("shared", log: log, task: .untilCancelled)
        let first = ProbeService("first", log: log, dependencies: [shared])
        let second = ProbeService("second", log: log, dependencies: [shared])
        let one = ServiceRunner(first, signals: [])
        let two = ServiceRunner(second, signals: [])
        let events = (collect(one.events()), collect(two.events()))
        try await one.start()
        try await two.start()
        try await one.stop()
        #expect(shared.isRunning)
        try await two.stop()
        let all = await events.0.value + events.1.value
        try InvariantChecker(roots: [first, second]).verify(all, log: log)
        #expect(shared.startCount == 1 && shared.stopCount == 1)
    }

    @Test func aRunStillGoingIsCheckedWithoutItsEnd() async throws {
        let tree = Tree()
        let runner = ServiceRunner(tree.api, signals: [], clock: tree.clock)
        let events = collect(runner.events())
        try await runner.start()
        let checker = InvariantChecker(root: tree.api)
        #expect(checker.check([], log: tree.log, finished: false) == nil)
        #expect(checker.check([], log: tree.log)?.rules == [.stoppedAtTheEnd])
        try await runner.stop()
        try checker.verify(await events.value, log: tree.log)
    }
}
