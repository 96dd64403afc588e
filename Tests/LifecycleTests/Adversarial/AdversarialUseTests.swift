import LifecycleTesting
import Testing

@testable import Lifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The public API used the way a careful user uses it: calls in an unexpected order, from inside
/// callbacks, with huge values, with work that ignores cancellation (issue 10's ten scenarios).
@Suite(.timeLimit(.minutes(1))) struct AdversarialUseTests {
    // MARK: 1. A failed start ends the tasks it added

    @Test func aStartThatThrowsAfterAddingATaskEndsThatTaskBeforeRunThrows() async throws {
        let service = ScriptedService("adds-then-throws", starts: [.fail], addsTask: true)
        await #expect(throws: ProbeError(name: "adds-then-throws")) {
            try await ServiceRunner(service, signals: []).run()
        }
        #expect(service.ledger.began <= 1)
        #expect(service.ledger.ended == service.ledger.began, "the task must have ended before run() threw")
        #expect(service.state == .failed)
    }

    @Test func aStartThatPassesItsTimeoutEndsTheTaskItAdded() async throws {
        let clock = ManualClock()
        let service = ScriptedService(
            "adds-then-hangs", starts: [.untilCancelled], addsTask: true, startTimeout: .seconds(1))
        let run = Task { try await ServiceRunner(service, signals: [], clock: clock).run() }
        #expect(await eventually { service.ledger.began == 1 })
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        await #expect(throws: LifecycleError.startTimedOut(service.serviceID, after: .seconds(1))) {
            try await run.value
        }
        #expect(service.ledger.cancelled == 1)
        #expect(service.ledger.ended == 1)
    }

    @Test func aStartCancelledByAStopRequestEndsTheTaskItAdded() async throws {
        let service = ScriptedService("adds-then-waits", starts: [.untilCancelled], addsTask: true)
        let runner = ServiceRunner(service, signals: [])
        let run = Task { try await runner.run() }
        #expect(await eventually { service.ledger.began == 1 })
        runner.requestStop()
        try await run.value  // a stop requested during startup is a clean stop
        #expect(service.ledger.cancelled == 1)
        #expect(service.ledger.ended == 1)
    }

    @Test func aTaskOfAnEarlierLifeNeverFailsALaterTree() async throws {
        let release = Gate()
        // Life 1: the start adds a task that outlives it, then throws.
        let adder = TaskAddingService(release: release)
        await #expect(throws: ProbeError(name: "task-adder")) {
            try await ServiceRunner(adder, signals: []).run()
        }
        // Life 2: the same instance starts again and runs.
        adder.failsStart = false
        let runner = ServiceRunner(adder, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        release.open()
        #expect(await eventually { adder.leftoverTaskThrew })
        try await Task.sleep(for: .milliseconds(50))  // time for a wrongful report to arrive
        #expect(adder.state == .running, "the later life must not be failed by an earlier life's task")
        try await runner.stop()
        try await runner.wait()
        #expect(await events.value.filter { $0.kind == .taskFailed }.isEmpty)
    }

    @Test func aNewLifeBeginsOnlyOnceTheTasksOfAFailedStartHaveEnded() async throws {
        // Life 1's start adds a task that takes its time to end after cancellation, then throws;
        // another tree asks for the service meanwhile: its start must wait for that task to end.
        let release = Gate()
        let service = SlowToEndTaskService(release: release)
        let first = Task { try await ServiceRunner(service, signals: []).run() }
        #expect(await eventually { service.journal.contains("start 1 threw") && service.state == .failed })
        let second = Task {
            try await ServiceRunner(ClosureService(name: "b", dependencies: [service]), signals: []).start()
        }
        try await Task.sleep(for: .milliseconds(30))
        #expect(!service.journal.contains("start 2"), "a new life began while life 1's task still ran")
        release.open()
        await #expect(throws: ProbeError(name: "slow-to-end")) { try await first.value }
        try await second.value
        let journal = service.journal
        let ended = journal.firstIndex(of: "task 1 ended")
        let began = journal.firstIndex(of: "start 2")
        #expect(ended != nil && began != nil && ended! < began!, "\(journal)")
    }

    // MARK: 2. A late, abandoned stop does not touch the next life

    @Test func aStopThatReturnsAfterItWasAbandonedLeavesTheNextLifesTasksAlone() async throws {
        let clock = ManualClock()
        let stopGate = Gate()
        let service = ScriptedService(
            "slow-stop", addsTask: true, stopGate: stopGate, gracefulShutdownTimeout: .seconds(1))
        let first = ServiceRunner(service, signals: [], clock: clock)
        try await first.start()
        let stop = Task { try await first.stop() }
        await clock.waitForSleepers(2)  // the graceful-shutdown timeout and the stall report
        clock.advance(by: .seconds(1))
        await #expect(throws: LifecycleError.stopTimedOut(service.serviceID, after: .seconds(1))) {
            try await stop.value
        }
        #expect(service.ledger.cancelled == 1)  // the abandoned life's task was cancelled
        let second = ServiceRunner(service, signals: [], clock: clock)
        try await second.start()
        #expect(await eventually { service.ledger.began == 2 })
        stopGate.open()  // the first life's stop() returns, long after it was abandoned
        #expect(await eventually { service.stopsReturned == 1 })
        try await Task.sleep(for: .milliseconds(50))  // time for a wrongful cancellation to land
        #expect(service.ledger.cancelled == 1, "the second life's task must still run")
        #expect(service.state == .running)
        try await second.stop()
        #expect(service.ledger.cancelled == 2)
    }

    // MARK: 3. wait() learns a failed start

    @Test func runnerWaitCalledWhileStartingThrowsTheStartsError() async throws {
        let gate = Gate()
        let service = ScriptedService("fails-later", starts: [.failAfter(gate)])
        let runner = ServiceRunner(service, signals: [])
        let start = Task { try await runner.start() }
        #expect(await eventually { service.startCount == 1 })
        let wait = Task { try await runner.wait() }
        try await Task.sleep(for: .milliseconds(10))  // the waiter is parked
        gate.open()
        await #expect(throws: ProbeError(name: "fails-later")) { try await start.value }
        await #expect(throws: ProbeError(name: "fails-later")) { try await wait.value }
    }

    @Test func serviceWaitCalledWhileStartingThrowsTheStartsError() async throws {
        let gate = Gate()
        let dependency = ScriptedService("dependency")
        let service = ScriptedService("fails-later", dependencies: [dependency], starts: [.failAfter(gate)])
        let runner = ServiceRunner(service, signals: [])
        let start = Task { try await runner.start() }
        #expect(await eventually { service.startCount == 1 })
        let wait = Task { try await dependency.wait() }
        try await Task.sleep(for: .milliseconds(10))
        gate.open()
        await #expect(throws: ProbeError(name: "fails-later")) { try await start.value }
        await #expect(throws: ProbeError(name: "fails-later")) { try await wait.value }
    }

    @Test func runnerWaitAfterAFailedStartThrowsTheStartsError() async throws {
        let service = ScriptedService("fails", starts: [.fail])
        let runner = ServiceRunner(service, signals: [])
        await #expect(throws: ProbeError(name: "fails")) { try await runner.start() }
        await #expect(throws: ProbeError(name: "fails")) { try await runner.wait() }
    }

    // MARK: 4. withRunning throws what run() throws

    @Test func withRunningThrowsAFailureThatHappensWhileTheTreeStops() async throws {
        let seen = TaskFailureFlag()
        let dependency = FailsWhenToldService()
        let root = ClosureService(name: "root", dependencies: [dependency]) {
        } stop: {
            dependency.fail.open()
            // The dependency still runs: its task's failure is the tree's failure.
            _ = await eventually { seen.isSet }
        }
        await #expect(throws: ProbeError(name: "told-to-fail")) {
            try await withRunning(root, observers: [seen]) { _ in }
        }
    }

    // MARK: 5. Huge timeouts

    @Test func aTimeoutOfInt64MaxSecondsMeansPracticallyNever() async throws {
        let log = CallLog()
        let service = ProbeService(
            "patient", log: log, start: .delay(.milliseconds(5)), stop: .delay(.milliseconds(5)),
            gracefulShutdownTimeout: .seconds(Int64.max), startTimeout: .seconds(Int64.max))
        let root = ProbeService("root", log: log, dependencies: [service], gracefulShutdownTimeout: .seconds(Int64.max))
        try await withRunning(root) { _ in try await Task.sleep(for: .milliseconds(5)) }
        #expect(log.stops == ["root", "patient"])
        #expect(service.state == .stopped)
    }

    // MARK: 6. A refused call has no effect

    @Test func aStopRefusedBeforeStartLeavesTheRunnerUsable() async throws {
        let log = CallLog()
        let service = ProbeService("service", log: log)
        let runner = ServiceRunner(service, signals: [])
        let events = collect(runner.events())
        await #expect(throws: LifecycleError.notStarted(service.serviceID)) { try await runner.stop() }
        try await runner.start()
        #expect(service.isRunning)
        try await runner.stop()
        #expect(log.all == [.start("service"), .stop("service")])
        #expect(await events.value.compactMap(\.stopCause) == [.requested])
    }

    // MARK: 7. A start that ignores cancellation is abandoned

    @Test func aParallelSiblingThatIgnoresCancellationIsAbandonedAfterItsGraceTime() async throws {
        let clock = ManualClock()
        let gate = Gate()
        let failing = ScriptedService("failing", starts: [.fail])
        let stubborn = ScriptedService(
            "stubborn", starts: [.ignoreCancellationUntil(gate)], gracefulShutdownTimeout: .seconds(2))
        let root = ScriptedService("root", dependencies: [Parallel(failing, stubborn)])
        let run = Task { try await ServiceRunner(root, signals: [], clock: clock).run() }
        #expect(await eventually { stubborn.startCount == 1 && failing.state == .failed })
        await clock.waitForSleepers(1)  // stubborn's grace time is armed
        clock.advance(by: .seconds(2))
        await #expect(throws: ProbeError(name: "failing")) { try await run.value }
        #expect(stubborn.state == .failed)
        #expect(root.startCount == 0)
        gate.open()  // stubborn's start() finally returns: it is stopped at once
        #expect(await eventually { stubborn.stopCount == 1 })
    }

    @Test func anEscalationAbandonsAStartThatIgnoresCancellationAtOnce() async throws {
        let gate = Gate()
        let stubborn = ScriptedService("stubborn", starts: [.ignoreCancellationUntil(gate)])
        let runner = ServiceRunner(stubborn, signals: [])
        let run = Task { try await runner.run() }
        #expect(await eventually { stubborn.startCount == 1 })
        runner.requestStop()
        runner.escalate(signal: 2)
        await #expect(throws: LifecycleError.startAbandoned(stubborn.serviceID)) { try await run.value }
        #expect(stubborn.state == .failed)
        gate.open()
        #expect(await eventually { stubborn.stopCount == 1 })
    }

    // MARK: 8. stop() from the runner's own work

    @Test func stopCalledFromInsideAStartRequestsTheStopAndRollsBack() async throws {
        let holder = RunnerBox()
        let log = CallLog()
        let decider = ClosureService(name: "decider") {
            log.append(.start("decider"))
            try await holder.runner?.stop()
        } stop: {
            log.append(.stop("decider"))
        }
        let root = ProbeService("root", log: log, dependencies: [decider, ProbeService("after", log: log)])
        let runner = ServiceRunner(root, signals: [])
        holder.runner = runner
        try await runner.run()  // a clean, requested stop: no hang, no error
        #expect(log.all == [.start("decider"), .stop("decider")])
    }

    @Test func stopCalledFromABackgroundTaskDoesNotWaitForItself() async throws {
        let holder = RunnerBox()
        let service = ClosureService(name: "finishes-its-job") {
            try holder.service?.addTask {
                try await holder.runner?.stop()
            }
        }
        holder.service = service
        let runner = ServiceRunner(service, signals: [])
        holder.runner = runner
        try await runner.run()
        #expect(service.state == .stopped)
    }

    // MARK: 9. The cause comes first

    @Test func theCauseOfAStopPrecedesItsFirstTransitionWhenRequestsRace() async throws {
        // 500 races, or as many as fit in 20 s (a sanitizer makes each one ten times slower).
        let deadline = ContinuousClock.now + .seconds(20)
        for _ in 0..<500 where ContinuousClock.now < deadline {
            let service = ClosureService(name: "raced") {}
            let runner = ServiceRunner(service, signals: [])
            let events = collect(runner.events())
            try await runner.start()
            async let request: Void = Task.detached { runner.requestStop() }.value
            async let stop: Void = Task.detached { try await runner.stop() }.value
            _ = try await (request, stop)
            let received = await events.value
            let cause = received.firstIndex { $0.stopCause != nil }
            let stopping = received.firstIndex { $0.from == .running && $0.to == .stopping }
            #expect(cause != nil && stopping != nil && cause! < stopping!)
        }
    }

    @Test func theCauseOfAStopPrecedesItsFirstTransitionEvenWhenTheRequestingThreadIsSlow() async throws {
        // The requesting thread is held up while it builds the cause's event (its clock read is
        // slow); a stop() on another thread meanwhile must not emit `running → stopping` first.
        let clock = SlowOnOneThreadClock()
        let service = ClosureService(name: "raced") {}
        let runner = ServiceRunner(service, signals: [], clock: clock)
        let events = collect(runner.events())
        try await runner.start()
        let request = Task.detached {
            clock.slowThread = pthread_self()
            runner.requestStop()
        }
        let stop = Task.detached {
            try await Task.sleep(for: .milliseconds(5))
            try await runner.stop()
        }
        await request.value
        try await stop.value
        let received = await events.value
        let cause = received.firstIndex { $0.stopCause != nil }
        let stopping = received.firstIndex { $0.from == .running && $0.to == .stopping }
        #expect(cause != nil && stopping != nil && cause! < stopping!, "\(received)")
    }

    // MARK: 10. A task failure stops a tree nobody runs

    @Test func aTaskFailureStopsATreeStartedWithStartByItself() async throws {
        let log = CallLog()
        let failing = FailsWhenToldService()
        let root = ProbeService("root", log: log, dependencies: [failing])
        let runner = ServiceRunner(root, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        failing.fail.open()
        #expect(await eventually { root.state == .stopped && failing.state == .stopped })
        #expect(log.stops == ["root"])
        await #expect(throws: ProbeError(name: "told-to-fail")) { try await runner.wait() }
        try await runner.stop()  // joins the stop that already happened
        #expect(await events.value.compactMap(\.stopCause) == [.failure])
    }

    // MARK: A dropped runner

    @Test func aDroppedRunnerKeepsItsTreeRunningUntilATaskFailureStopsIt() async throws {
        let failing = FailsWhenToldService()
        weak var dropped: ServiceRunner?
        var events: Task<[LifecycleEvent], Never>?
        do {
            let runner = ServiceRunner(failing, signals: [])
            dropped = runner
            events = collect(runner.events())
            try await runner.start()
        }
        #expect(dropped != nil, "a running tree keeps its runner")
        #expect(failing.isRunning)
        failing.fail.open()
        #expect(await eventually { failing.state == .stopped })
        let received = await events!.value  // the stream ends
        #expect(received.last?.to == .stopped)
        #expect(await eventually { dropped == nil }, "the stopped tree releases its runner")
    }

    // MARK: Observers that never return

    @Test func anObserverThatNeverReturnsHoldsRunOnlyUntilAnEscalation() async throws {
        let service = ClosureService(name: "quick") {}
        let runner = ServiceRunner(service, observers: [NeverReturningObserver()], signals: [])
        let run = Task { try await runner.run() }
        #expect(await eventually { service.isRunning })
        runner.requestStop()
        #expect(await eventually { service.state == .stopped })
        runner.escalate(signal: 2)
        try await run.value  // returns about `observerGrace` after the escalation
        #expect(runner.observersStillConsuming == ["NeverReturningObserver"])
    }
}

