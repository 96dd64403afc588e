import Testing

@testable import Lifecycle

@Suite(.timeLimit(.minutes(1))) struct OrderTests {
    let log = CallLog()

    @Test func theMembersOfAParallelStageStartConcurrently() async throws {
        // Each member's start waits until every member has entered start(): only concurrency passes.
        let entered = Locked(0)
        let members = (0..<4).map { index in
            ClosureService(name: "p\(index)") {
                entered.withLock { $0 += 1 }
                while entered.withLock({ $0 }) < 4 { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        let root = ClosureService(name: "root", dependencies: [Parallel(members)])
        try await withRunning(root) { _ in }
        #expect(entered.withLock { $0 } == 4)
    }

    @Test func theMembersOfAParallelStageStopConcurrently() async throws {
        let entered = Locked(0)
        let members = (0..<3).map { index in
            ClosureService(name: "p\(index)") {
            } stop: {
                entered.withLock { $0 += 1 }
                while entered.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        try await withRunning(ClosureService(name: "root", dependencies: [Parallel(members)])) { _ in }
        #expect(entered.withLock { $0 } == 3)
    }

    @Test func stagesStartInOrderAndStopInReverse() async throws {
        let a = ProbeService("a", log: log)
        let b = ProbeService("b", log: log)
        let c = ProbeService("c", log: log)
        let d = ProbeService("d", log: log)
        let root = ProbeService("root", log: log, dependencies: [a, Parallel(b, c), d])
        try await withRunning(root) { _ in }
        let starts = log.starts
        #expect(starts.first == "a")
        #expect(Set(starts[1...2]) == ["b", "c"])
        #expect(Array(starts[3...]) == ["d", "root"])
        let stops = log.stops
        #expect(Array(stops[0...1]) == ["root", "d"])
        #expect(Set(stops[2...3]) == ["b", "c"])
        #expect(stops.last == "a")
    }

    @Test func aDependencysStopRunsOnlyAfterItsDependentsStopReturned() async throws {
        let dependency = ProbeService("dependency", log: log)
        let slow = ProbeService("slow", log: log, dependencies: [dependency], stop: .delay(.milliseconds(30)))
        try await withRunning(slow) { _ in }
        #expect(log.all == [.start("dependency"), .start("slow"), .stop("slow"), .stop("dependency")])
    }

    @Test func aSmallTreeEmitsExactlyThisTransitionSequence() async throws {
        let database = ClosureService(name: "database")
        let api = ClosureService(name: "api", dependencies: [database])
        let runner = ServiceRunner(api, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        #expect(
            lines(await events.value) == [
                "database: idle → starting", "database: starting → running",
                "api: idle → starting", "api: starting → running",
                "api: running → stopping", "api: stopping → stopped",
                "database: running → stopping", "database: stopping → stopped",
            ])
    }

    @Test func backgroundTasksEndBeforeTheDependenciesStop() async throws {
        let ended = Locked(false)
        let sawTaskEnded = Locked<Bool?>(nil)
        let dependency = ClosureService(name: "dependency") {
        } stop: {
            sawTaskEnded.withLock { $0 = ended.withLock { $0 } }
        }
        final class Worker: Service {
            let dependencies: Dependencies
            let ended: @Sendable () -> Void
            init(_ dependency: any Service, ended: @escaping @Sendable () -> Void) {
                dependencies = [dependency]
                self.ended = ended
            }
            func start() async throws {
                try addTask { [ended] in
                    try? await Task.sleep(for: .seconds(60))
                    try? await Task.sleep(for: .milliseconds(20))  // still cancelled: returns at once
                    ended()
                }
            }
        }
        try await withRunning(Worker(dependency) { ended.withLock { $0 = true } }) { _ in }
        #expect(sawTaskEnded.withLock { $0 } == true)
    }
}
