/// A tree of services drawn as Mermaid and DOT text, each service filled with the colour of its state.
///
/// ```swift
/// print(ServiceTreeDiagram(api).mermaid())                         // current states
/// print(ServiceTreeDiagram(api, events: recorder.events).dot())   // final states of a run
/// ```
///
/// Arrows go from a service to its dependencies, labelled with the stage number (1 starts first).
/// The services of a `Parallel` stage are boxed together (a Mermaid subgraph, a DOT cluster). A
/// service reachable along several paths is drawn once, with an arrow from each dependent, inside
/// the box of the first parallel stage it was found in, even when a plain stage found it first;
/// outside every box only when no parallel stage holds it. The walk is iterative and breadth-first
/// in stage order, and deduplicates services by identity, so it also ends on a cycle. Nodes are
/// named `n1`, `n2`, … in that order, so the text is the same on every run.
///
/// Names never break a diagram: control characters are shown escaped (`\n`), names longer than
/// 200 characters are cut with `…`, an empty name is drawn as `(empty name)`; Mermaid labels use
/// entity codes (`#37;` for `%`, `#34;` for `"`) so no name starts a comment or a directive, and
/// DOT labels escape quotes and backslashes. Node ids never come from names.
public struct ServiceTreeDiagram: Sendable {
    struct Node: Sendable, Equatable {
        let name: String
        let state: ServiceState
        /// The parallel group it is drawn in, if any.
        var group: Int?
    }

    struct Edge: Sendable, Equatable {
        let dependent: Int
        let dependency: Int
        let stage: Int
    }

    struct Group: Sendable, Equatable {
        let owner: Int
        let stage: Int
    }

    let nodes: [Node]
    let edges: [Edge]
    let groups: [Group]

    /// The tree under `root`, each service coloured by its current ``Service/state``.
    public init(_ root: any Service) {
        self.init(root) { $0.state }
    }

    /// The tree under `root`, each service coloured by the last state the events show for it
    /// (`idle` for a service the events never mention).
    public init(_ root: any Service, events: [LifecycleEvent]) {
        let states = EventText.finalStates(in: events)
        self.init(root) { states[$0.serviceID] ?? .idle }
    }

    private init(_ root: any Service, state: (any Service) -> ServiceState) {
        var nodes: [Node] = []
        var edges: [Edge] = []
        var groups: [Group] = []
        var index: [ServiceID: Int] = [:]
        var services: [any Service] = []
        func node(for service: any Service, group: Int?) -> Int {
            let id = service.serviceID
            if let known = index[id] {
                // Found before in a plain stage: it still goes in the first parallel box that holds it.
                if nodes[known].group == nil { nodes[known].group = group }
                return known
            }
            index[id] = nodes.count
            nodes.append(Node(name: service.name, state: state(service), group: group))
            services.append(service)
            return nodes.count - 1
        }
        _ = node(for: root, group: nil)
        var next = 0
        // Breadth-first over the services found so far; each is expanded once.
        while next < services.count {
            let dependent = next
            next += 1
            for (number, stage) in services[dependent].dependencies.stages.enumerated() {
                var group: Int?
                if stage.count > 1 {
                    group = groups.count
                    groups.append(Group(owner: dependent, stage: number + 1))
                }
                for service in stage {
                    edges.append(
                        Edge(dependent: dependent, dependency: node(for: service, group: group), stage: number + 1))
                }
            }
        }
        self.nodes = nodes
        self.edges = edges
        self.groups = groups
    }

    /// The tree as a Mermaid `flowchart`, with a `classDef` per state shown.
    public func mermaid() -> String {
        var lines = ["flowchart TD"]
        let declare = { (index: Int, indent: String) in
            let label = DiagramLabel.mermaidEscaped(DiagramLabel.text(nodes[index].name))
            return "\(indent)n\(index + 1)[\"\(label)<br/>\(nodes[index].state)\"]"
        }
        let members = membersByGroup()
        lines += nodes.indices.filter { nodes[$0].group == nil }.map { declare($0, "    ") }
        for (number, group) in groups.enumerated() where !members[number].isEmpty {
            lines.append("    subgraph g\(number + 1) [\"\(DiagramLabel.mermaidEscaped(title(of: group)))\"]")
            lines += members[number].map { declare($0, "        ") }
            lines.append("    end")
        }
        lines += edges.map { "    n\($0.dependent + 1) -->|\($0.stage)| n\($0.dependency + 1)" }
        for state in ServiceState.allCases {
            let members = nodes.indices.filter { nodes[$0].state == state }.map { "n\($0 + 1)" }
            guard !members.isEmpty else { continue }
            lines.append(
                "    classDef \(state) fill:\(StateColour.fill(of: state)),stroke:\(StateColour.stroke(of: state))")
            lines.append("    class \(members.joined(separator: ",")) \(state)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The tree as a Graphviz `digraph`, parallel stages as dashed clusters.
    public func dot() -> String {
        var lines = ["digraph services {", "    rankdir=TB;", "    node [shape=box, style=\"rounded,filled\"];"]
        let declare = { (index: Int, indent: String) in
            let node = nodes[index]
            let label = DiagramLabel.dotEscaped(DiagramLabel.text(node.name))
            return "\(indent)n\(index + 1) [label=\"\(label)\\n\(node.state)\", "
                + "fillcolor=\"\(StateColour.fill(of: node.state))\", color=\"\(StateColour.stroke(of: node.state))\"];"
        }
        let members = membersByGroup()
        lines += nodes.indices.filter { nodes[$0].group == nil }.map { declare($0, "    ") }
        for (number, group) in groups.enumerated() where !members[number].isEmpty {
            lines.append("    subgraph cluster_g\(number + 1) {")
            lines.append("        label=\"\(DiagramLabel.dotEscaped(title(of: group)))\";")
            lines.append("        style=dashed;")
            lines += members[number].map { declare($0, "        ") }
            lines.append("    }")
        }
        lines += edges.map { "    n\($0.dependent + 1) -> n\($0.dependency + 1) [label=\"\($0.stage)\"];" }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The nodes drawn in each group, in node order: one pass, however many groups there are.
    private func membersByGroup() -> [[Int]] {
        var members = [[Int]](repeating: [], count: groups.count)
        for (index, node) in nodes.enumerated() {
            if let group = node.group { members[group].append(index) }
        }
        return members
    }

    /// A box's title, `api stage 2 (parallel)`, from the owner's label.
    private func title(of group: Group) -> String {
        "\(DiagramLabel.text(nodes[group.owner].name)) stage \(group.stage) (parallel)"
    }
}
