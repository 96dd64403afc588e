import Lifecycle
import LifecycleTesting
import Testing

/// Defects of facet 0.10.1, reproduced there, that this package must not repeat.
@Suite(.timeLimit(.minutes(1))) struct FacetDefectTests {
    let log = CallLog()

    @Test(arguments: [false, true])
    func aRolledBackStartNeverReleasesASharedDependencyItDidNotAcquire(sharedInTheFailingStage: Bool) async throws {
        let shared = ProbeService("shared", log: log)
        let other = ServiceRunner(ProbeService("other", log: log, dependencies: [shared]), signals: [])
        try await other.start()
        let broken = ProbeService("broken", log: log, start: .fail)
        // Either the failing stage holds the shared service too, or the failure comes before it is reached.
        let dependencies: Dependencies = sharedInTheFailingStage ? [Parallel(broken, shared)] : [broken, shared]
        await #expect(throws: ProbeError(name: "broken")) {
            try await ProbeService("failing", log: log, dependencies: dependencies).run(signals: [])
        }
        #expect(shared.isRunning)
        #expect(shared.stopCount == 0)
        try await other.stop()
        #expect(shared.stopCount == 1)
        #expect(shared.state == .stopped)
    }

    @Test func aGracefulTimeoutStillStopsEveryDependency() async throws {
        let clock = ManualClock()
        let a = ProbeService("a", log: log)
        let b = ProbeService("b", log: log, dependencies: [a])
        let c = ProbeService("c", log: log)
        let hung = ProbeService(
            "hung", log: log, dependencies: [b, c], stop: .hang, gracefulShutdownTimeout: .seconds(1))
        let runner = ServiceRunner(hung, signals: [], clock: clock)
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(2)  // the graceful-shutdown timeout and the stall report
        clock.advance(by: .seconds(1))
        await #expect(throws: LifecycleError.self) { try await stop.value }
        #expect([a, b, c].allSatisfy { $0.state == .stopped && $0.stopCount == 1 })
        #expect(log.stops == ["hung", "c", "b", "a"])
    }

    @Test func aThrowingStopInAParallelStageDoesNotCancelItsSiblingsStops() async throws {
        let base = ProbeService("base", log: log)
        let throwing = ProbeService("throwing", log: log, dependencies: [base], stop: .fail)
        let slow = ProbeService("slow", log: log, dependencies: [base], stop: .delay(.milliseconds(30)))
        let root = ProbeService("root", log: log, dependencies: [Parallel(throwing, slow)])
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        await #expect(throws: ProbeError(name: "throwing")) { try await runner.stop() }
        #expect(slow.state == .stopped)
        #expect(!slow.stopSawCancellation)
        #expect(base.state == .stopped)
    }

    @Test func aDependencyCycleFailsAtOnceInsteadOfHanging() async throws {
        let a = Node("a")
        let b = Node("b")
        let c = Node("c")
        a.next = [b]
        b.next = [c]
        c.next = [a]
        await #expect(throws: LifecycleError.dependencyCycle([a.serviceID, b.serviceID, c.serviceID, a.serviceID])) {
            try await a.run(signals: [])
        }
        #expect([a, b, c].allSatisfy { $0.state == .idle })
    }

    @Test func aSharedServicesBackgroundFailureBringsDownEveryTreeHoldingIt() async throws {
        let shared = FailingTaskService("shared", after: .milliseconds(50))
        let one = ServiceRunner(ProbeService("one", log: log, dependencies: [shared]), signals: [])
        let two = ServiceRunner(ProbeService("two", log: log, dependencies: [shared]), signals: [])
        let first = Task { try await one.run() }
        let second = Task { try await two.run() }
        await #expect(throws: ProbeError(name: "shared")) { try await first.value }
        await #expect(throws: ProbeError(name: "shared")) { try await second.value }
        #expect(shared.state == .stopped)
    }
}