/// A reference to a runner made after the services that call it.
final class RunnerBox: Sendable {
    private let storage = Locked<(runner: ServiceRunner?, service: (any Service)?)>((nil, nil))
    var runner: ServiceRunner? {
        get { storage.withLock { $0.runner } }
        set { storage.withLock { $0.runner = newValue } }
    }
    var service: (any Service)? {
        get { storage.withLock { $0.service } }
        set { storage.withLock { $0.service = newValue } }
    }
}

/// A service whose background task throws `ProbeError("told-to-fail")` once `fail` opens.
final class FailsWhenToldService: Service {
    let fail = Gate()
    var name: String { "told-to-fail" }
    func start() async throws {
        try addTask { [fail] in
            await fail.wait()
            throw ProbeError(name: "told-to-fail")
        }
    }
}

/// A service whose first life's start adds a task that ignores cancellation and throws once
/// `release` opens, then fails; later lives start cleanly.
final class TaskAddingService: Service {
    let release: Gate
    private let flags = Locked((failsStart: true, threw: false))
    init(release: Gate) { self.release = release }
    var gracefulShutdownTimeout: Duration { .milliseconds(50) }
    var name: String { "task-adder" }
    var failsStart: Bool {
        get { flags.withLock { $0.failsStart } }
        set { flags.withLock { $0.failsStart = newValue } }
    }
    var leftoverTaskThrew: Bool { flags.withLock { $0.threw } }

