import Testing

@testable import Lifecycle

/// An observer that takes its time over every event, to prove `run()` waits for it.
final class SlowObserver: LifecycleObserver {
    let seen = Locked<[LifecycleEvent]>([])
    func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events {
            try? await Task.sleep(for: .milliseconds(2))
            seen.withLock { $0.append(event) }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct RunnerTests {
    let log = CallLog()

    @Test func requestStopEndsRunAndStopsEverything() async throws {
        let dependency = ProbeService("dependency", log: log)
        let root = ProbeService("root", log: log, dependencies: [dependency])
        let runner = ServiceRunner(root, signals: [])
        let events = collect(runner.events())
        let run = Task { try await runner.run() }
        while !root.isRunning { try await Task.sleep(for: .milliseconds(1)) }
        runner.requestStop()
        runner.requestStop()  // a second request changes nothing
        try await run.value
        #expect(log.stops == ["root", "dependency"])
        let causes = await events.value.compactMap(\.stopCause)
        #expect(causes == [.requested])
    }

    @Test func requestStopDuringStartCancelsTheStartAndRunReturnsNormally() async throws {
        let first = ProbeService("first", log: log)
        let slow = ProbeService("slow", log: log, start: .untilCancelled)
        let never = ProbeService("never", log: log)
        let root = ProbeService("root", log: log, dependencies: [first, slow, never])
        let runner = ServiceRunner(root, signals: [])
        let run = Task { try await runner.run() }
        while slow.startCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
        runner.requestStop()
        try await run.value
        #expect(log.starts == ["first", "slow"])
        #expect(log.stops == ["first"])
        #expect(never.state == .idle)
    }

    @Test func aStoppedInstanceCanBeStartedAgainByANewRunner() async throws {
        let service = ProbeService("service", log: log)
        try await withRunning(service) { _ in }
        let runner = ServiceRunner(service, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        #expect(service.startCount == 2)
        #expect(lines(await events.value).first == "service: stopped → starting")
    }

    @Test func aRunnerStartsItsTreeOnce() async throws {
        let service = ProbeService("service", log: log)
        let runner = ServiceRunner(service, signals: [])
        try await runner.start()
        await #expect(throws: LifecycleError.alreadyStarted(service.serviceID)) { try await runner.start() }
        try await runner.stop()
        await #expect(throws: LifecycleError.alreadyStarted(service.serviceID)) { try await runner.start() }
        #expect(service.startCount == 1)
    }

    @Test func stopBeforeStartIsRefused() async throws {
        let service = ProbeService("service", log: log)
        let runner = ServiceRunner(service, signals: [])
        await #expect(throws: LifecycleError.notStarted(service.serviceID)) { try await runner.stop() }
        #expect(LifecycleError.notStarted(service.serviceID).description.contains("call start() or run() first"))
    }

    @Test func stoppingTwiceStopsOnce() async throws {
        let service = ProbeService("service", log: log)
        let runner = ServiceRunner(service, signals: [])
        try await runner.start()
        async let first: Void = runner.stop()
        async let second: Void = runner.stop()
        _ = try await (first, second)
        try await runner.stop()
        #expect(service.stopCount == 1)
    }

    @Test func addTaskOutsideARunningServiceIsRefused() {
        let service = ProbeService("idle", log: log)
        #expect(throws: LifecycleError.taskAddedWhileNotRunning(service.serviceID, .idle)) {
            try service.addTask {}
        }
    }

    @Test func twoSubscribersSeeTheSameEventsAndBothStreamsFinish() async throws {
        let root = ProbeService("root", log: log, dependencies: [ProbeService("dependency", log: log)])
        // No stall reports: a stop slowed past 5 s by a loaded machine would add one to the count.
        let runner = ServiceRunner(root, signals: [], stallReportInterval: nil)
        let one = collect(runner.events())
        let two = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        let first = await one.value
        let second = await two.value
        #expect(first.filter(\.isTransition).count == 8)
        #expect(first.count == 9)  // and the cause of the stop
        #expect(lines(first) == lines(second))
        // A stream asked for after the tree stopped is already finished.
        let late = await collect(runner.events()).value
        #expect(late.isEmpty)
    }

    @Test func runReturnsOnlyAfterEveryObserverConsumedTheLastEvent() async throws {
        let observer = SlowObserver()
        let root = ProbeService("root", log: log, dependencies: [ProbeService("dependency", log: log)])
        let runner = ServiceRunner(root, observers: [observer, observer], signals: [], stallReportInterval: nil)
        try await runner.start()
        try await runner.stop()
        // Two subscriptions of the same observer: each saw all 8 transitions plus the stop's cause.
        #expect(observer.seen.withLock { $0.count } == 18)
        #expect(observer.seen.withLock { $0.last?.to } == .stopped)
    }

    @Test func observersSeeEverythingWhenTheStartFails() async throws {
        let observer = SlowObserver()
        let root = ProbeService("root", log: log, dependencies: [ProbeService("broken", log: log, start: .fail)])
        await #expect(throws: ProbeError.self) { try await root.run(observers: [observer], signals: []) }
        #expect(observer.seen.withLock { $0.map(\.to) } == [.starting, .failed])
    }

    @Test func everyEmittedTransitionIsInTheTable() async throws {
        // A tree that touches every transition: a failed start, a failed stop, clean ones, a restart.
        let broken = ProbeService("broken", log: log, start: .fail)
        await #expect(throws: ProbeError.self) { try await broken.run(signals: []) }
        let runner = ServiceRunner(
            ProbeService("root", log: log, dependencies: [ProbeService("badStop", log: log, stop: .fail)]), signals: [])
        let events = collect(runner.events())
        try await runner.start()
        await #expect(throws: ProbeError.self) { try await runner.stop() }
        let all = await events.value
        #expect(all.filter(\.isTransition).allSatisfy { $0.from.canMove(to: $0.to) })
        #expect(Set(all.filter(\.isTransition).map { Transition(from: $0.from, to: $0.to) }).count == 5)
        expectLegal(all)
    }

    @Test func eventTimesAreMonotonic() async throws {
        let runner = ServiceRunner(
            ProbeService("root", log: log, dependencies: [ProbeService("d", log: log)]), signals: [])
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        let times = await events.value.map(\.time)
        #expect(times == times.sorted())
    }

    @Test func boundedSubscribersCountWhatTheyDrop() async throws {
        let members = (0..<20).map { ProbeService("m\($0)", log: log) }
        let runner = ServiceRunner(ProbeService("root", log: log, dependencies: Dependencies(members)), signals: [])
        let bounded = runner.events(bufferingNewest: 1)
        try await runner.start()
        try await runner.stop()
        var received = 0
        for await _ in bounded { received += 1 }
        #expect(received == 1)
        #expect(runner.droppedEventCount == 21 * 4 + 1 - 1)  // 84 transitions and the stop's cause, one kept
    }

    @Test func waitReturnsOnceAStopIsRequested() async throws {
        let runner = ServiceRunner(ProbeService("root", log: log), signals: [])
        try await runner.start()
        let waiting = Task { try await runner.wait() }
        runner.requestStop()
        try await waiting.value
        try await runner.stop()
    }

    @Test func cancellingRunStopsTheTreeGracefully() async throws {
        let root = ProbeService("root", log: log)
        let runner = ServiceRunner(root, signals: [])
        let run = Task { try await runner.run() }
        while !root.isRunning { try await Task.sleep(for: .milliseconds(1)) }
        run.cancel()
        _ = await run.result
        #expect(root.stopCount == 1)
        #expect(root.state == .stopped)
    }

    @Test func serviceStateIsReadableSynchronously() async throws {
        let service = ProbeService("service", log: log)
        #expect(service.state == .idle)
        try await withRunning(service) { service in #expect(service.state == .running) }
        #expect(service.state == .stopped)
    }
}

/// An actor as a service (DESIGN §1): its requirements that are not async are `nonisolated`.
actor CounterService: Service {
    nonisolated let name = "counter"
    nonisolated var dependencies: Dependencies { [] }
    private(set) var starts = 0
    private(set) var stops = 0
    func start() async throws { starts += 1 }
    func stop() async throws { stops += 1 }
}

@Suite struct ActorServiceTests {
    @Test func anActorCanBeAService() async throws {
        let counter = CounterService()
        try await withRunning(counter) { counter in
            #expect(counter.isRunning)
            #expect(await counter.starts == 1)
        }
        #expect(await counter.stops == 1)
        #expect(counter.state == .stopped)
    }
}
