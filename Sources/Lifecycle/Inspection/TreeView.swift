/// What a runner's events have said about its tree so far: the one place snapshots, failures, stall
/// reports and the shutdown status read.
///
/// Pure data, kept by the ``EventHub`` and changed only under its lock: by ``record(_:)`` for every
/// event emitted, and by ``track(_:id:state:dependents:)`` for every service that joins the tree
/// (the plan's services when the tree starts; services added at run time likewise, before their
/// first event). So a snapshot taken under that lock is exactly the sum of the events before it.
struct TreeView: Sendable {
    /// The root of the tree.
    let root: ServiceID
    /// Every service of the tree, in the order it was learned of.
    private(set) var members: [ServiceID]
    /// The services themselves (for `drain()`), by identity.
    private(set) var services: [ServiceID: any Service]
    /// The state of every member: as the table said when it joined, then as its events say.
    private(set) var states: [ServiceID: ServiceState]
    /// For each member, the members that depend on it (the ones its stop waits for).
    private(set) var dependents: [ServiceID: [ServiceID]] = [:]
    /// When each service now stopping began to (`running → stopping`), on the runner's clock.
    private(set) var stoppingSince: [ServiceID: Duration] = [:]
    /// How many events were emitted.
    private(set) var eventCount = 0
    /// The cause of the first stop request.
    private(set) var stopCause: StopCause?
    /// Every failure the events reported, in order.
    private(set) var failures: [ServiceFailure] = []
    /// The services an event of this runner moved: their state is the events', not the table's.
    private var evented: Set<ServiceID> = []

    /// A view of a tree whose only known member is its root, in `state`.
    init(root: any Service, id: ServiceID, state: ServiceState) {
        self.root = id
        members = [id]
        services = [id: root]
        states = [id: state]
    }

    /// A service joins the tree (or is confirmed in it), in `state` unless an event of this runner
    /// already moved it, with the dependents it has in the tree.
    mutating func track(_ service: any Service, id: ServiceID, state: ServiceState, dependents: [ServiceID]) {
        if services[id] == nil {
            if states[id] == nil { members.append(id) }
            services[id] = service
        }
        if !evented.contains(id) { states[id] = state }
        for dependent in dependents where !self.dependents[id, default: []].contains(dependent) {
            self.dependents[id, default: []].append(dependent)
        }
    }

    /// An event was emitted.
    mutating func record(_ event: LifecycleEvent) {
        eventCount += 1
        if let failure = ServiceFailure(event) { failures.append(failure) }
        switch event.kind {
        case .transition:
            let id = event.service
            if states[id] == nil { members.append(id) }  // an event before its service was tracked
            states[id] = event.to
            evented.insert(id)
            stoppingSince[id] = event.to == .stopping ? event.time : nil
        case .stopRequested(let cause):
            if stopCause == nil { stopCause = cause }
        case .taskFailed, .shutdownStalled, .draining, .restartScheduled:
            break
        }
    }

    /// Whether the root is running and no stop was requested.
    var isReady: Bool { states[root] == .running && stopCause == nil }

    /// The members whose `stop()` is running, the longest-stopping first.
    var stopping: [ServiceID] {
        stoppingSince.sorted { ($0.value, $0.key.number) < ($1.value, $1.key.number) }.map(\.key)
    }

    /// The members in a state, in member order.
    func members(in state: ServiceState) -> [ServiceID] {
        members.filter { states[$0] == state }
    }

    /// The snapshot of this view.
    var snapshot: LifecycleSnapshot {
        LifecycleSnapshot(
            root: root, services: members, states: states, isReady: isReady, stopCause: stopCause,
            eventCount: eventCount)
    }
}
