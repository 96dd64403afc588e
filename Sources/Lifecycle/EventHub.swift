/// The fan-out of one runner's events to every subscriber of `events()`.
///
/// Events are yielded inside the lock, so every subscriber sees them in one order, the order in
/// which the coordinator emitted them. Finishing is final: a stream asked for afterwards is empty.
final class EventHub: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<LifecycleEvent>.Continuation] = [:]
        var lastToken = 0
        var isFinished = false
        var dropped = 0
    }

    private let state = Locked(State())

    /// A new stream of every event from now on; unbounded unless `bufferingNewest` is given.
    func subscribe(bufferingNewest limit: Int? = nil) -> AsyncStream<LifecycleEvent> {
        let policy: AsyncStream<LifecycleEvent>.Continuation.BufferingPolicy =
            limit.map { .bufferingNewest(max(1, $0)) } ?? .unbounded
        let (stream, continuation) = AsyncStream.makeStream(of: LifecycleEvent.self, bufferingPolicy: policy)
        let isFinished = state.withLock { state in
            if state.isFinished { return true }
            state.lastToken += 1
            state.subscribers[state.lastToken] = continuation
            return false
        }
        if isFinished { continuation.finish() }
        return stream
    }

    /// Delivers one event to every subscriber; counts what a bounded buffer dropped.
    func emit(_ event: LifecycleEvent) {
        state.withLock { state in
            guard !state.isFinished else { return }
            for (token, subscriber) in state.subscribers {
                switch subscriber.yield(event) {
                case .enqueued: break
                case .dropped: state.dropped += 1
                case .terminated: state.subscribers[token] = nil
                @unknown default: break
                }
            }
        }
    }

    /// Ends every stream; later events are not delivered.
    func finish() {
        let subscribers = state.withLock { state in
            state.isFinished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Events dropped by subscribers that asked for a bounded buffer.
    var droppedCount: Int { state.withLock { $0.dropped } }
}
