/// A runner's tree as the coordinator knows it while it runs: the declared plan and the services
/// added at run time (DESIGN §11), each with a plan of its own, oldest first.
struct RunningTree {
    let runner: ServiceRunner
    let plan: TreePlan
    var added: [TreePlan] = []

    /// The node of a service the tree holds, declared or added; `nil` when it holds none.
    func node(of id: ServiceID) -> TreePlan.Node? {
        if let index = plan.indices[id] { return plan.nodes[index] }
        for added in added.reversed() {
            if let index = added.indices[id] { return added.nodes[index] }
        }
        return nil
    }
}
