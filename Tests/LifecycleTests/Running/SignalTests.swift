import Synchronization
import Testing

@testable import Lifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every test that installs signal handling lives here, one at a time (STYLE §7).
///
/// Signals are sent with `kill(getpid(), …)`: a `raise()` from a task targets a thread of the
/// concurrency pool, which blocks signals, so it would never be delivered.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct SignalTests {
    @Test func withNoSignalsNothingIsInstalledAndASignalDoesNotStopTheTree() async throws {
        let previous = setDisposition(of: SIGUSR2, to: SIG_IGN)
        defer { restoreDisposition(of: SIGUSR2, to: previous) }
        let before = [SIGINT, SIGTERM, SIGUSR2].map(handlerAddress(of:))
        let tree = SignalTree()
        let runner = ServiceRunner(tree.root, signals: Signals.none)
        let events = runner.events()
        let run = Task { try await runner.run() }
        try await waitUntil { tree.root.isRunning }

        #expect([SIGINT, SIGTERM, SIGUSR2].map(handlerAddress(of:)) == before)
        kill(getpid(), SIGUSR2)
        try await Task.sleep(for: .milliseconds(200))
        #expect(tree.root.isRunning)

        runner.requestStop()
        try await run.value
        let causes = await collect(events).compactMap(\.stopCause)
        #expect(causes == [.requested])
        #expect([SIGINT, SIGTERM, SIGUSR2].map(handlerAddress(of:)) == before)
    }

    @Test func aSignalOfACustomSetStopsRunCleanlyWithTheSignalAsTheCause() async throws {
        let tree = SignalTree()
        let runner = ServiceRunner(tree.root, signals: [SIGUSR1])
        let events = runner.events()
        let run = Task { try await runner.run() }
        try await waitUntil { tree.root.isRunning }

        kill(getpid(), SIGUSR1)
        try await run.value  // returns normally: a signal-initiated stop is clean

        let received = await collect(events)
        #expect(received.compactMap(\.stopCause) == [.signal(SIGUSR1)])
        #expect(tree.all.allSatisfy { $0.state == .stopped })
        #expect(tree.all.map(\.stopCalls) == [1, 1, 1])
    }

    @Test func everyRunInTheProcessReceivesItsSignals() async throws {
        for _ in 1...3 {
            let tree = SignalTree()
            let runner = ServiceRunner(tree.root, signals: [SIGUSR1])
            let run = Task { try await runner.run() }
            try await waitUntil { tree.root.isRunning }
            kill(getpid(), SIGUSR1)
            try await run.value
            #expect(tree.root.state == .stopped)
        }
    }

    @Test func aSecondSignalEscalatesAndEveryStartedServiceStillGetsItsStop() async throws {
        let tree = SignalTree(hungStop: true)
        let runner = ServiceRunner(tree.root, signals: [SIGUSR1])
        let events = runner.events()
        let run = Task { try await runner.run() }
        try await waitUntil { tree.root.isRunning }

        kill(getpid(), SIGUSR1)
        try await waitUntil { tree.hung.stopCalls == 1 }  // the graceful stop now hangs (30 s timeout)
        let clock = ContinuousClock()
        let escalatedAt = clock.now
        kill(getpid(), SIGUSR1)
        try await run.value  // the hung stop's CancellationError is what escalation asked for
        #expect(escalatedAt.duration(to: clock.now) < .seconds(5))

        #expect(tree.all.map(\.stopCalls) == [1, 1, 1])
        #expect(tree.hung.sawCancellation)
        #expect(tree.first.sawCancellation)  // stopped after the escalation: already cancelled
        #expect(!tree.root.sawCancellation)  // stopped before it
        let causes = await collect(events).compactMap(\.stopCause)
        #expect(causes == [.signal(SIGUSR1), .escalation(SIGUSR1)])
        #expect(tree.hung.state == .failed)
        #expect(tree.first.state == .stopped)
    }

    @Test func aSignalWhileAlreadyStoppingForAnotherReasonEscalates() async throws {
        let tree = SignalTree(hungStop: true)
        let runner = ServiceRunner(tree.root, signals: [SIGUSR1])
        let events = runner.events()
        let run = Task { try await runner.run() }
        try await waitUntil { tree.root.isRunning }

        runner.requestStop()
        try await waitUntil { tree.hung.stopCalls == 1 }
        kill(getpid(), SIGUSR1)
        try await run.value

        #expect(tree.all.map(\.stopCalls) == [1, 1, 1])
        let causes = await collect(events).compactMap(\.stopCause)
        #expect(causes == [.requested, .escalation(SIGUSR1)])
    }

    @Test func anEscalationBeforeTheStopBeganStillCancelsTheStop() async throws {
        let tree = SignalTree(hungStop: true)
        let runner = ServiceRunner(tree.root, signals: Signals.none)
        try await runner.start()
        runner.requestStop(cause: .signal(SIGUSR1))
        runner.escalate(signal: SIGUSR1)  // no stop task exists yet

        let clock = ContinuousClock()
        let began = clock.now
        await #expect(throws: CancellationError.self) { try await runner.stop() }
        #expect(began.duration(to: clock.now) < .seconds(5))
        #expect(tree.all.map(\.stopCalls) == [1, 1, 1])
        #expect(tree.hung.sawCancellation)
    }

    @Test func aSignalDuringStartupRollsBackWithGracefulStops() async throws {
        let first = SignalProbe(name: "first")
        let slow = SignalProbe(name: "slow", hangsInStart: true)
        let root = SignalProbe(name: "root", dependencies: [first, slow])
        let runner = ServiceRunner(root, signals: [SIGUSR1])
        let run = Task { try await runner.run() }
        try await waitUntil { first.isRunning && slow.state == .starting }

        kill(getpid(), SIGUSR1)
        try await run.value  // a stop requested during the start is clean
        #expect(first.stopCalls == 1)
        #expect(slow.stopCalls == 0)
        // Only a second signal cancels stops (DESIGN §2): the rollback's stops stay graceful.
        #expect(!first.sawCancellation)
    }

    @Test func runPutsBackTheHandlerThatWasThereBefore() async throws {
        let previous = setDisposition(of: SIGUSR1, to: countSignal)
        defer { restoreDisposition(of: SIGUSR1, to: previous) }
        let custom = handlerAddress(of: SIGUSR1)
        let tree = SignalTree()
        let runner = ServiceRunner(tree.root, signals: [SIGUSR1])
        let run = Task { try await runner.run() }
        try await waitUntil { tree.root.isRunning }
        #expect(handlerAddress(of: SIGUSR1) != custom)

        kill(getpid(), SIGUSR1)
        try await run.value
        #expect(handlerAddress(of: SIGUSR1) == custom)

        // And it works again: the next SIGUSR1 reaches the custom handler.
        let counted = countedSignals.load(ordering: .relaxed)
        kill(getpid(), SIGUSR1)
        try await waitUntil { countedSignals.load(ordering: .relaxed) == counted + 1 }
    }

    @Test func runPutsBackAnIgnoredSignalAsIgnored() async throws {
        let previous = setDisposition(of: SIGUSR2, to: SIG_IGN)
        defer { restoreDisposition(of: SIGUSR2, to: previous) }
        let ignored = handlerAddress(of: SIGUSR2)
        let tree = SignalTree()
        let run = Task { try await tree.root.run(signals: [SIGUSR2]) }
        try await waitUntil { tree.root.isRunning }
        kill(getpid(), SIGUSR2)
        try await run.value
        #expect(handlerAddress(of: SIGUSR2) == ignored)
    }

    @Test func overlappingRunsRestoreWhenTheLastOneReturns() async throws {
        let previous = setDisposition(of: SIGUSR1, to: countSignal)
        defer { restoreDisposition(of: SIGUSR1, to: previous) }
        let custom = handlerAddress(of: SIGUSR1)
        let first = SignalTree()
        let second = SignalTree()
        let firstRunner = ServiceRunner(first.root, signals: [SIGUSR1])
        let secondRunner = ServiceRunner(second.root, signals: [SIGUSR1])
        let firstRun = Task { try await firstRunner.run() }
        let secondRun = Task { try await secondRunner.run() }
        try await waitUntil { first.root.isRunning && second.root.isRunning }

        firstRunner.requestStop()
        try await firstRun.value
        #expect(handlerAddress(of: SIGUSR1) != custom)  // the second run still holds it
        kill(getpid(), SIGUSR1)
        try await secondRun.value
        #expect(handlerAddress(of: SIGUSR1) == custom)
    }
}

