import Lifecycle

/// A trivial service: start and stop return at once. Holds its dependencies strongly, as users do.
final class Trivial: Lifecycle.Service {
    let dependencies: Dependencies
    init(_ dependencies: Dependencies = []) { self.dependencies = dependencies }
}

/// A trivial service whose start sleeps, for the Parallel-stage latency case.
final class Sleeper: Lifecycle.Service {
    let delay: Duration
    init(_ delay: Duration) { self.delay = delay }
    func start() async throws { try await Task.sleep(for: delay) }
}

/// A service whose stop records when it was called, for the shutdown-reaction case.
final class StopStamp: Lifecycle.Service {
    let dependencies: Dependencies
    let stamp: @Sendable () -> Void
    init(_ dependencies: Dependencies, stamp: @escaping @Sendable () -> Void) {
        self.dependencies = dependencies
        self.stamp = stamp
    }
    func stop() async throws { stamp() }
}

/// The shapes of tree the benchmarks run.
enum Shape: String, CaseIterable {
    /// A root with N sequential dependencies.
    case wide
    /// N services, each depending on the next.
    case chain
    /// A root with N/10 sequential stages of 10 parallel services.
    case staged

    /// Builds the tree; `all` holds every service root first, so dropping it never recurses through
    /// `deinit`s (a 100,000-deep chain released from its root would overflow the stack in user code).
    func build(_ count: Int) -> (root: Trivial, all: [Trivial]) {
        switch self {
        case .wide:
            let leaves = (0..<count).map { _ in Trivial() }
            let root = Trivial(Dependencies(leaves.map { $0 as any DependencyElement }))
            return (root, [root] + leaves)
        case .chain:
            var all: [Trivial] = []
            all.reserveCapacity(count)
            var next: Trivial? = nil
            for _ in 0..<count {
                let service = Trivial(next.map { [$0] } ?? [])
                all.append(service)
                next = service
            }
            all.reverse()
            return (all[0], all)
        case .staged:
            let leaves = (0..<count).map { _ in Trivial() }
            var stages: [any DependencyElement] = []
            var index = 0
            while index < count {
                let end = min(index + 10, count)
                stages.append(Parallel(Array(leaves[index..<end]).map { $0 as any Lifecycle.Service }))
                index = end
            }
            let root = Trivial(Dependencies(stages))
            return (root, [root] + leaves)
        }
    }
}

/// A trivial blocking service: start and stop return at once.
final class BlockingTrivial: BlockingService {
    let children: [BlockingTrivial]
    init(_ children: [BlockingTrivial] = []) { self.children = children }
    var dependencies: [any BlockingService] { children }
}

extension Shape {
    /// The blocking tree of this shape (`wide` and `chain`; blocking dependencies are sequential only).
    func buildBlocking(_ count: Int) -> (root: BlockingTrivial, all: [BlockingTrivial]) {
        switch self {
        case .wide, .staged:
            let leaves = (0..<count).map { _ in BlockingTrivial() }
            let root = BlockingTrivial(leaves)
            return (root, [root] + leaves)
        case .chain:
            var all: [BlockingTrivial] = []
            all.reserveCapacity(count)
            var next: BlockingTrivial? = nil
            for _ in 0..<count {
                let service = BlockingTrivial(next.map { [$0] } ?? [])
                all.append(service)
                next = service
            }
            all.reverse()
            return (all[0], all)
        }
    }
}
