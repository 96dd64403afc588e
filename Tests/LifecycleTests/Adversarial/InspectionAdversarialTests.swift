import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §12–§13 used the way a careless or hostile user would: calls from inside the tree's own
/// work, huge and tiny values, calls in an unexpected order.
@Suite(.timeLimit(.minutes(1))) struct InspectionAdversarialTests {
    /// A service that looks at its own runner from inside `start()`, `drain()` and `stop()`.
    private final class Introspective: Service {
        let runner = Locked<ServiceRunner?>(nil)
        let seen = Locked<[String]>([])

        private func look(_ phase: String) {
            guard let runner = runner.withLock({ $0 }) else { return }
            let snapshot = runner.snapshot()
            let (subscribed, _) = runner.subscribe()
            _ = try? runner.plan()
            _ = runner.failures
            let status = runner.shutdownStatus()
            seen.withLock {
                $0.append("\(phase): \(snapshot.states[serviceID]!) \(subscribed.isReady) \(status.isStopping)")
            }
        }

        func start() async throws { look("start") }
        func drain() async { look("drain") }
        func stop() async throws { look("stop") }
    }

    @Test func theTreesOwnWorkCanInspectItsRunnerWithoutDeadlock() async throws {
        let service = Introspective()
        let runner = ServiceRunner(service, signals: [], drainTimeout: .seconds(60))
        service.runner.withLock { $0 = runner }
        try await runner.start()
        try await runner.stop()
        #expect(
            service.seen.withLock { $0 } == [
                "start: starting false false",
                "drain: running false true",
                "stop: stopping false true",
            ])
        service.runner.withLock { $0 = nil }
    }

    @Test func hugeValuesNeitherTrapNorHang() async throws {
        let root = ProbeService("root", log: CallLog())
        let runner = ServiceRunner(
            root, signals: [], stallReportInterval: .seconds(Int64.max), shutdownDeadline: .seconds(Int64.max),
            drainTimeout: .seconds(Int64.max / 2))
        try await runner.start()
        try await runner.stop()
        #expect(root.state == .stopped)
    }

    @Test func aTinyStallIntervalReportsOnlyServicesReallyStopping() async throws {
        let log = CallLog()
        let slow = ProbeService("slow", log: log, stop: .delay(.milliseconds(50)))
        let root = ProbeService("root", log: log, dependencies: [slow])
        let runner = ServiceRunner(root, signals: [], stallReportInterval: .nanoseconds(1))
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        let stalls = await events.value.compactMap { event -> [ServiceID]? in
            if case .shutdownStalled(let stopping) = event.kind { return stopping }
            return nil
        }
        #expect(!stalls.isEmpty)
        #expect(stalls.allSatisfy { !$0.isEmpty && Set($0).isSubset(of: [root.serviceID, slow.serviceID]) })
    }

    @Test func aStopRequestedBeforeStartWithADeadlineEndsCleanly() async throws {
        let clock = ManualClock()
        let root = ProbeService("root", log: CallLog())
        let runner = ServiceRunner(root, signals: [], clock: clock, shutdownDeadline: .seconds(30))
        runner.requestStop()
        #expect(!runner.snapshot().isReady)
        #expect(runner.snapshot().stopCause == .requested)
        await #expect(throws: CancellationError.self) { try await runner.start() }
        #expect(await eventually { clock.sleeperCount == 0 })  // the deadline's timer is gone
        #expect(root.startCount == 0)
    }

    @Test func manyThreadsInspectWhileATreeStopsSlowly() async throws {
        let log = CallLog()
        let services = (0..<10).map { ProbeService("s\($0)", log: log, stop: .delay(.milliseconds(5))) }
        let root = ProbeService("root", log: log, dependencies: [Parallel(services)])
        let runner = ServiceRunner(root, signals: [], drainTimeout: .milliseconds(10))
        try await runner.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<300 {
                        _ = runner.shutdownStatus().description
                        _ = runner.snapshot().description
                        _ = runner.failures
                        await Task.yield()
                    }
                }
            }
            group.addTask { try await runner.stop() }
            try await group.waitForAll()
        }
        #expect(runner.snapshot().states.values.allSatisfy { $0 == .stopped })
    }

    @Test func planIsAValueThatDoesNotFollowTheTree() async throws {
        let root = ProbeService("root", log: CallLog())
        let runner = ServiceRunner(root, signals: [])
        let plan = try runner.plan()
        try await runner.start()
        try await runner.stop()
        #expect(plan.services == [root.serviceID])
        #expect(try runner.plan().services == [root.serviceID])  // a stopped tree can still be planned
    }
}