// MARK: Support

/// root → [first, hung]: stops run root, then hung, then first.
private struct SignalTree {
    let first = SignalProbe(name: "first")
    let hung: SignalProbe
    let root: SignalProbe
    var all: [SignalProbe] { [root, hung, first] }

    init(hungStop: Bool = false) {
        hung = SignalProbe(name: "hung", hangsInStop: hungStop)
        root = SignalProbe(name: "root", dependencies: [first, hung])
    }
}

/// A service that counts its stops and records whether its stop ran cancelled.
private final class SignalProbe: Service {
    private struct Record {
        var stopCalls = 0
        var sawCancellation = false
    }

    let name: String
    let dependencies: Dependencies
    let hangsInStop: Bool
    let hangsInStart: Bool
    private let record = Locked(Record())

    init(name: String, dependencies: Dependencies = [], hangsInStop: Bool = false, hangsInStart: Bool = false) {
        self.name = name
        self.dependencies = dependencies
        self.hangsInStop = hangsInStop
        self.hangsInStart = hangsInStart
    }

    func start() async throws {
        if hangsInStart { try await Task.sleep(for: .seconds(3600)) }
    }

    var gracefulShutdownTimeout: Duration { .seconds(30) }
    var stopCalls: Int { record.withLock { $0.stopCalls } }
    var sawCancellation: Bool { record.withLock { $0.sawCancellation } }

