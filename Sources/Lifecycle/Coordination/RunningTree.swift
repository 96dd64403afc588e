/// A runner's tree as the coordinator knows it while it runs: the declared plan and the services
/// added at run time (DESIGN §11), each with a plan of its own, oldest first.
struct RunningTree {
    let runner: ServiceRunner
    let plan: TreePlan
    var added: [TreePlan] = []
    /// Plans of `add` and `remove` calls in flight, by call: their services are the tree's while
    /// they start or stop, so a restart's transitions of them reach this runner too (DESIGN §10).
    var changing: [Int: TreePlan] = [:]
    /// How many holds the tree's walks have on each service now (a diamond holds its shared
    /// dependency twice): a service's task failure fails only the trees holding it (DESIGN §4), not
    /// one that has not reached it yet.
    var holds: [ServiceID: Int] = [:]

    /// Whether the tree holds the service: it has entered it and not let it go.
    func isHolding(_ id: ServiceID) -> Bool { holds[id] != nil }

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
