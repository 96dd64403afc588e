/// One call of a service's `start()`, run in a task of its own so that the walk never waits on a
/// `start()` that ignores cancellation.
///
/// The first outcome wins: the start returns or throws, its `startTimeout` passes, or, once the
/// start was cancelled, its `gracefulShutdownTimeout` passes or the runner escalates (DESIGN §4: a
/// cancelled start gets the time a stop gets, then it is abandoned). A `start()` that returns
/// after it was abandoned finds the outcome decided and stops its service at once.
///
/// The same race bounds the wait for a failed start's background tasks
/// (``Coordinator/awaitFailedLifeTasks(_:windingDown:limit:for:)``): they get the grace time, and
/// an escalation ends the walk's wait at once.
final class StartAttempt: Sendable {
    /// How the attempt ended.
    enum Outcome: Sendable {
        case returned
        case threw(any Error)
        case timedOut
        /// Cancelled, then not returned within the grace time, or the runner escalated.
        case abandoned
    }

    private struct State {
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome, Never>?
        var graceTimer: Task<Void, Never>?
        var isCancelled = false
        var hasWorkEnded = false
        var onWorkEnded: [@Sendable () -> Void] = []
    }

    private let state = Locked(State())

    /// Decides the outcome unless it is decided already; returns whether this call decided it.
    @discardableResult
    func finish(_ outcome: Outcome) -> Bool {
        let decided: (CheckedContinuation<Outcome, Never>?, Task<Void, Never>?)? = state.withLock { state in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer {
                state.waiter = nil
                state.graceTimer = nil
            }
            return (state.waiter, state.graceTimer)
        }
        guard let (waiter, timer) = decided else { return false }
        timer?.cancel()
        waiter?.resume(returning: outcome)
        return true
    }

    /// Waits for the outcome.
    func outcome() async -> Outcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let outcome: Outcome? = state.withLock { state in
                if state.outcome == nil { state.waiter = continuation }
                return state.outcome
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    /// The task running `start()` is over (after the stop of a late success): runs what
    /// ``whenWorkEnds(_:)`` registered.
    func workEnded() {
        let actions = state.withLock { state in
            state.hasWorkEnded = true
            defer { state.onWorkEnded = [] }
            return state.onWorkEnded
        }
        for action in actions { action() }
    }

    /// Whether the task running `start()` is over (read under the lock, before the actions run).
    var isWorkOver: Bool { state.withLock { $0.hasWorkEnded } }

    /// Registers `action` (beside any registered before) to run once the task running `start()`
    /// is over; `false`, and nothing registered, when it is over already.
    func whenWorkEnds(_ action: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard !state.hasWorkEnded else { return false }
            state.onWorkEnded.append(action)
            return true
        }
    }

    /// The start was cancelled: abandon it unless it ends within `grace` on `clock`. Only the first call counts.
    ///
    /// - Returns: whether this call armed the grace time (the attempt was undecided and not cancelled before).
    @discardableResult
    func cancelled(grace: Duration, clock: LifecycleClock) -> Bool {
        let isFirst = state.withLock { state in
            guard state.outcome == nil, !state.isCancelled else { return false }
            state.isCancelled = true
            return true
        }
        guard isFirst else { return false }
        let timer = Task {
            do { try await clock.sleep(grace) } catch { return }  // the attempt ended first
            self.finish(.abandoned)
        }
        let isLate = state.withLock { state in
            guard state.outcome == nil else { return true }
            state.graceTimer = timer
            return false
        }
        if isLate { timer.cancel() }
        return true
    }
}
