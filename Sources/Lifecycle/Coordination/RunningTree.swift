/// A runner's tree as the coordinator knows it while it runs: the declared plan and the services
/// added at run time (DESIGN §11), each with a plan of its own, oldest first.
struct RunningTree {
    let runner: ServiceRunner
    let plan: TreePlan
    var added: [TreePlan] = []
    /// Plans of `add` and `remove` calls in flight, by call: their services are the tree's while
    /// they start or stop, so a restart's transitions of them reach this runner too (DESIGN §10).
    var changing: [Int: TreePlan] = [:]
    /// How many holds the tree's walks have in hand on each service now: its root, the services it
    /// added, and what a start or a stop of it is walking through. A service's task failure fails
    /// only the trees holding it (DESIGN §4), not one that has not reached it yet or let it go.
    ///
    /// Once a service's `start()` returned, the holds the walk took on its dependencies are the
    /// service's, no longer the tree's: the tree holds them through it (``Coordinator/treesHolding(_:)``),
    /// and so does every other tree counting that service. When its stop ended they are the
    /// releasing walk's again, until it lets each go.
    var holds: [ServiceID: Int] = [:]

    /// The node of a service the tree holds, declared, added, or being added or removed; `nil`
    /// when it holds none.
    func node(of id: ServiceID) -> TreePlan.Node? {
        if let index = plan.indices[id] { return plan.nodes[index] }
        for added in added.reversed() {
            if let index = added.indices[id] { return added.nodes[index] }
        }
        for changing in changing.values {
            if let index = changing.indices[id] { return changing.nodes[index] }
        }
        return nil
    }
}
