import Lifecycle

/// A clock that moves only when a test calls ``advance(by:)``, so timeouts, backoffs and sleeps
/// happen exactly when the test says, without waiting.
///
/// ```swift
/// let clock = ManualClock()
/// let runner = ServiceRunner(tree, clock: clock, stallReportInterval: nil)  // no stall reports' sleeps
/// try await runner.start()
/// let stop = Task { try await runner.stop() }
/// await clock.waitForSleepers(1)          // the graceful-shutdown timeout is armed
/// clock.advance(by: .seconds(10))         // and now it has passed
/// ```
///
/// Time starts at zero. A sleep whose deadline has come returns at once; the others wait until
/// an ``advance(by:)`` reaches their deadline, or throw `CancellationError` when their task is
/// cancelled. Safe to use from any thread or task.
public final class ManualClock: Clock, Sendable {
    /// A point on a ``ManualClock``: the time since the clock was made.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// The time since the clock was made.
        public var offset: Duration

        /// The instant `offset` after the clock was made.
        public init(offset: Duration) { self.offset = offset }

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }

        /// The time from this instant to `other`.
        public func duration(to other: Instant) -> Duration { other.offset - offset }

        /// Whether `lhs` comes before `rhs`.
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }

        /// The offset, as `Duration` prints it.
        public var description: String { "\(offset)" }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Int: Sleeper] = [:]
        var cancelled: Set<Int> = []
        var lastToken = 0
    }

    private let state = Locked(State())

    /// A clock at time zero with nobody sleeping.
    public init() {}

    /// The current instant: zero plus every ``advance(by:)`` so far.
    public var now: Instant { state.withLock { $0.now } }

    /// Zero: the clock moves in whatever steps the test gives.
    public var minimumResolution: Duration { .zero }

    /// How many sleeps are waiting for their deadline now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline among the sleeps waiting now, or `nil` when nobody sleeps.
    public var nextDeadline: Instant? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// Whether a sleep waits to wake exactly `delay` from now: a restart's backoff, say, told apart
    /// from the timeout of a stop in flight by its length.
    public func hasSleeper(wakingIn delay: Duration) -> Bool {
        state.withLock { state in state.sleepers.values.contains { $0.deadline.offset == state.now.offset + delay } }
    }

    /// Waits until ``advance(by:)`` reaches `deadline`; returns at once when it already has.
    ///
    /// - Throws: `CancellationError` when the task is cancelled before the deadline.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let token = state.withLock { state in
            state.lastToken += 1
            return state.lastToken
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = state.withLock { state in
                    // Cancelled before the continuation existed: the handler left a mark.
                    if state.cancelled.remove(token) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[token] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                guard let sleeper = state.sleepers.removeValue(forKey: token) else {
                    state.cancelled.insert(token)
                    return nil as Sleeper?
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and wakes every sleep whose deadline has come.
    ///
    /// The sleeps are resumed after the clock's lock is released, in no particular order; each
    /// woken task runs when the scheduler gets to it, so wait for what it does (``waitForSleepers(_:)``,
    /// an event) before asserting on it.
    ///
    /// - Precondition: `duration` is zero or more; time never runs backwards.
    public func advance(by duration: Duration) {
        precondition(
            duration >= .zero, "ManualClock.advance(by: \(duration)): time cannot go backwards; pass zero or more")
        let due = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for token in due.keys { state.sleepers[token] = nil }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time forward to the earliest deadline waiting now, waking those sleeps; does nothing
    /// when nobody sleeps. Returns how far time moved.
    @discardableResult
    public func advanceToNextDeadline() -> Duration {
        guard let deadline = nextDeadline else { return .zero }
        let step = max(.zero, now.duration(to: deadline))
        advance(by: step)
        return step
    }

    /// Waits until at least `count` sleeps wait on this clock (for example the timeouts of the
    /// stops in flight), polling every millisecond of real time.
    ///
    /// It waits as long as it takes: put a time limit on the test (`.timeLimit`) so a sleep that
    /// never comes fails the test instead of hanging it. Returns early when the task is cancelled.
    public func waitForSleepers(_ count: Int) async {
        while sleeperCount < count, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
