/// The transition table (``ServiceState/successors``) drawn as Mermaid and DOT text.
///
/// States come in the order of `ServiceState.allCases` and edges in the order of ``Transition/all``,
/// so the output only changes when the table does; `StateDiagrams/ServiceState.mmd` and `.dot` are
/// this output, checked by a test.
public enum StateMachineDiagram {
    /// A Mermaid `stateDiagram-v2`: a start marker into `idle`, then one edge per legal transition.
    public static func mermaid() -> String {
        var lines = ["stateDiagram-v2", "    [*] --> \(ServiceState.idle)"]
        lines += Transition.all.map { "    \($0.from) --> \($0.to)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Graphviz `digraph`: one node per state, filled with its colour, then one edge per legal
    /// transition.
    public static func dot() -> String {
        var lines = [
            "digraph ServiceState {",
            "    rankdir=LR;",
            "    node [shape=box, style=\"rounded,filled\"];",
            "    start [shape=point];",
        ]
        lines += ServiceState.allCases.map { "    \($0) [fillcolor=\"\(StateColour.fill(of: $0))\"];" }
        lines.append("    start -> \(ServiceState.idle);")
        lines += Transition.all.map { "    \($0.from) -> \($0.to);" }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
