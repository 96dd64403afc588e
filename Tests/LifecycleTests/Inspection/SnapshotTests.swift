import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §12: `snapshot()`, `subscribe(bufferingNewest:)` and `failures`.
@Suite(.timeLimit(.minutes(1))) struct SnapshotTests {
    @Test func theSnapshotCoversEveryServiceOfTheTreeAndSaysWhenItIsReady() async throws {
        let log = CallLog()
        let shared = ProbeService("shared", log: log)
        let a = ProbeService("a", log: log, dependencies: [shared])
        let b = ProbeService("b", log: log, dependencies: [shared])
        let root = ProbeService("root", log: log, dependencies: [Parallel(a, b)])
        let runner = ServiceRunner(root, signals: [])
        let before = runner.snapshot()
        #expect(before.states == [root.serviceID: .idle])
        #expect(!before.isReady)
        #expect(before.eventCount == 0)
        try await runner.start()
        let running = runner.snapshot()
        #expect(Set(running.services) == Set([shared, a, b, root].map(\.serviceID)))
        #expect(running.services.first == root.serviceID)
        #expect(running.states.values.allSatisfy { $0 == .running })
        #expect(running.states.count == 4)
        #expect(running.isReady)
        #expect(running.stopCause == nil)
        #expect(running.eventCount == 8)  // idle → starting → running, for four services
        try await runner.stop()
        let stopped = runner.snapshot()
        #expect(!stopped.isReady)
        #expect(stopped.stopCause == .requested)
        #expect(stopped.states.values.allSatisfy { $0 == .stopped })
        #expect(stopped.eventCount == 8 + 1 + 8)  // the cause, then two transitions each
    }

    @Test func isReadyTurnsFalseAtTheStopRequestBeforeAnythingStops() async throws {
        let log = CallLog()
        let gate = Gate()
        let root = ScriptedService("root", stopGate: gate)
        _ = log
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        #expect(runner.snapshot().isReady)
        runner.requestStop()
        let requested = runner.snapshot()
        #expect(!requested.isReady)
        #expect(requested.stopCause == .requested)
        #expect(requested.states[root.serviceID] == .running)  // nothing stopped yet
        let stop = Task { try await runner.stop() }
        gate.open()
        try await stop.value
    }

    @Test func aServiceRunningInAnotherTreeShowsAsRunning() async throws {
        let log = CallLog()
        let shared = ProbeService("shared", log: log)
        let first = ServiceRunner(ProbeService("first", log: log, dependencies: [shared]), signals: [])
        try await first.start()
        let secondRoot = ProbeService("second", log: log, dependencies: [shared])
        let second = ServiceRunner(secondRoot, signals: [])
        try await second.start()
        #expect(second.snapshot().states[shared.serviceID] == .running)
        #expect(second.snapshot().states[secondRoot.serviceID] == .running)
        try await second.stop()
        #expect(second.snapshot().states[shared.serviceID] == .running)  // the first tree still holds it
        try await first.stop()
    }

    @Test func snapshotIsSafeFromManyThreadsWhileTheTreeStartsAndStops() async throws {
        let log = CallLog()
        let services = (0..<20).map { ProbeService("s\($0)", log: log) }
        let root = ProbeService("root", log: log, dependencies: [Parallel(services)])
        let runner = ServiceRunner(root, signals: [])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var last = 0
                    for _ in 0..<2_000 {
                        let snapshot = runner.snapshot()
                        #expect(snapshot.eventCount >= last)  // counts only grow
                        last = snapshot.eventCount
                        await Task.yield()
                    }
                }
            }
            try await runner.start()
            try await runner.stop()
            try await group.waitForAll()
        }
    }

    // MARK: subscribe

    /// Replays events onto a snapshot, as a late subscriber would.
    private static func apply(_ events: [LifecycleEvent], to snapshot: LifecycleSnapshot) -> [ServiceID: ServiceState] {
        var states = snapshot.states
        for event in events where event.isTransition {
            #expect(states[event.service] ?? .idle == event.from, "\(event) does not follow the snapshot")
            states[event.service] = event.to
        }
        return states
    }

    @Test func subscribeIsExactWhileATreeStarts() async throws {
        // Hammer: subscribe over and over while a wide tree starts and stops; each subscriber's
        // snapshot plus its events must give exactly the final states, with no event in both.
        for _ in 0..<20 {
            let log = CallLog()
            let services = (0..<30).map { ProbeService("s\($0)", log: log) }
            let middle = ProbeService("middle", log: log, dependencies: [Parallel(services)])
            let root = ProbeService("root", log: log, dependencies: [middle])
            let runner = ServiceRunner(root, signals: [])
            let subscriptions = Task {
                var taken: [(LifecycleSnapshot, Task<[LifecycleEvent], Never>)] = []
                for _ in 0..<40 {
                    let (snapshot, events) = runner.subscribe()
                    taken.append((snapshot, collect(events)))
                    await Task.yield()
                }
                return taken
            }
            try await runner.start()
            try await runner.stop()
            let final = runner.snapshot()
            for (snapshot, events) in await subscriptions.value {
                let received = await events.value
                #expect(snapshot.eventCount + received.count == final.eventCount)
                let states = Self.apply(received, to: snapshot)
                for (service, state) in final.states { #expect(states[service] == state) }
            }
        }
    }

    @Test func aSubscriberAfterTheStopGetsTheLastSnapshotAndAnEndedStream() async throws {
        let root = ProbeService("root", log: CallLog())
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        try await runner.stop()
        let (snapshot, events) = runner.subscribe()
        #expect(snapshot.states[root.serviceID] == .stopped)
        #expect(await collect(events).value.isEmpty)
    }

    @Test func aBoundedSubscriberCountsItsDrops() async throws {
        let log = CallLog()
        let root = ProbeService(
            "root", log: log, dependencies: [Parallel((0..<10).map { ProbeService("s\($0)", log: log) })])
        let runner = ServiceRunner(root, signals: [])
        let (_, events) = runner.subscribe(bufferingNewest: 1)
        try await runner.start()
        try await runner.stop()
        let received = await collect(events).value
        #expect(received.count + runner.droppedEventCount == runner.snapshot().eventCount)
    }

    // MARK: failures

    @Test func failuresListRollbackAndStopErrorsWithTheirPhaseInOrder() async throws {
        let log = CallLog()
        let clock = ManualClock()
        let failsToStop = ProbeService("fails-to-stop", log: log, stop: .fail)
        let failsToStart = ProbeService("fails-to-start", log: log, dependencies: [failsToStop], start: .fail)
        let runner = ServiceRunner(failsToStart, signals: [], clock: clock)
        await #expect(throws: ProbeError(name: "fails-to-start")) { try await runner.start() }
        let failures = runner.failures
        #expect(failures.map(\.service) == [failsToStart.serviceID, failsToStop.serviceID])
        #expect(failures.map(\.phase) == [.start, .stop])
        #expect(
            failures.map { $0.error as? ProbeError } == [
                ProbeError(name: "fails-to-start"), ProbeError(name: "fails-to-stop"),
            ])
        #expect(failures[0].time <= failures[1].time)
    }

    @Test func failuresListEveryStopErrorEvenThoseRunDoesNotThrow() async throws {
        let log = CallLog()
        let first = ProbeService("first", log: log, stop: .fail)
        let second = ProbeService("second", log: log, stop: .fail)
        let root = ProbeService("root", log: log, dependencies: [first, second])
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        await #expect(throws: ProbeError(name: "second")) { try await runner.stop() }
        #expect(runner.failures.map(\.service.name) == ["second", "first"])
        #expect(runner.failures.allSatisfy { $0.phase == .stop })
    }

    @Test func aBackgroundTaskFailureIsATaskFailure() async throws {
        let service = FailingTaskService()
        let runner = ServiceRunner(service, signals: [])
        await #expect(throws: (any Error).self) { try await runner.run() }
        #expect(runner.failures.first?.phase == .task)
        #expect(runner.failures.first?.service == service.serviceID)
        #expect(runner.failures.first?.description.contains("(task)") == true)
    }

    @Test func aCleanRunHasNoFailures() async throws {
        let runner = ServiceRunner(ProbeService("root", log: CallLog()), signals: [])
        try await runner.start()
        try await runner.stop()
        #expect(runner.failures.isEmpty)
    }
}
