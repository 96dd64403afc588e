import Lifecycle
import Testing

/// facet 0.10.1's asyncio suite, test for test.
@Suite(.timeLimit(.minutes(1))) struct FacetParityTests {
    let log = CallLog()

    @Test func singleServiceState() async throws {
        let service = ProbeService("simple", log: log)
        try await withRunning(service) { service in
            #expect(service.startCount == 1)
            #expect(service.stopCount == 0)
            #expect(service.isRunning)
        }
        #expect(service.stopCount == 1)
        #expect(service.state == .stopped)
    }

    @Test func aFailingStartIsRethrownAndItsStopIsNotCalled() async throws {
        let service = ProbeService("broken", log: log, start: .fail)
        #expect(!service.isRunning)
        await #expect(throws: ProbeError(name: "broken")) { try await service.run(signals: []) }
        #expect(service.stopCount == 0)
        #expect(!service.isRunning)
        #expect(service.state == .failed)
    }

    @Test func aFailingStartAfterAHealthySiblingStopsTheSibling() async throws {
        let valid = ProbeService("valid", log: log)
        let broken = ProbeService("broken", log: log, start: .fail)
        let root = ProbeService("root", log: log, dependencies: [valid, broken])
        await #expect(throws: ProbeError(name: "broken")) { try await root.run(signals: []) }
        #expect(valid.startCount == 1)
        #expect(valid.stopCount == 1)
        #expect(!valid.isRunning)
        #expect(root.startCount == 0)
    }

    @Test func aFailingStartBeforeAHealthySiblingMeansTheSiblingNeverStarts() async throws {
        let valid = ProbeService("valid", log: log)
        let broken = ProbeService("broken", log: log, start: .fail)
        let root = ProbeService("root", log: log, dependencies: [broken, valid])
        await #expect(throws: ProbeError(name: "broken")) { try await root.run(signals: []) }
        #expect(valid.startCount == 0)
        #expect(valid.stopCount == 0)
        #expect(!valid.isRunning)
    }

    @Test func aDelayedFailingStartInAParallelStageStopsTheSibling() async throws {
        let valid = ProbeService("valid", log: log)
        let broken = ProbeService("broken", log: log, start: .failAfterYield)
        let root = ProbeService("root", log: log, dependencies: [Parallel(broken, valid)])
        await #expect(throws: ProbeError(name: "broken")) { try await root.run(signals: []) }
        #expect(valid.startCount == 1)
        #expect(valid.stopCount == 1)
        #expect(!valid.isRunning)
    }

    /// A needs B1 and B2, both need C.
    struct Diamond {
        let c, b1, b2, a: ProbeService
        init(log: CallLog) {
            c = ProbeService("C", log: log)
            b1 = ProbeService("B1", log: log, dependencies: [c])
            b2 = ProbeService("B2", log: log, dependencies: [c])
            a = ProbeService("A", log: log, dependencies: [b1, b2])
        }
    }

    @Test func diamondDependenciesStartOnceInOrderAndStopInExactlyTheReverse() async throws {
        let tree = Diamond(log: log)
        try await withRunning(tree.a) { _ in
            #expect(tree.a.isRunning && tree.b1.isRunning && tree.b2.isRunning && tree.c.isRunning)
        }
        #expect(tree.c.startCount == 1)
        #expect(tree.c.stopCount == 1)
        #expect(log.starts == ["C", "B1", "B2", "A"])
        #expect(log.stops == ["A", "B2", "B1", "C"])
    }

    @Test func aServiceSharedWithASecondTreeRunsUntilTheLastTreeStops() async throws {
        let tree = Diamond(log: log)
        try await withRunning(tree.a) { _ in
            try await withRunning(ProbeService("B3", log: log, dependencies: [tree.c])) { _ in }
            #expect(tree.c.isRunning)
        }
        #expect(!tree.c.isRunning)
        #expect(tree.c.stopCount == 1)
    }

    @Test func backgroundTasksAreCancelledOnStop() async throws {
        let service = LoopingTaskService()
        try await withRunning(service) { _ in }
        #expect(service.cancelCount == 1)
    }

    @Test func aThrowingBackgroundTaskMakesRunAndWaitThrow() async throws {
        let service = FailingTaskService()
        await #expect(throws: ProbeError(name: "failing-task")) { try await service.run(signals: []) }
        await #expect(throws: ProbeError(name: "failing-task")) {
            try await withRunning(service) { service in try await service.wait() }
        }
    }

    @Test func aDependencysFailingStartNeverCallsTheDependentsStartOrTheFailedStop() async throws {
        let b = ProbeService("B", log: log, start: .fail)
        let a = ProbeService("A", log: log, dependencies: [b])
        await #expect(throws: ProbeError(name: "B")) { try await withRunning(a) { _ in } }
        #expect(a.startCount == 0)
        #expect(a.stopCount == 0)
        #expect(b.startCount == 1)
        #expect(b.stopCount == 0)
    }

    @Test func parallelStagesStartAndStopEachMemberOnce() async throws {
        let members = (1...3).map { ProbeService("p\($0)", log: log) }
        let root = ProbeService("root", log: log, dependencies: [Parallel(members)])
        try await withRunning(root) { _ in }
        #expect(members.allSatisfy { $0.startCount == 1 && $0.stopCount == 1 })
    }

    @Test func aServiceWithNoOverridesRuns() async throws {
        final class Bare: Service {}
        let bare = Bare()
        try await withRunning(bare) { bare in #expect(bare.isRunning) }
        #expect(bare.state == .stopped)
        #expect(bare.name == "Bare")
    }
}
