/// A tree of blocking services read once and checked before anything starts: nodes, no cycles.
///
/// The blocking twin of ``TreePlan``: each service's `dependencies` and `name` are read once per start
/// of a tree, discovery is breadth-first and the cycle search is ``TreePlan/findCycle(children:ids:)``,
/// both iterative, so a chain 10,000 deep needs no deep stack. A service reachable along many paths
/// is one node.
///
/// Not `Sendable`: it holds the user's services. It crosses threads only inside the
/// ``BlockingServiceTable``'s lock, when the last holder of a shared service is on another thread.
final class BlockingTreePlan {
    /// One service of the tree, with its dependencies as indices into ``nodes``, in start order.
    struct Node {
        let service: any BlockingService
        let id: ServiceID
        let dependencies: [Int]
    }

    /// The services; index 0 is the root.
    let nodes: [Node]

    /// Reads the tree under `root` and checks it.
    ///
    /// - Throws: ``LifecycleError/dependencyCycle(_:)``, before anything has started.
    init(root: any BlockingService) throws(LifecycleError) {
        let table = BlockingServiceTable.shared
        var found = DiscoveryOrder<any BlockingService>()
        func index(of service: any BlockingService) -> Int { found.index(of: service, id: table.identify(service)) }

        // Discover every node breadth-first, reading each service's dependencies once.
        _ = index(of: root)
        var nodes: [Node] = []
        var next = 0
        while next < found.services.count {
            let service = found.services[next]
            let dependencies = service.dependencies.map(index(of:))
            nodes.append(Node(service: service, id: found.ids[next], dependencies: dependencies))
            next += 1
        }
        if let cycle = TreePlan.findCycle(children: nodes.map(\.dependencies), ids: found.ids) {
            throw .dependencyCycle(cycle)
        }
        self.nodes = nodes
    }
}
