/// A runner's tree at one instant: every service's state, whether it is ready, why it stops.
///
/// Made by ``ServiceRunner/snapshot()`` and ``ServiceRunner/subscribe(bufferingNewest:)``. The
/// states are the ones the runner's events have reported so far, so a snapshot and the events
/// after it fit together exactly: apply the later events to ``states`` and you follow the tree.
public struct LifecycleSnapshot: Sendable, CustomStringConvertible {
    /// The root of the tree.
    public let root: ServiceID
    /// Every service of the tree, in the order the runner learned of them: the root first, then,
    /// once the tree started, the others in the order its plan found them (breadth-first from the
    /// root); services added at run time after them.
    public let services: [ServiceID]
    /// The state of every service of ``services``.
    public let states: [ServiceID: ServiceState]
    /// Whether the root is running and no stop was requested: what a readiness probe answers.
    /// False from the stop request on, also while the tree drains.
    public let isReady: Bool
    /// Why the tree stops, once a stop was requested.
    public let stopCause: StopCause?
    /// How many events the runner emitted before this snapshot.
    public let eventCount: Int

    /// Creates a snapshot; the runner makes these, tests may too.
    public init(
        root: ServiceID, services: [ServiceID], states: [ServiceID: ServiceState], isReady: Bool,
        stopCause: StopCause?, eventCount: Int
    ) {
        self.root = root
        self.services = services
        self.states = states
        self.isReady = isReady
        self.stopCause = stopCause
        self.eventCount = eventCount
    }

    /// The state of one service; `nil` for a service not in the tree.
    public func state(of service: ServiceID) -> ServiceState? {
        states[service]
    }

    /// `ready` or `not ready`, then each service and its state on a line.
    public var description: String {
        var lines = [isReady ? "ready" : "not ready" + (stopCause.map { " (stop requested: \($0))" } ?? "")]
        for service in services { lines.append("  \(service): \(states[service]?.rawValue ?? "unknown")") }
        return lines.joined(separator: "\n")
    }
}
