import Lifecycle
import LifecycleTesting
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

/// The invariants every tree test checks over its events (STYLE §7), by the testing kit's
/// ``InvariantChecker``: each step is in the table, each service's steps chain (`to` of one is
/// `from` of the next), each `starting → running` is followed by exactly one `running → stopping`
/// (nothing is left up), and, given the tree's `root`, dependencies run before their dependents
/// start and stop only after them. A failure prints every violation and the whole transcript.
func expectLegal(
    _ events: [LifecycleEvent], root: (any Service)? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    let checker = root.map { InvariantChecker(root: $0) } ?? InvariantChecker()
    let failure = checker.check(events)
    #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")", sourceLocation: sourceLocation)
}
