/// What a runner's events have said about its tree so far: the one place snapshots, failures, stall
/// reports, the drain and the shutdown status read.
///
/// Pure data, kept by the ``EventHub`` and changed only under its lock: by ``record(_:)`` for every
/// event emitted, and by ``track(_:states:)`` for the services that join the tree (the plan's when
/// the tree starts; services added at run time likewise, before their first event). So a snapshot
/// taken under that lock is exactly the sum of the events before it.
///
/// Cheap on the hot path: an event costs one dictionary access; what only an inspection needs (the
/// services, their dependents) is derived from the tracked plans when asked.
struct TreeView: Sendable {
    /// What the view knows of one service.
    struct Entry: Sendable {
        /// Its state: as the table said when it joined, then as this runner's events say.
        var state: ServiceState
        /// Whether an event of this runner moved it: then its state is the events', not the table's.
        var isEvented = false
        /// When its `stop()` began, while it is stopping.
        var stoppingSince: Duration?
    }

    /// The root of the tree.
    let root: ServiceID
    /// The root service, for a tree not started yet.
    private let rootService: any Service
    /// Every service of the tree, in the order it was learned of.
    private(set) var members: [ServiceID]
    /// Each member's entry.
    private(set) var entries: [ServiceID: Entry]
    /// The plans the members came from: their services and dependency edges.
    private(set) var plans: [TreePlan] = []
    /// How many events were emitted.
    private(set) var eventCount = 0
    /// The cause of the first stop request.
    private(set) var stopCause: StopCause?
    /// Every failure the events reported, in order.
    private(set) var failures: [ServiceFailure] = []

    /// A view of a tree whose only known member is its root, in `state`.
    init(root: any Service, id: ServiceID, state: ServiceState) {
        self.root = id
        rootService = root
        members = [id]
        entries = [id: Entry(state: state)]
    }

    /// The services of `plan` join the tree (or are confirmed in it), each in the state `states`
    /// gives (by node) unless an event of this runner moved it already.
    mutating func track(_ plan: TreePlan, states: [ServiceState]) {
        plans.append(plan)
        for (node, state) in zip(plan.nodes, states) {
            if let entry = entries[node.id] {
                if !entry.isEvented { entries[node.id]!.state = state }
            } else {
                entries[node.id] = Entry(state: state)
                members.append(node.id)
            }
        }
    }

    /// An event was emitted.
    mutating func record(_ event: LifecycleEvent) {
        eventCount += 1
        switch event.kind {
        case .transition:
            if event.error != nil, let failure = ServiceFailure(event) { failures.append(failure) }
            var isNew = false
            // Static: a method of `self` here would copy the view, and with it every entry.
            Self.update(
                &entries[
                    event.service,
                    default: {
                        isNew = true
                        return Entry(state: event.from)
                    }()], with: event)
            if isNew { members.append(event.service) }  // an event before its service was tracked
        case .taskFailed:
            if let failure = ServiceFailure(event) { failures.append(failure) }
        case .stopRequested(let cause):
            if stopCause == nil { stopCause = cause }
        case .shutdownStalled, .draining, .restartScheduled:
            break
        }
    }

    private static func update(_ entry: inout Entry, with event: LifecycleEvent) {
        entry.state = event.to
        entry.isEvented = true
        if event.to == .stopping {
            entry.stoppingSince = event.time
        } else if event.from == .stopping {
            entry.stoppingSince = nil
        }
    }

    // MARK: Reading

    /// Every member's state.
    var states: [ServiceID: ServiceState] { entries.mapValues(\.state) }

    /// Whether the root is running and no stop was requested.
    var isReady: Bool { entries[root]?.state == .running && stopCause == nil }

    /// The members whose `stop()` is running, the longest-stopping first.
    var stopping: [ServiceID] {
        entries.compactMap { id, entry in entry.stoppingSince.map { (id, $0) } }
            .sorted { ($0.1, $0.0.number) < ($1.1, $1.0.number) }.map(\.0)
    }

    /// The members in a state, in member order.
    func members(in state: ServiceState) -> [ServiceID] {
        members.filter { entries[$0]?.state == state }
    }

    /// The service objects of the members, by identity (the root's even before the tree started).
    var services: [ServiceID: any Service] {
        var services: [ServiceID: any Service] = [root: rootService]
        for plan in plans { for node in plan.nodes where services[node.id] == nil { services[node.id] = node.service } }
        return services
    }

    /// For each member, the members that depend on it, each once, in the order the plans list them.
    /// A service added at run time (a plan tracked after the first) is a last stage of the root
    /// (DESIGN §11): the root is its dependent.
    var dependents: [ServiceID: [ServiceID]] {
        var dependents: [ServiceID: [ServiceID]] = [:]
        func add(_ dependent: ServiceID, of id: ServiceID) {
            if !dependents[id, default: []].contains(dependent) { dependents[id, default: []].append(dependent) }
        }
        for plan in plans {
            for node in plan.nodes {
                for member in node.stages.joined() { add(node.id, of: plan.nodes[member].id) }
            }
        }
        for added in plans.dropFirst() where added.root.id != root { add(root, of: added.root.id) }
        return dependents
    }

    /// The snapshot of this view.
    var snapshot: LifecycleSnapshot {
        LifecycleSnapshot(
            root: root, services: members, states: states, isReady: isReady, stopCause: stopCause,
            eventCount: eventCount)
    }
}
