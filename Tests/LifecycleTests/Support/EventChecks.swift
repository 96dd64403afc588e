import Lifecycle
import Testing

/// Collects every event of a runner until its stream finishes.
func collect(_ stream: AsyncStream<LifecycleEvent>) -> Task<[LifecycleEvent], Never> {
    Task {
        var events: [LifecycleEvent] = []
        for await event in stream { events.append(event) }
        return events
    }
}

/// The transitions of events as `name: from → to` lines, for exact comparisons.
func lines(_ events: [LifecycleEvent]) -> [String] {
    events.filter(\.isTransition).map { "\($0.service.name): \($0.from) → \($0.to)" }
}

/// The invariants every tree test checks over its events (STYLE §7): each step is in the table,
/// each service's steps chain (`to` of one is `from` of the next), each `starting → running` is
/// followed by exactly one `running → stopping`, and a failed start is never stopped.
func expectLegal(_ events: [LifecycleEvent], sourceLocation: SourceLocation = #_sourceLocation) {
    var last: [ServiceID: ServiceState] = [:]
    for event in events where event.isTransition {
        #expect(
            event.from.canMove(to: event.to), "illegal step \(event)", sourceLocation: sourceLocation)
        if let previous = last[event.service] {
            #expect(
                previous == event.from, "\(event.service) jumped from \(previous) to \(event)",
                sourceLocation: sourceLocation)
        }
        last[event.service] = event.to
    }
    for (id, state) in last {
        #expect(
            state == .stopped || state == .failed || state == .idle,
            "\(id) ended \(state), not stopped", sourceLocation: sourceLocation)
    }
}
