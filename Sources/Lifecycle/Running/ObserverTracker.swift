/// Which of a runner's observers are still consuming, and the waits for them to finish.
///
/// `run()` and `stop()` return only after every observer consumed the last event (DESIGN §6). An
/// observer that never returns would hold them forever, so once the user escalates (a second
/// signal) or cancels the waiting task, the wait is bounded: ``giveUp()`` ends every wait, and
/// ``stillConsuming`` names the observers that had not finished.
final class ObserverTracker: Sendable {
    private struct State {
        var running: [Int: String] = [:]
        var waiters: [CheckedContinuation<Void, Never>] = []
        var isGivenUp = false
    }

    private let state: Locked<State>

    /// Tracks observers named `names` (by index), all running.
    init(names: [String]) {
        state = Locked(State(running: Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0, $1) })))
    }

    /// Observer `index` consumed its stream to the end.
    func finished(_ index: Int) {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.running[index] = nil
            guard state.running.isEmpty else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in woken { waiter.resume() }
    }

    /// Stops waiting for the observers still consuming: every wait, now and later, returns at once.
    func giveUp() {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.isGivenUp = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in woken { waiter.resume() }
    }

    /// Waits until every observer finished, or until ``giveUp()``.
    func waitForAll() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isDone = state.withLock { state in
                guard state.running.isEmpty || state.isGivenUp else {
                    state.waiters.append(continuation)
                    return false
                }
                return true
            }
            if isDone { continuation.resume() }
        }
    }

    /// The type names of the observers that have not finished, in the order they were given.
    var stillConsuming: [String] {
        state.withLock { state in state.running.sorted { $0.key < $1.key }.map(\.value) }
    }
}
