/// The fan-out of one runner's events to every subscriber of `events()`, delivered in batches.
///
/// Waking a consumer costs far more than making an event, so events are not yielded one by one:
/// ``emit(_:)`` appends to a queue, and the queue is delivered to every subscriber at once, by a
/// flush that runs about a millisecond after the first event queued (``flushDelay``), or at once
/// when the queue is long, when a stream is subscribed, and when the hub finishes. A consumer that
/// keeps up is then woken about once per batch instead of once per event.
///
/// Nothing is dropped (unless a subscriber asked for a bounded buffer), and every subscriber sees
/// the events in one order, the order of ``emit(_:)``: batches are taken from the queue and yielded
/// under `delivery`, one batch at a time. Finishing flushes first, so a stream ends only after its
/// last event. Finishing is final: a stream asked for afterwards is empty.
final class EventHub: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<LifecycleEvent>.Continuation] = [:]
        var lastToken = 0
        var isFinished = false
        var dropped = 0
        var queue: [LifecycleEvent] = []
        var isFlushScheduled = false
    }

    /// How long the first queued event waits for company before it is delivered.
    static let flushDelay = Duration.milliseconds(1)
    /// A queue this long is delivered at once, so a burst never waits and never grows unbounded.
    static let batchLimit = 4096

    private let state = Locked(State())
    /// Held while a batch is yielded, so batches reach every subscriber whole and in order.
    /// Always taken before `state`, never inside it.
    private let delivery = Locked(())

    /// Whether anyone listens: the coordinator makes no event when nobody does.
    var hasSubscribers: Bool { state.withLock { !$0.subscribers.isEmpty && !$0.isFinished } }

    /// A new stream of every event from now on; unbounded unless `bufferingNewest` is given.
    func subscribe(bufferingNewest limit: Int? = nil) -> AsyncStream<LifecycleEvent> {
        let policy: AsyncStream<LifecycleEvent>.Continuation.BufferingPolicy =
            limit.map { .bufferingNewest(max(1, $0)) } ?? .unbounded
        let (stream, continuation) = AsyncStream.makeStream(of: LifecycleEvent.self, bufferingPolicy: policy)
        let isFinished = delivery.withLock { _ in
            // Events queued before this call belong to the earlier subscribers only.
            deliverQueue()
            return state.withLock { state in
                if state.isFinished { return true }
                state.lastToken += 1
                state.subscribers[state.lastToken] = continuation
                return false
            }
        }
        if isFinished { continuation.finish() }
        return stream
    }

    /// Queues one event for every subscriber; when there is none, the event is not even made.
    func emit(_ event: @autoclosure () -> LifecycleEvent) {
        enum Next { case nothing, schedule, flushNow }
        let next: Next = state.withLock { state in
            guard !state.isFinished, !state.subscribers.isEmpty else { return .nothing }
            state.queue.append(event())
            if state.queue.count >= Self.batchLimit { return .flushNow }
            if state.isFlushScheduled { return .nothing }
            state.isFlushScheduled = true
            return .schedule
        }
        switch next {
        case .nothing:
            return
        case .flushNow:
            flush()
        case .schedule:
            Task { [self] in
                try? await Task.sleep(for: Self.flushDelay)
                state.withLock { $0.isFlushScheduled = false }
                flush()
            }
        }
    }

    /// Delivers every queued event to every subscriber now.
    func flush() {
        delivery.withLock { _ in deliverQueue() }
    }

    /// Ends every stream after delivering what is queued; later events are not delivered.
    func finish() {
        let subscribers = delivery.withLock { _ in
            deliverQueue()
            return state.withLock { state in
                state.isFinished = true
                defer { state.subscribers = [:] }
                return Array(state.subscribers.values)
            }
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Events dropped by subscribers that asked for a bounded buffer.
    var droppedCount: Int {
        flush()
        return state.withLock { $0.dropped }
    }

    /// Yields the queue to the subscribers. Call only while holding `delivery`.
    private func deliverQueue() {
        let (batch, subscribers) = state.withLock { state in
            defer { state.queue = [] }
            return (state.queue, state.subscribers)
        }
        guard !batch.isEmpty else { return }
        var dropped = 0
        var terminated: [Int] = []
        for (token, subscriber) in subscribers {
            for event in batch {
                switch subscriber.yield(event) {
                case .enqueued: continue
                case .dropped: dropped += 1
                case .terminated: terminated.append(token)
                @unknown default: continue
                }
                if terminated.last == token { break }
            }
        }
        state.withLock { state in
            state.dropped += dropped
            for token in terminated { state.subscribers[token] = nil }
        }
    }
}