    func start() async throws {
        guard failsStart else { return }
        try addTask { [release, flags] in
            await release.wait()
            flags.withLock { $0.threw = true }
            throw ProbeError(name: "leftover")
        }
        throw ProbeError(name: "task-adder")
    }
}

/// An observer that notes when it has seen a background-task failure.
final class TaskFailureFlag: LifecycleObserver {
    private let flag = Locked(false)
    var isSet: Bool { flag.withLock { $0 } }
    func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events where event.kind == .taskFailed { flag.withLock { $0 = true } }
    }
}

/// An observer that never returns, not even when its stream ends or its task is cancelled.
final class NeverReturningObserver: LifecycleObserver {
    func observe(_ events: AsyncStream<LifecycleEvent>) async {
        await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
    }
}

/// A continuous clock whose `now` takes 30 ms when read on one chosen thread.
final class SlowOnOneThreadClock: Clock, Sendable {
    private let base = ContinuousClock()
    private let slow = Locked<pthread_t?>(nil)
    var slowThread: pthread_t? {
        get { slow.withLock { $0 } }
        set { slow.withLock { $0 = newValue } }
    }
    var now: ContinuousClock.Instant {
        if let thread = slowThread, pthread_equal(thread, pthread_self()) != 0 { usleep(30_000) }
        return base.now
    }
    var minimumResolution: Duration { base.minimumResolution }
    func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        try await base.sleep(until: deadline, tolerance: tolerance)
    }
}

/// A service whose first start adds a task that, once cancelled, ends only when `release` opens,
/// then throws; later starts succeed. Its journal says in which order things happened.
final class SlowToEndTaskService: Service {
    let release: Gate
    private let entries = Locked<[String]>([])
    init(release: Gate) { self.release = release }
    var name: String { "slow-to-end" }
    var journal: [String] { entries.withLock { $0 } }

    func start() async throws {
        let start = entries.withLock { entries in
            entries.append("start \(entries.filter { $0.hasPrefix("start ") && !$0.hasSuffix("threw") }.count + 1)")
            return entries.filter { $0.hasPrefix("start ") && !$0.hasSuffix("threw") }.count
        }
        guard start == 1 else { return }
        try addTask { [release, entries] in
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            await release.wait()
            entries.withLock { $0.append("task 1 ended") }
        }
        entries.withLock { $0.append("start 1 threw") }
        throw ProbeError(name: "slow-to-end")
    }
}
