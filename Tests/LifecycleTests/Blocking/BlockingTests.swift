import Foundation
import Testing

@testable import Lifecycle

/// Blocking services beyond facet's suite: events, threads, failures of stop, cycles, depth.
@Suite(.timeLimit(.minutes(1)))
struct BlockingTests {
    // MARK: The two withRunning overloads

    @Test func theAsyncWithRunningWithATrailingClosureIsNotAmbiguous() async throws {
        let service = ClosureService(name: "async")
        let wasRunning = try await withRunning(service) { service in service.isRunning }
        #expect(wasRunning)
        #expect(service.state == .stopped)
    }

    @Test func theBlockingWithRunningReturnsTheBodysValueAndRethrowsItsError() throws {
        let service = BlockingProbe("blocking")
        #expect(try withRunning(service) { $0.name } == "blocking")
        #expect(throws: Boom(name: "body")) { try withRunning(service) { _ in throw Boom(name: "body") } }
        #expect(service.startCount == 2)
        #expect(service.stopCount == 2)
        #expect(service.state == .stopped)
    }

    // MARK: Events

    @Test func eventsOfABlockingTreeHaveTheShapeOfAnAsyncTreesEvents() async throws {
        let c = ClosureService(name: "c")
        let b1 = ClosureService(name: "b1", dependencies: [c])
        let b2 = ClosureService(name: "b2", dependencies: [c])
        let runner = ServiceRunner(ClosureService(name: "a", dependencies: [b1, b2]), signals: [])
        let events = runner.events()
        try await runner.start()
        try await runner.stop()
        var asyncShape: [String] = []
        for await event in events { asyncShape.append(shape(event)) }

        let blockingEvents = try await onThread {
            let c = BlockingProbe("c")
            let tree = BlockingProbe(
                "a", children: [BlockingProbe("b1", children: [c]), BlockingProbe("b2", children: [c])])
            let observer = RecordingObserver()
            try withRunning(tree, observers: [observer]) { _ in }
            return observer.recorded  // complete: withRunning returned after the observer saw the last event
        }
        expectLegal(blockingEvents)
        #expect(blockingEvents.map(shape) == asyncShape)
        #expect(asyncShape.count == 17)  // 4 services × 4 transitions, and the stop's cause
    }

