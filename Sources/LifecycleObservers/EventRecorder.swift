/// Keeps every event, for tests: what happened, in order, with checks that show the whole story
/// when they fail.
///
/// ```swift
/// let recorder = EventRecorder()
/// try await withRunning(api, observers: [recorder]) { _ in }
/// #expect(recorder.expectOrder(reaching: .running, [api.database, api.cache, api]) == nil)
/// #expect(recorder.transitions(of: api.cache).map(\.to) == [.starting, .running, .stopping, .stopped])
/// ```
///
/// Safe from any task or thread: the events are kept behind a lock. The `expect…` checks return
/// `nil` when they hold and a ``RecorderMismatch`` (whose description holds the transcript)
/// otherwise, so they work with any test framework.
public final class EventRecorder: LifecycleObserver, Sendable {
    private struct Waiter {
        let condition: @Sendable ([LifecycleEvent]) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var events: [LifecycleEvent] = []
        var waiters: [Int: Waiter] = [:]
        var cancelledWaiters: Set<Int> = []
        var lastWaiter = 0
    }

    private let state = Locked(State())

    /// An empty recorder.
    public init() {}

    /// Records every event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events {
            record(event)
        }
    }

    /// Records one event, and wakes the ``waitUntil(timeout:_:)`` calls it satisfies.
    public func record(_ event: LifecycleEvent) {
        let satisfied = state.withLock { state in
            state.events.append(event)
            let events = state.events
            let done = state.waiters.filter { $0.value.condition(events) }
            for token in done.keys { state.waiters[token] = nil }
            return done.values.map(\.continuation)
        }
        for continuation in satisfied { continuation.resume(returning: true) }
    }

    /// Every event recorded so far, in the order received.
    public var events: [LifecycleEvent] { state.withLock { $0.events } }

    /// The transitions of one service, in order (background-task failures and stop causes left out).
    public func transitions(of service: ServiceID) -> [Transition] {
        events.filter { $0.kind == .transition && $0.service == service }.map { Transition(from: $0.from, to: $0.to) }
    }

    /// The transitions of one service, in order (background-task failures and stop causes left out).
    public func transitions(of service: any Service) -> [Transition] {
        transitions(of: service.serviceID)
    }

    /// The services each stall report named as still stopping, in order (DESIGN §12).
    public var stallReports: [[ServiceID]] {
        events.compactMap { event in
            if case .shutdownStalled(let stopping) = event.kind { return stopping }
            return nil
        }
    }

    /// The causes of the stop requests recorded, in order: the first request's, then escalations
    /// (a second signal, the shutdown deadline).
    public var stopCauses: [StopCause] { events.compactMap(\.stopCause) }

    /// Whether the tree drained before it stopped (an event of kind `.draining`).
    public var hasDrained: Bool { events.contains { $0.kind == .draining } }

    /// The services in the order they entered `state`; a service entering it twice (a restart)
    /// appears twice.
    public func order(reaching state: ServiceState) -> [ServiceID] {
        events.filter { $0.kind == .transition && $0.to == state }.map(\.service)
    }

    /// Waits until `condition` holds for the events recorded, or throws after `timeout`.
    ///
    /// Returns at once when it already holds, whatever the timeout, zero or less included.
    /// `condition` runs under the recorder's lock each time an event arrives: use the events it is
    /// given, never the recorder itself. A timeout longer than ``longestTimeout`` (a century) waits
    /// that long, so `.seconds(Int64.max)` means "until it holds or the task is cancelled".
    ///
    /// - Throws: a ``RecorderMismatch`` with the transcript when `timeout` passes first (measured
    ///   on the `ContinuousClock`), `CancellationError` when the waiting task is cancelled.
    public func waitUntil(
        timeout: Duration,
        _ condition: @escaping @Sendable ([LifecycleEvent]) -> Bool
    ) async throws {
        // Decide before racing a timer: a timeout of zero or less must not beat a condition that holds.
        if state.withLock({ condition($0.events) }) { return }
        let timer = min(timeout, Self.longestTimeout)
        let satisfied = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await self.satisfaction(of: condition) }
            group.addTask {
                try await Task.sleep(for: timer)
                return false
            }
            // The first child to finish decides; the other is cancelled and its outcome ignored.
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        try Task.checkCancellation()
        guard satisfied else {
            throw mismatch("the condition did not hold within \(timeout)")
        }
    }

    /// The longest timer ``waitUntil(timeout:_:)`` sets: a hundred years, far from the limits of the
    /// clock's arithmetic, which a timeout such as `.seconds(Int64.max)` would overflow.
    public static let longestTimeout = Duration.seconds(100 * 365 * 24 * 60 * 60)

    /// Suspends until `condition` holds (`true`) or the task is cancelled (`false`).
    private func satisfaction(of condition: @escaping @Sendable ([LifecycleEvent]) -> Bool) async -> Bool {
        let token = state.withLock { state in
            state.lastWaiter += 1
            return state.lastWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { state in
                    // Cancelled before we got here: the handler found no waiter and left a note.
                    if state.cancelledWaiters.remove(token) != nil { return false }
                    if condition(state.events) { return true }
                    state.waiters[token] = Waiter(condition: condition, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: token) else {
                    state.cancelledWaiters.insert(token)
                    return nil as Waiter?
                }
                return waiter
            }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// Every event recorded so far, one numbered line each:
    /// `  3  0.040s  Database#1  starting → running`.
    ///
    /// One event is one line: control characters in names and errors are shown escaped (`\n`,
    /// `\u{1B}`), as ``ConsoleLogger`` shows them.
    public var transcript: String {
        events.enumerated().map { index, event in
            var line =
                "\(String(index + 1).leftPadded(to: 3))  \(EventText.timestamp(event.time))  "
                + "\(Self.label(event.service))  \(SafeText.escaped(EventText.what(event)))"
            if let error = event.error { line += "  error: \(SafeText.escaped(String(describing: error)))" }
            return line
        }.joined(separator: "\n")
    }

    // MARK: Checks

    /// `nil` when the services entered `state` in exactly this order, a mismatch otherwise.
    public func expectOrder(reaching state: ServiceState, _ expected: [ServiceID]) -> RecorderMismatch? {
        let actual = order(reaching: state)
        guard actual != expected else { return nil }
        return mismatch(
            "expected the services to reach \(state) in the order \(Self.names(expected)), got \(Self.names(actual))")
    }

    /// `nil` when the services entered `state` in exactly this order, a mismatch otherwise.
    public func expectOrder(reaching state: ServiceState, _ expected: [any Service]) -> RecorderMismatch? {
        expectOrder(reaching: state, expected.map(\.serviceID))
    }

    /// `nil` when the service went exactly through `states` (its first `from`, then each `to`),
    /// a mismatch otherwise: `expectStates(of: db, [.idle, .starting, .running, .stopping, .stopped])`.
    public func expectStates(of service: ServiceID, _ states: [ServiceState]) -> RecorderMismatch? {
        let steps = transitions(of: service)
        let actual = steps.isEmpty ? [] : [steps[0].from] + steps.map(\.to)
        guard actual != states else { return nil }
        let path = { (states: [ServiceState]) in states.map(\.rawValue).joined(separator: " → ") }
        return mismatch("expected \(Self.label(service)) to go \(path(states)), it went \(path(actual))")
    }

    /// `nil` when the service went exactly through `states`, a mismatch otherwise.
    public func expectStates(of service: any Service, _ states: [ServiceState]) -> RecorderMismatch? {
        expectStates(of: service.serviceID, states)
    }

    /// `nil` when every transition is in the table and each one starts where the service's previous
    /// one ended (from `idle` for the first), a mismatch naming the first offender otherwise.
    public func expectLegalTransitions() -> RecorderMismatch? {
        var current: [ServiceID: ServiceState] = [:]
        for (index, event) in events.enumerated() where event.kind == .transition {
            let before = current[event.service] ?? .idle
            guard event.from == before, event.from.canMove(to: event.to) else {
                return mismatch(
                    "event \(index + 1): \(Self.label(event.service)) went \(event.from) → \(event.to) "
                        + "while it was \(before)")
            }
            current[event.service] = event.to
        }
        return nil
    }

    /// `nil` when `condition` holds for the events, a mismatch with `message` otherwise.
    public func expect(
        _ message: @autoclosure () -> String, _ condition: ([LifecycleEvent]) -> Bool
    ) -> RecorderMismatch? {
        condition(events) ? nil : mismatch(message())
    }

    private func mismatch(_ message: String) -> RecorderMismatch {
        RecorderMismatch(message: message, transcript: transcript)
    }

    private static func names(_ ids: [ServiceID]) -> String {
        "[" + ids.map(label).joined(separator: ", ") + "]"
    }

    /// `Database#3`, its control characters escaped.
    private static func label(_ id: ServiceID) -> String {
        SafeText.escaped(id.debugDescription)
    }
}

extension String {
    /// The string with spaces in front up to `width` characters.
    func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
