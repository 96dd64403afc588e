/// A tree of services as the runner will start it, validated, with nothing started: the start order,
/// each service's stages and dependents, and how long its stop can take in the worst case.
///
/// ```swift
/// let plan = try ServiceRunner(API()).plan()
/// print(plan)                        // the tree, indented, shared services marked
/// print(plan.worstCaseShutdown)      // compare with terminationGracePeriodSeconds
/// ```
///
/// Made by ``ServiceRunner/plan()``, which reads every service's `dependencies` and timeouts once.
/// The plan is a value: it does not follow later changes of the tree.
public struct ServicePlan: Sendable, CustomStringConvertible {
    /// Every service of the tree, each once, in a valid start order: a service comes after all of
    /// its dependencies; the root is last.
    public let services: [ServiceID]
    /// The root of the tree.
    public let root: ServiceID
    /// The longest a stop of the whole tree can take when every `stop()` uses its whole
    /// `gracefulShutdownTimeout`: sequential stages add up, a `Parallel` stage takes its slowest
    /// member, and a shared service is counted once, on the chain of the dependent it stops after.
    public let worstCaseShutdown: Duration
    /// The chain of stops that makes ``worstCaseShutdown``, the root first: lowering the
    /// `gracefulShutdownTimeout` of any of these lowers the worst case.
    public let criticalShutdownPath: [ServiceID]

    private let stagesByID: [ServiceID: [[ServiceID]]]
    private let dependentsByID: [ServiceID: [ServiceID]]
    private let timeouts: [ServiceID: Duration]

    /// The plan of a read and checked tree.
    init(_ tree: TreePlan) {
        let ids = tree.nodes.map(\.id)
        let indexStages = tree.nodes.map(\.stages)
        root = ids[0]
        services = Self.startOrder(indexStages).map { ids[$0] }
        var stagesByID: [ServiceID: [[ServiceID]]] = [:]
        var dependentsByID: [ServiceID: [ServiceID]] = [:]
        var timeouts: [ServiceID: Duration] = [:]
        for (index, node) in tree.nodes.enumerated() {
            stagesByID[node.id] = node.stages.map { $0.map { ids[$0] } }
            timeouts[node.id] = node.gracefulShutdownTimeout
            for member in node.stages.joined() where dependentsByID[ids[member], default: []].last != ids[index] {
                dependentsByID[ids[member], default: []].append(ids[index])
            }
        }
        self.stagesByID = stagesByID
        self.dependentsByID = dependentsByID
        self.timeouts = timeouts
        let estimate = ShutdownEstimate(stages: indexStages, timeouts: tree.nodes.map(\.gracefulShutdownTimeout))
        worstCaseShutdown = estimate.worstCase
        criticalShutdownPath = estimate.path.map { ids[$0] }
    }

    /// The service's dependencies as its stages, in start order: each inner array starts together
    /// (a `Parallel` group, or a lone service). Empty for a service not in the plan.
    public func dependencies(of service: ServiceID) -> [[ServiceID]] {
        stagesByID[service] ?? []
    }

    /// The services of the tree that list this one in their dependencies, each once, in the order
    /// they were found (the root's side first). Empty for the root and for a service not in the plan.
    public func dependents(of service: ServiceID) -> [ServiceID] {
        dependentsByID[service] ?? []
    }

    /// The service's `gracefulShutdownTimeout` as the plan read it; `nil` for a service not in the plan.
    public func gracefulShutdownTimeout(of service: ServiceID) -> Duration? {
        timeouts[service]
    }

    /// Whether more than one service of the tree depends on this one (it stops after the last of them).
    public func isShared(_ service: ServiceID) -> Bool {
        dependents(of: service).count > 1
    }

    /// The tree as indented text, one service a line with its `gracefulShutdownTimeout`, a `Parallel`
    /// stage under a `parallel:` line, shared services marked (and drawn in full once), then the
    /// worst-case shutdown and its chain:
    ///
    /// ```text
    /// API  (stop ≤ 5s)
    ///   Database  (stop ≤ 10s)  [shared by 2]
    ///   parallel:
    ///     Cache  (stop ≤ 10s)
    ///     Queue  (stop ≤ 10s)
    ///   HTTPServer  (stop ≤ 10s)
    ///     Database  [shared by 2, drawn above]
    /// worst-case shutdown: 35s, through API → HTTPServer → Queue → Database
    /// ```
    public var description: String {
        var lines: [String] = []
        var drawn: Set<ServiceID> = []
        // An explicit stack, so a tree thousands deep draws without deep recursion.
        var pending: [(line: Line, depth: Int)] = [(.service(root), 0)]
        while let (line, depth) = pending.popLast() {
            let indent = String(repeating: "  ", count: depth)
            switch line {
            case .parallel(let members):
                lines.append(indent + "parallel:")
                pending.append(contentsOf: members.reversed().map { (.service($0), depth + 1) })
            case .service(let id):
                let sharedBy = dependents(of: id).count
                guard !drawn.contains(id) else {
                    lines.append(indent + Self.name(id) + "  [shared by \(sharedBy), drawn above]")
                    continue
                }
                drawn.insert(id)
                var text = indent + Self.name(id)
                if let timeout = timeouts[id] { text += "  (stop ≤ \(Self.seconds(timeout)))" }
                if sharedBy > 1 { text += "  [shared by \(sharedBy)]" }
                lines.append(text)
                let children = dependencies(of: id).map { $0.count == 1 ? Line.service($0[0]) : .parallel($0) }
                pending.append(contentsOf: children.reversed().map { ($0, depth + 1) })
            }
        }
        let path = criticalShutdownPath.map(Self.name).joined(separator: " → ")
        lines.append("worst-case shutdown: \(Self.seconds(worstCaseShutdown)), through \(path)")
        return lines.joined(separator: "\n")
    }

    /// One line of the drawing.
    private enum Line {
        case service(ServiceID)
        case parallel([ServiceID])
    }

    /// A name on one line: control characters (a line break in a name) are shown escaped.
    private static func name(_ id: ServiceID) -> String {
        guard id.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return id.name
        }
        return id.name.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined()
    }

    /// `10s`, `0.25s`, `1.5s`: seconds with at most three decimals, no trailing zeros.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return "\(duration)" }
        let milliseconds = attoseconds / 1_000_000_000_000_000
        guard milliseconds != 0 else { return "\(seconds)s" }
        var fraction = String(milliseconds)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)s"
    }

    /// A start order: each node after its stages, stages in order, the root last (an iterative
    /// depth-first walk, so a chain 100,000 deep needs no deep stack).
    private static func startOrder(_ stages: [[[Int]]]) -> [Int] {
        guard !stages.isEmpty else { return [] }
        var order: [Int] = []
        var seen = Array(repeating: false, count: stages.count)
        var path: [(node: Int, next: Int)] = [(0, 0)]
        seen[0] = true
        let children = stages.map { Array($0.joined()) }
        while let (node, next) = path.last {
            guard next < children[node].count else {
                order.append(node)
                path.removeLast()
                continue
            }
            path[path.count - 1].next += 1
            let child = children[node][next]
            if !seen[child] {
                seen[child] = true
                path.append((child, 0))
            }
        }
        return order
    }
}
