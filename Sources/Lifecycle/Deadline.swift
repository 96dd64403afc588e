/// How an operation raced against its time limit ended.
enum DeadlineOutcome: Sendable {
    case returned
    case threw(any Error)
    case timedOut
}

/// Runs `operation` against a time limit on the user's clock, and abandons it when the limit wins.
///
/// Used for `startTimeout` (stops have one watchdog per walk instead, see `ReleaseWalk.swift`). The
/// operation runs in a task of its own so that a `start()` that ignores cancellation cannot hold the
/// lifecycle: when the limit passes, the task is cancelled and left behind (DESIGN §4). Cancelling the caller cancels the
/// operation, and an operation begun by an already-cancelled caller starts cancelled.
func runWithDeadline(
    _ limit: Duration, clock: LifecycleClock, _ operation: @escaping @Sendable () async throws -> Void
) async -> DeadlineOutcome {
    let race = Race()
    // Read before the task exists: a caller cancelled already must not let a quick operation run as
    // if it were not (the cancellation handler below would only reach it after it began).
    let startsCancelled = Task.isCancelled
    let work = Task {
        if startsCancelled { withUnsafeCurrentTask { $0?.cancel() } }
        do {
            try await operation()
            race.finish(.returned)
        } catch {
            race.finish(.threw(error))
        }
    }
    let timer = Task {
        do {
            try await clock.sleep(limit)
            race.finish(.timedOut)
        } catch {}  // cancelled: the operation won
    }
    let outcome = await withTaskCancellationHandler {
        await withCheckedContinuation { race.wait(with: $0) }
    } onCancel: {
        work.cancel()
    }
    timer.cancel()
    if case .timedOut = outcome { work.cancel() }
    return outcome
}

/// The first outcome of a race, handed to one waiter whichever arrives first.
private final class Race: Sendable {
    private struct State {
        var outcome: DeadlineOutcome?
        var waiter: CheckedContinuation<DeadlineOutcome, Never>?
    }

    private let state = Locked(State())

    func finish(_ outcome: DeadlineOutcome) {
        let waiter: CheckedContinuation<DeadlineOutcome, Never>? = state.withLock { state in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }

    func wait(with continuation: CheckedContinuation<DeadlineOutcome, Never>) {
        let outcome: DeadlineOutcome? = state.withLock { state in
            if state.outcome == nil { state.waiter = continuation }
            return state.outcome
        }
        if let outcome { continuation.resume(returning: outcome) }
    }
}
