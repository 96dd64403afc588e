import Foundation
import Testing

@testable import Lifecycle

/// An error a test service throws, named after it.
struct Boom: Error, Equatable {
    let name: String
}

/// What happened, in order, across every thread: `start A`, `stop A`.
final class LineLog: Sendable {
    private let entries = ConditionLock<[String]>([])

    /// Appends one line.
    func record(_ line: String) {
        entries.withLock { $0.append(line) }
    }

    /// Every line so far.
    var lines: [String] { entries.withLock { $0 } }

    /// Where `line` is in the log; `nil` when it is not there.
    func position(of line: String) -> Int? { lines.firstIndex(of: line) }
}

/// A blocking service that logs and counts its calls, and throws or dawdles when told to.
///
/// `Sendable` (every stored property is immutable or behind a lock), so tests can hand it to threads.
final class BlockingProbe: BlockingService, Sendable {
    let name: String
    let children: [BlockingProbe]
    let log: LineLog
    private let startError: Boom?
    private let stopError: Boom?
    private let startDelay: Duration
    private let stopGate: StopGate?
    private let calls = ConditionLock<(starts: Int, stops: Int, stateInStart: ServiceState?)>((0, 0, nil))

    init(
        _ name: String, children: [BlockingProbe] = [], log: LineLog = LineLog(), failingStart: Bool = false,
        failingStop: Bool = false, startDelay: Duration = .zero, stopGate: StopGate? = nil
    ) {
        self.name = name
        self.children = children
        self.log = log
        self.startError = failingStart ? Boom(name: name) : nil
        self.stopError = failingStop ? Boom(name: name) : nil
        self.startDelay = startDelay
        self.stopGate = stopGate
    }

    var dependencies: [any BlockingService] { children }

    func start() throws {
        let state = self.state
        calls.withLock {
            $0.starts += 1
            $0.stateInStart = state
        }
        log.record("start \(name)")
        if startDelay > .zero {
            let (seconds, attoseconds) = startDelay.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
        }
        if let startError { throw startError }
    }

    func stop() throws {
        calls.withLock { $0.stops += 1 }
        log.record("stop \(name)")
        stopGate?.holdStop()
        if let stopError { throw stopError }
    }

    /// How many times `start()` was called (returned or threw).
    var startCount: Int { calls.withLock { $0.starts } }
    /// How many times `stop()` was called.
    var stopCount: Int { calls.withLock { $0.stops } }
    /// What `self.state` said from inside the last `start()`.
    var stateSeenInStart: ServiceState? { calls.withLock { $0.stateInStart } }
}

/// Holds a `stop()` until the test opens it, and tells the test when a stop is being held.
final class StopGate: Sendable {
    private let state = ConditionLock((isHolding: false, isOpen: false))

    /// Called from `stop()`: sleeps until ``open()``.
    func holdStop() {
        state.withLock { $0.isHolding = true }
        state.wakeAll()
        state.wait(until: { $0.isOpen })
    }

    /// Sleeps until a `stop()` is being held.
    func waitUntilHolding() {
        state.wait(until: { $0.isHolding })
    }

    /// Lets the held `stop()` return.
    func open() {
        state.withLock { $0.isOpen = true }
        state.wakeAll()
    }
}

/// One link of a long chain; it holds the next one unowned, so dropping the chain needs no deep stack.
final class ChainLink: BlockingService, Sendable {
    unowned let next: ChainLink?
    let name = "link"

    init(next: ChainLink?) {
        self.next = next
    }

    var dependencies: [any BlockingService] { next.map { [$0] } ?? [] }
}

/// An observer that keeps every event it sees.
final class RecordingObserver: LifecycleObserver {
    private let events = ConditionLock<[LifecycleEvent]>([])

    func observe(_ stream: AsyncStream<LifecycleEvent>) async {
        for await event in stream { events.withLock { $0.append(event) } }
    }

    /// Every event seen so far.
    var recorded: [LifecycleEvent] { events.withLock { $0 } }
}

/// An event as a line without its time and instance numbers: `A: idle → starting`.
func shape(_ event: LifecycleEvent) -> String {
    event.description
}

/// Runs `body` on a new thread of its own (never the cooperative pool) and returns what it returned.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