    func stop() async throws {
        record.withLock { $0.stopCalls += 1 }
        defer { record.withLock { $0.sawCancellation = $0.sawCancellation || Task.isCancelled } }
        if hangsInStop { try await Task.sleep(for: .seconds(3600)) }
        // A short drain: a cancellation that lands in the first moments of the stop ends it, and is
        // seen (an instant stop could finish before the cancellation lands).
        try? await Task.sleep(for: .milliseconds(20))
    }
}

/// Polls until `condition` holds, failing after `timeout`.
private func waitUntil(
    timeout: Duration = .seconds(30), _ condition: @Sendable () -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("condition not met within \(timeout)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Every event of a finished (or finishing) stream.
private func collect(_ events: AsyncStream<LifecycleEvent>) async -> [LifecycleEvent] {
    var all: [LifecycleEvent] = []
    for await event in events { all.append(event) }
    return all
}

private let countedSignals = Atomic(0)

/// A custom C handler standing for "the program's own handling" of a signal.
private func countSignal(_: Int32) {
    countedSignals.add(1, ordering: .relaxed)
}

/// Sets a signal's handler, returning the old disposition.
private func setDisposition(of number: Int32, to handler: (@convention(c) (Int32) -> Void)?) -> sigaction {
    var action = sigaction()
    #if canImport(Darwin)
        action.__sigaction_u.__sa_handler = handler
    #else
        action.__sigaction_handler.sa_handler = handler
    #endif
    sigemptyset(&action.sa_mask)
    var previous = sigaction()
    sigaction(number, &action, &previous)
    return previous
}

private func restoreDisposition(of number: Int32, to previous: sigaction) {
    var previous = previous
    sigaction(number, &previous, nil)
}

/// The current handler of a signal as a number (SIG_DFL 0, SIG_IGN 1, or a function's address).
private func handlerAddress(of number: Int32) -> Int {
    var current = sigaction()
    sigaction(number, nil, &current)
    #if canImport(Darwin)
        return unsafeBitCast(current.__sigaction_u.__sa_handler, to: Int.self)
    #else
        return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
    #endif
}
