/// A tree of services read once and checked before anything starts: nodes, stages, no cycles.
///
/// Pure graph work over indices: each service's `dependencies`, `name` and timeouts are read
/// exactly once per start of a tree, and both walks are iterative, so a tree 100,000 deep needs no
/// deep stack. A service reachable along many paths is one node (that is how sharing is found).
struct TreePlan: Sendable {
    /// One service of the tree, with its stages as indices into ``nodes``.
    ///
    /// A class of constants: the walks read nodes often, and a reference is cheaper to copy than
    /// an existential, a name and an array.
    final class Node: Sendable {
        let service: any Service
        let id: ServiceID
        /// The service's record in ``ServiceTable``: state writes go straight to it.
        let record: ServiceTable.Record
        let stages: [[Int]]
        /// The service's timeouts, at most ``Swift/Duration/practicallyNever`` so that no arithmetic
        /// on them overflows.
        let startTimeout: Duration?
        let gracefulShutdownTimeout: Duration
        /// What a failure of one of its background tasks leads to (DESIGN §10).
        let restartPolicy: RestartPolicy

        init(
            service: any Service, id: ServiceID, record: ServiceTable.Record, stages: [[Int]],
            startTimeout: Duration?, gracefulShutdownTimeout: Duration, restartPolicy: RestartPolicy = .never
        ) {
            self.service = service
            self.id = id
            self.record = record
            self.stages = stages
            self.startTimeout = startTimeout
            self.gracefulShutdownTimeout = gracefulShutdownTimeout
            self.restartPolicy = restartPolicy
        }
    }

    /// The services; index 0 is the root.
    let nodes: [Node]
    /// Where each service is in ``nodes``.
    let indices: [ServiceID: Int]

    /// The root's node.
    var root: Node { nodes[0] }

    /// Reads the tree under `root` and checks it.
    ///
    /// - Throws: ``LifecycleError/dependencyCycle(_:)``, ``LifecycleError/emptyParallel(in:)``,
    ///   ``LifecycleError/invalidTimeout(_:_:)`` or ``LifecycleError/invalidRestartPolicy(_:_:)``,
    ///   before anything has started.
    init(
        root: any Service,
        register: (any Service) -> (id: ServiceID, record: ServiceTable.Record) = { ServiceTable.shared.register($0) }
    ) throws(LifecycleError) {
        var found = DiscoveryOrder<(service: any Service, record: ServiceTable.Record)>()
        func index(of service: any Service) -> Int {
            let (id, record) = register(service)
            return found.index(of: (service, record), id: id)
        }

        // Discover every node breadth-first, reading each service's dependencies once.
        _ = index(of: root)
        var nodes: [Node] = []
        var next = 0
        while next < found.services.count {
            let (service, record) = found.services[next]
            let id = found.ids[next]
            let stages = service.dependencies.stages
            if stages.contains(where: \.isEmpty) { throw .emptyParallel(in: id) }
            let grace = service.gracefulShutdownTimeout
            let startLimit = service.startTimeout
            if grace <= .zero { throw .invalidTimeout(id, grace) }
            if let startLimit, startLimit <= .zero { throw .invalidTimeout(id, startLimit) }
            let restartPolicy = service.restartPolicy
            if case .onFailure(let maxRestarts, let window, _) = restartPolicy, maxRestarts < 0 || window <= .zero {
                throw .invalidRestartPolicy(id, restartPolicy)
            }
            nodes.append(
                Node(
                    service: service, id: id, record: record, stages: stages.map { $0.map(index(of:)) },
                    startTimeout: startLimit.map { min($0, .practicallyNever) },
                    gracefulShutdownTimeout: min(grace, .practicallyNever), restartPolicy: restartPolicy))
            next += 1
        }
        if let cycle = Self.findCycle(in: nodes) { throw .dependencyCycle(cycle) }
        self.nodes = nodes
        self.indices = found.indices
    }

    /// The services from the root down to `id` along dependencies, both included; `nil` when the
    /// tree does not hold `id`.
    func path(to id: ServiceID) -> [ServiceID]? {
        guard let target = indices[id] else { return nil }
        var cameFrom: [Int?] = Array(repeating: nil, count: nodes.count)
        var queue = [0]
        var seen: Set<Int> = [0]
        var head = 0
        while head < queue.count {
            let next = queue[head]
            head += 1
            if next == target { break }
            for child in nodes[next].stages.joined() where seen.insert(child).inserted {
                cameFrom[child] = next
                queue.append(child)
            }
        }
        var path = [target]
        while let previous = cameFrom[path[0]] { path.insert(previous, at: 0) }
        return path.map { nodes[$0].id }
    }

    /// The services on the first cycle found, the first repeated at the end; `nil` when there is none.
    ///
    /// An iterative depth-first walk with three colours: meeting a node still on the path closes a cycle.
    static func findCycle(in nodes: [Node]) -> [ServiceID]? {
        findCycle(children: nodes.map { $0.stages.flatMap { $0 } }, ids: nodes.map(\.id))
    }

    /// The cycle search over any graph of indices (`children[i]` are the nodes `i` depends on), shared
    /// with ``BlockingTreePlan``; `ids[i]` names node `i`.
    static func findCycle(children: [[Int]], ids: [ServiceID]) -> [ServiceID]? {
        enum Colour { case unseen, onPath, done }
        var colour = [Colour](repeating: .unseen, count: children.count)
        for start in children.indices where colour[start] == .unseen {
            var path: [(node: Int, nextChild: Int)] = [(start, 0)]
            colour[start] = .onPath
            while let (node, nextChild) = path.last {
                guard nextChild < children[node].count else {
                    colour[node] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].nextChild += 1
                let child = children[node][nextChild]
                switch colour[child] {
                case .unseen:
                    colour[child] = .onPath
                    path.append((child, 0))
                case .onPath:
                    let from = path.firstIndex { $0.node == child }!
                    return path[from...].map { ids[$0.node] } + [ids[child]]
                case .done:
                    continue
                }
            }
        }
        return nil
    }
}

/// The services of a tree numbered in the order they are first found, each once: a service
/// reachable along many paths gets one number, which is how sharing is found. Used by both plans.
struct DiscoveryOrder<Element> {
    /// The services, by number.
    private(set) var services: [Element] = []
    /// Their identities, by number.
    private(set) var ids: [ServiceID] = []
    /// The number of each identity.
    private(set) var indices: [ServiceID: Int] = [:]

    /// The number of the service, given the next one when it is new.
    mutating func index(of service: Element, id: ServiceID) -> Int {
        if let known = indices[id] { return known }
        indices[id] = services.count
        services.append(service)
        ids.append(id)
        return services.count - 1
    }
}