    @Test func eventsReachAConsumerInAnotherTaskWhileTheBlockingCodeRuns() async throws {
        let sawRunning = ConditionLock(false)
        let (streams, continuation) = AsyncStream.makeStream(of: AsyncStream<LifecycleEvent>.self)
        let consumer = Task {
            var seen: [String] = []
            for await events in streams {
                for await event in events {
                    seen.append(shape(event))
                    if event.to == .running {
                        sawRunning.withLock { $0 = true }
                        sawRunning.wakeAll()
                    }
                }
            }
            return seen
        }
        try await onThread {
            let runner = BlockingRunner(BlockingProbe("worker"))
            continuation.yield(runner.events())
            continuation.finish()
            try runner.start()
            // Still inside the running tree, on this thread: go on only once the other task saw it run.
            sawRunning.wait(until: { $0 })
            try runner.stop()
        }
        #expect(
            await consumer.value == [
                "worker: idle → starting", "worker: starting → running", "worker: stop requested (requested)",
                "worker: running → stopping", "worker: stopping → stopped",
            ])
    }

    @Test func aFailedStartIsAnEventWithItsError() async throws {
        let events = try await onThread {
            let observer = RecordingObserver()
            let tree = BlockingProbe(
                "root", children: [BlockingProbe("valid"), BlockingProbe("broken", failingStart: true)])
            #expect(throws: Boom(name: "broken")) { try withRunning(tree, observers: [observer]) { _ in } }
            return observer.recorded
        }
        expectLegal(events)
        #expect(
            events.map(shape) == [
                "valid: idle → starting", "valid: starting → running", "broken: idle → starting",
                "broken: starting → failed: Boom(name: \"broken\")", "valid: running → stopping",
                "valid: stopping → stopped",
            ])
        #expect(events[3].error as? Boom == Boom(name: "broken"))
    }

    // MARK: Threads

    @Test(arguments: 0..<10)
    func twoThreadsStartingTreesThatShareADependencyStartItOnceAndStopItOnce(round: Int) async throws {
        let shared = BlockingProbe("shared", startDelay: .milliseconds(20))
        let arrived = ConditionLock(0)
        let running = ConditionLock(0)
        @Sendable func meet(_ lock: ConditionLock<Int>) {
            lock.withLock { $0 += 1 }
            lock.wakeAll()
            lock.wait(until: { $0 == 2 })
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in ["left", "right"] {
                group.addTask {
                    try await onThread {
                        let root = BlockingProbe(name, children: [shared])
                        meet(arrived)  // both threads start at once
                        try withRunning(root) { root in
                            #expect(shared.isRunning)
                            meet(running)  // and both trees run before either stops
                        }
                        #expect(root.stopCount == 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(shared.startCount == 1)
        #expect(shared.stopCount == 1)
        #expect(shared.state == .stopped)
        #expect(shared.stateSeenInStart == .starting)
    }

    @Test func theStartOfOneTreeDoesNotWaitForTheStartOfAnUnrelatedOne() async throws {
        // `slow` starts only once `fast` has started on another thread: a lock held across start()
        // would make one wait for the other forever.
        let fastStarted = ConditionLock(false)
        let slowStarted = ConditionLock(false)
        final class Gate: BlockingService, Sendable {
            let onStart: @Sendable () -> Void
            init(_ onStart: @escaping @Sendable () -> Void) { self.onStart = onStart }
            func start() throws { onStart() }
        }
        async let slow: Void = onThread {
            try withRunning(Gate { fastStarted.wait(until: { $0 }) }) { _ in
                slowStarted.withLock { $0 = true }
                slowStarted.wakeAll()
            }
        }
        async let fast: Void = onThread {
            let gate = Gate {
                fastStarted.withLock { $0 = true }
                fastStarted.wakeAll()
            }
            try withRunning(gate) { _ in
                slowStarted.wait(until: { $0 })
            }
        }
        _ = try await (slow, fast)
    }

    @Test func aTreeThatMeetsItsDependencyStoppingOnAnotherThreadWaitsAndStartsItAfresh() async throws {
        let log = LineLog()
        let gate = StopGate()
        let shared = BlockingProbe("shared", log: log, stopGate: gate)
        let second = BlockingProbe("second", children: [shared], log: log)
        async let first: Void = onThread {
            try withRunning(BlockingProbe("first", children: [shared], log: log)) { _ in }
        }
        try await onThread { gate.waitUntilHolding() }
        async let secondRun: Void = onThread { try withRunning(second) { _ in #expect(shared.isRunning) } }
        try await Task.sleep(for: .milliseconds(50))  // the second tree is waiting for the stop by now
        #expect(shared.state == .stopping)
        #expect(second.startCount == 0)
        gate.open()
        _ = try await (first, secondRun)
        #expect(
            log.lines == [
                "start shared", "start first", "stop first", "stop shared",
                "start shared", "start second", "stop second", "stop shared",
            ])
        #expect(shared.state == .stopped)
    }

    @Test func aSharedDependencyStopsWithTheLastOfTwoRunners() throws {
        let log = LineLog()
        let shared = BlockingProbe("shared", log: log)
        let first = BlockingRunner(BlockingProbe("first", children: [shared], log: log))
        let second = BlockingRunner(BlockingProbe("second", children: [shared], log: log))
        try first.start()
        try second.start()
        try first.stop()
        #expect(shared.isRunning)
        try second.stop()
        #expect(!shared.isRunning)
        #expect(
            log.lines == ["start shared", "start first", "start second", "stop first", "stop second", "stop shared"])
    }

    // MARK: Failures

    @Test func aThrowingStopDoesNotSkipTheOthersAndTheFirstErrorIsRethrown() throws {
        let log = LineLog()
        let b = BlockingProbe("b", log: log)
        let c = BlockingProbe("c", log: log, failingStop: true)
        let d = BlockingProbe("d", log: log)
        let a = BlockingProbe("a", children: [b, c, d], log: log, failingStop: true)
        #expect(throws: Boom(name: "a")) { try withRunning(a) { _ in } }
        #expect(log.lines.filter { $0.hasPrefix("stop") } == ["stop a", "stop d", "stop c", "stop b"])
        #expect([a.state, b.state, c.state, d.state] == [.failed, .stopped, .failed, .stopped])
    }

    @Test func aFailingStartDeepInTheTreeStopsEverythingStartedInReverse() throws {
        let log = LineLog()
        let x = BlockingProbe("x", log: log)
        let y = BlockingProbe("y", log: log)
        let broken = BlockingProbe("broken", log: log, failingStart: true)
        let middle = BlockingProbe("middle", children: [y, broken], log: log)
        let root = BlockingProbe("root", children: [x, middle], log: log)
        #expect(throws: Boom(name: "broken")) { try withRunning(root) { _ in } }
        #expect(log.lines == ["start x", "start y", "start broken", "stop y", "stop x"])
        #expect(
            [root.state, middle.state, x.state, y.state, broken.state] == [.idle, .idle, .stopped, .stopped, .failed])
        // And the tree can be started again afterwards.
        let retry = BlockingProbe("retry", children: [x, y])
        try withRunning(retry) { _ in #expect(x.isRunning && y.isRunning) }
    }

    @Test func aDependencyCycleIsAnErrorBeforeAnythingStarts() {
        final class Node: BlockingService {
            let name: String
            var next: Node?
            var starts = 0
            init(_ name: String) { self.name = name }
            var dependencies: [any BlockingService] { next.map { [$0] } ?? [] }
            func start() throws { starts += 1 }
        }
        let a = Node("a")
        let b = Node("b")
        let c = Node("c")
        a.next = b
        b.next = c
        c.next = b
        defer { c.next = nil }
        #expect(throws: LifecycleError.dependencyCycle([b.serviceID, c.serviceID, b.serviceID])) {
            try withRunning(a) { _ in }
        }
        #expect([a.starts, b.starts, c.starts] == [0, 0, 0] as [Int])
        #expect([a.state, b.state, c.state] == [.idle, .idle, .idle])
    }

    @Test func aRunnerStartsOnceAndCannotStopBeforeStarting() throws {
        let service = BlockingProbe("once")
        let runner = BlockingRunner(service)
        #expect(throws: LifecycleError.notStarted(service.serviceID)) { try runner.stop() }
        try runner.start()
        #expect(throws: LifecycleError.alreadyStarted(service.serviceID)) { try runner.start() }
        #expect(runner.state(of: service) == .running)
        try runner.stop()
        try runner.stop()  // a second stop does nothing
        #expect(service.stopCount == 1)
    }

    // MARK: Depth

    @Test func aChainTenThousandDeepStartsAndStopsWithoutADeepStack() throws {
        var links: [ChainLink] = []
        for _ in 0..<10_000 { links.append(ChainLink(next: links.last)) }
        try withRunning(links[links.count - 1]) { _ in
            #expect(links.allSatisfy { $0.isRunning })
        }
        #expect(links.allSatisfy { $0.state == .stopped })
    }
}
