/// The fan-out of one runner's events to every subscriber of `events()`, woken once per batch.
///
/// Each subscriber has a buffer here, and its stream is an `AsyncStream(unfolding:)` that takes the
/// next event from that buffer: a consumer that keeps up reads events without suspending, and one
/// that waits is woken about ``wakeDelay`` after the first event arrives, to find all the events
/// emitted meanwhile. So a consumer is woken once per batch rather than once per event, and an
/// event costs an append under a lock, not a trip through `AsyncStream`'s own machinery.
///
/// Nothing is dropped (unless a subscriber asked for a bounded buffer, and then drops are counted),
/// and every subscriber sees the events in one order, the order of ``emit(_:)``: events are appended
/// to every buffer under one lock. ``finish()`` wakes every waiting consumer at once; a stream ends
/// after its last buffered event. Finishing is final: a stream asked for afterwards is empty. A
/// stream that is dropped before it ends takes its buffer with it.
final class EventHub: Sendable {
    /// One subscriber's unread events and, when it waits, its consumer.
    fileprivate struct Buffer {
        let token: Int
        let limit: Int?
        var events: [LifecycleEvent] = []
        var head = 0
        var waiter: CheckedContinuation<LifecycleEvent?, Never>?
        var isWakeScheduled = false
        var isFinished = false

        /// Appends an event; with a limit, drops the oldest unread one beyond it. Returns the drops.
        mutating func append(_ event: LifecycleEvent) -> Int {
            events.append(event)
            guard let limit, events.count - head > limit else { return 0 }
            head += 1
            return 1
        }

        /// The next unread event, if any.
        mutating func take() -> LifecycleEvent? {
            guard head < events.count else { return nil }
            let event = events[head]
            head += 1
            if head == events.count {
                events.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096, head * 2 >= events.count {
                events.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    fileprivate struct State {
        var subscribers: [Buffer] = []
        var lastToken = 0
        var isFinished = false
        var dropped = 0
        /// What the events said about the tree (a runner's hub has one): updated by every emit.
        var view: TreeView?

        func position(of token: Int) -> Int? { subscribers.firstIndex { $0.token == token } }
    }

    /// What a consumer's request for the next event found.
    fileprivate enum Next {
        case event(LifecycleEvent)
        case end
        case wait
    }

    /// How long a waiting consumer sleeps after the first event arrives, so it wakes to a batch.
    static let wakeDelay = Duration.milliseconds(1)

    private let state: Locked<State>

    /// A hub; a runner's keeps a ``TreeView`` of what its events said, for snapshots.
    init(view: TreeView? = nil) {
        state = Locked(State(view: view))
    }

    /// A new stream of every event from now on; unbounded unless `bufferingNewest` is given.
    func subscribe(bufferingNewest limit: Int? = nil) -> AsyncStream<LifecycleEvent> {
        let token = state.withLock { $0.register(limit: limit) }
        return stream(for: token)
    }

    /// A snapshot of the view and a stream of every event after it, taken under the lock of
    /// ``emit(_:)``: no event is in both, none is lost (DESIGN §12).
    func subscribe(
        bufferingNewest limit: Int? = nil, snapshot: (TreeView?) -> LifecycleSnapshot
    ) -> (snapshot: LifecycleSnapshot, events: AsyncStream<LifecycleEvent>) {
        let (taken, token) = state.withLock { state in (snapshot(state.view), state.register(limit: limit)) }
        return (taken, stream(for: token))
    }

    /// Reads or changes the view under the lock of ``emit(_:)``.
    func withView<Result>(_ body: (inout TreeView?) -> Result) -> Result {
        state.withLock { body(&$0.view) }
    }

    private func stream(for token: Int?) -> AsyncStream<LifecycleEvent> {
        guard let token else { return AsyncStream { $0.finish() } }
        let subscription = Subscription(hub: self, token: token)
        return AsyncStream(unfolding: { await subscription.next() }, onCancel: { subscription.cancel() })
    }

    /// Appends one event to every subscriber's buffer and records it in the view; when there is
    /// neither a subscriber nor a view, the event is not even made.
    func emit(_ event: @autoclosure () -> LifecycleEvent) {
        emit { _ in event() }
    }

    /// Emits the event `make` builds from the view as it is (`nil`: nothing), all under one lock:
    /// a stall report names exactly the services the events before it left stopping.
    func emit(_ make: (TreeView?) -> LifecycleEvent?) {
        let toWake: [Int] = state.withLock { state in
            // After the end nothing is recorded either: a snapshot is the sum of the events delivered.
            guard !state.isFinished, state.view != nil || !state.subscribers.isEmpty else { return [] }
            guard let event = make(state.view) else { return [] }
            state.view?.record(event)
            var toWake: [Int] = []
            for index in state.subscribers.indices {
                state.dropped += state.subscribers[index].append(event)
                if state.subscribers[index].waiter != nil, !state.subscribers[index].isWakeScheduled {
                    state.subscribers[index].isWakeScheduled = true
                    toWake.append(state.subscribers[index].token)
                }
            }
            return toWake
        }
        for token in toWake {
            Task { [self] in
                try? await Task.sleep(for: Self.wakeDelay)
                wake(token)
            }
        }
    }

    /// Ends every stream: waiting consumers wake, the others end after their last buffered event.
    func finish() {
        let woken: [(CheckedContinuation<LifecycleEvent?, Never>, LifecycleEvent?)] = state.withLock { state in
            state.isFinished = true
            var woken: [(CheckedContinuation<LifecycleEvent?, Never>, LifecycleEvent?)] = []
            for index in state.subscribers.indices {
                state.subscribers[index].isFinished = true
                if let waiter = state.subscribers[index].waiter {
                    state.subscribers[index].waiter = nil
                    woken.append((waiter, state.subscribers[index].take()))
                }
            }
            return woken
        }
        for (waiter, event) in woken { waiter.resume(returning: event) }
    }

    /// Events dropped by subscribers that asked for a bounded buffer.
    var droppedCount: Int { state.withLock { $0.dropped } }

    // MARK: For the subscriptions

    /// The next event of a subscriber, waiting for one when its buffer is empty.
    fileprivate func next(_ token: Int) async -> LifecycleEvent? {
        switch state.withLock({ $0.next(token, waiter: nil) }) {
        case .event(let event): return event
        case .end: return nil
        case .wait: break
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<LifecycleEvent?, Never>) in
                switch state.withLock({ $0.next(token, waiter: continuation) }) {
                case .event(let event): continuation.resume(returning: event)
                case .end: continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            cancel(token)
        }
    }

    /// A waiting consumer's delay is over: hand it the first of the events that arrived.
    private func wake(_ token: Int) {
        let woken: (CheckedContinuation<LifecycleEvent?, Never>, LifecycleEvent?)? = state.withLock { state in
            guard let index = state.position(of: token) else { return nil }
            state.subscribers[index].isWakeScheduled = false
            guard let waiter = state.subscribers[index].waiter else { return nil }
            guard let event = state.subscribers[index].take() else { return nil }
            state.subscribers[index].waiter = nil
            return (waiter, event)
        }
        if let (waiter, event) = woken { waiter.resume(returning: event) }
    }

    /// The consumer was cancelled, or dropped its stream: forget the subscriber, end a wait.
    fileprivate func cancel(_ token: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<LifecycleEvent?, Never>? in
            guard let index = state.position(of: token) else { return nil }
            return state.subscribers.remove(at: index).waiter
        }
        waiter?.resume(returning: nil)
    }
}

extension EventHub.State {
    /// Adds a subscriber; `nil` once the hub finished.
    fileprivate mutating func register(limit: Int?) -> Int? {
        if isFinished { return nil }
        lastToken += 1
        subscribers.append(EventHub.Buffer(token: lastToken, limit: limit.map { max(1, $0) }))
        return lastToken
    }

    /// Takes the subscriber's next event, or records `waiter` to be woken when there is none yet.
    fileprivate mutating func next(
        _ token: Int, waiter: CheckedContinuation<LifecycleEvent?, Never>?
    ) -> EventHub.Next {
        guard let index = position(of: token) else { return .end }
        if let event = subscribers[index].take() { return .event(event) }
        if subscribers[index].isFinished {
            subscribers.remove(at: index)
            return .end
        }
        if let waiter { subscribers[index].waiter = waiter }
        return .wait
    }
}

/// One stream's hold on its buffer: when the stream is dropped, the buffer goes too.
private final class Subscription: Sendable {
    let hub: EventHub
    let token: Int

    init(hub: EventHub, token: Int) {
        self.hub = hub
        self.token = token
    }

    deinit { hub.cancel(token) }

    func next() async -> LifecycleEvent? { await hub.next(token) }
    func cancel() { hub.cancel(token) }
}
