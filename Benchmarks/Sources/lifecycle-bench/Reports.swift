import Lifecycle
import LifecycleObservers

/// The reports of recorded runs, whose cost must grow linearly with the tree (issue 16, scenario 7).
enum ReportShape: String, CaseIterable {
    /// `TimingReport`'s critical path, with the root, on a chain of N services.
    case pathRoot = "path-root"
    /// The same without the root: by time adjacency.
    case pathTime = "path-time"
    /// `ServiceTreeDiagram`'s Mermaid and DOT text of a root with N `Parallel` groups of two.
    case groups
}

/// One timed report; the tree and its events are built untimed.
func measureReport(_ shape: String, _ count: Int) -> Duration {
    let clock = ContinuousClock()
    switch ReportShape(rawValue: shape)! {
    case .pathRoot, .pathTime:
        let (root, all) = Shape.chain.build(count)
        let events = chainStartEvents(all)
        let useRoot = shape == ReportShape.pathRoot.rawValue
        let elapsed = clock.measure {
            let report = TimingReport(events, root: useRoot ? root : nil)
            precondition(report.criticalPath.count == count, "the path should hold the whole chain")
        }
        withExtendedLifetime(all) {}
        return elapsed
    case .groups:
        let leaves = (0..<2 * count).map { _ in Trivial() }
        let stages = stride(from: 0, to: leaves.count, by: 2).map {
            Parallel(leaves[$0], leaves[$0 + 1]) as any DependencyElement
        }
        let root = Trivial(Dependencies(stages))
        return clock.measure {
            let diagram = ServiceTreeDiagram(root)
            precondition(!diagram.mermaid().isEmpty && !diagram.dot().isEmpty)
        }
    }
}

/// The start events of a chain listed root first: the deepest service starts first, each one
/// starting when the one it depends on runs.
private func chainStartEvents(_ rootFirst: [Trivial]) -> [LifecycleEvent] {
    rootFirst.reversed().enumerated().flatMap { step, service in
        [
            LifecycleEvent(service: service.serviceID, from: .idle, to: .starting, time: .microseconds(step)),
            LifecycleEvent(service: service.serviceID, from: .starting, to: .running, time: .microseconds(step + 1)),
        ]
    }
}
