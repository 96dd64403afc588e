@testable import Lifecycle

/// One or two random trees of fault services that may share services, built from a seed, and how
/// the driver runs them.
///
/// The shapes and the first faults (start/stop throws or hangs, task failures) are drawn from the
/// seed's generator in the order they always were, so an old seed builds the same trees; the newer
/// faults and driving come from a second generator of the same seed (``DrivingPlan``).
struct RandomTrees: Sendable {
    /// The services; index 0 is the first root, index `services.count - 1` the second root when there is one.
    let services: [FaultService]
    let roots: [FaultService]
    /// Every dependency edge, over service indices.
    let edges: [(dependent: Int, dependency: Int)]
    /// When the driver asks the trees to stop, and whether it cancels the run tasks instead.
    let stopAfter: Duration
    let cancelsInsteadOfRequesting: Bool
    /// When requesting: whether the run task is also cancelled this long later, while it stops.
    let cancelsWhileStoppingAfter: Duration?
    /// How each tree is driven; every tree by `run()` and nothing more when not extended.
    let plan: DrivingPlan
    /// For each service, the tree it belongs to alone (0 or 1), or `nil` when both trees hold it.
    let owner: [Int?]
    /// The time limit of every hanging start or stop.
    static let limit = Duration.milliseconds(20)

    init(seed: UInt64, recorder: FaultRecorder, extended: Bool = true) {
        var random = SeededRandom(seed: seed)
        let count = Int.random(in: 1...50, using: &random)
        let sharesWithASecondTree = count > 1 && random.chance(30)
        let total = count + (sharesWithASecondTree ? 1 : 0)
        var faults = [Faults](repeating: Faults(), count: total)
        var stages = [[[Int]]](repeating: [], count: total)
        var edges: [(Int, Int)] = []

        func makeFaults() -> Faults {
            var faults = Faults()
            faults.startThrows = random.chance(2)
            faults.startHangs = !faults.startThrows && Int.random(in: 0..<200, using: &random) == 0
            faults.stopThrows = random.chance(3)
            faults.stopHangs = !faults.stopThrows && Int.random(in: 0..<200, using: &random) == 0
            if random.chance(2) { faults.taskThrowsAfter = .microseconds(Int.random(in: 0...3_000, using: &random)) }
            faults.yields = Int.random(in: 0...3, using: &random)
            return faults
        }

        func makeStages(of index: Int, choosingFrom candidates: Range<Int>) -> [[Int]] {
            guard !candidates.isEmpty else { return [] }
            let wanted = Int.random(in: 0...min(4, candidates.count), using: &random)
            let picked = Array(candidates.shuffled(using: &random).prefix(wanted))
            var stages: [[Int]] = []
            for dependency in picked {
                edges.append((index, dependency))
                if !stages.isEmpty, random.chance(40) {
                    stages[stages.count - 1].append(dependency)
                } else {
                    stages.append([dependency])
                }
            }
            return stages
        }

        // Leaves first, as the services are built: the draws stay in their historical order.
        for index in stride(from: count - 1, through: 0, by: -1) {
            faults[index] = makeFaults()
            stages[index] = makeStages(of: index, choosingFrom: (index + 1)..<count)
        }
        if sharesWithASecondTree {
            stages[count] = makeStages(of: count, choosingFrom: 1..<count)
            faults[count] = makeFaults()
            if stages[count].isEmpty {
                edges.append((count, 1))
                stages[count] = [[1]]
            }
        }
        stopAfter = .microseconds(Int.random(in: 0...4_000, using: &random))
        cancelsInsteadOfRequesting = random.chance(15)
        cancelsWhileStoppingAfter =
            !cancelsInsteadOfRequesting && random.chance(10)
            ? .microseconds(Int.random(in: 0...2_000, using: &random)) : nil

        let roots = sharesWithASecondTree ? [0, count] : [0]
        let owner = Self.owners(stages: stages, roots: roots)
        if extended {
            plan = DrivingPlan(
                seed: seed, faults: &faults, stages: stages, owner: owner, roots: roots, stopAfter: stopAfter)
            Self.drawRestarts(seed: seed, faults: &faults)
        } else {
            plan = DrivingPlan(roots: roots.count, stopAfter: stopAfter)
        }

        var built = [FaultService?](repeating: nil, count: total)
        for index in (0..<count).reversed() + (sharesWithASecondTree ? [count] : []) {
            built[index] = FaultService(
                index: index, faults: faults[index], recorder: recorder,
                dependencies: Dependencies(
                    stages[index].map { stage -> any DependencyElement in
                        stage.count == 1 ? built[stage[0]]! : Parallel(stage.map { built[$0]! })
                    }),
                limit: Self.limit)
        }
        let services = built.map { $0! }
        self.services = services
        self.roots = roots.map { services[$0] }
        self.edges = edges
        self.owner = owner
    }

    /// Restart policies on random services, most with a background task that fails (so that each
    /// life fails again, until the policy's window is full), from a generator of their own: the
    /// trees and the driving of a seed stay what they were without them.
    private static func drawRestarts(seed: UInt64, faults: inout [Faults]) {
        var random = SeededRandom(seed: seed ^ 0x5EED_FA17_0000_0002)
        for index in faults.indices {
            let restarts = random.chance(25)
            let maxRestarts = Int.random(in: 0...4, using: &random)
            let kind = Int.random(in: 0..<3, using: &random)
            let delay = Duration.microseconds(Int.random(in: 0...2_000, using: &random))
            let failsAfter = Duration.microseconds(Int.random(in: 0...3_000, using: &random))
            let addsFailingTask = random.chance(60)
            guard restarts, FaultSettings.includes(.restarts) else { continue }
            let backoff: Backoff =
                switch kind {
                case 0: .none
                case 1: .constant(delay)
                default: .exponential(initial: delay / 4, maximum: delay)
                }
            faults[index].restartPolicy = .onFailure(maxRestarts: maxRestarts, within: .seconds(60), backoff: backoff)
            if addsFailingTask, faults[index].taskThrowsAfter == nil { faults[index].taskThrowsAfter = failsAfter }
        }
    }

    /// The tree that alone holds each service; `nil` for a service both trees reach.
    private static func owners(stages: [[[Int]]], roots: [Int]) -> [Int?] {
        var reached = [Set<Int>](repeating: [], count: stages.count)
        for (tree, root) in roots.enumerated() {
            var pending = [root]
            while let next = pending.popLast() {
                guard reached[next].insert(tree).inserted else { continue }
                pending.append(contentsOf: stages[next].joined())
            }
        }
        return reached.map { $0.count == 1 ? $0.first : nil }
    }

    /// What the invariant check reads.
    var facts: TreeFacts {
        TreeFacts(
            faults: services.map(\.faults), edges: edges, timeBound: timeBound,
            cancels: cancelsInsteadOfRequesting || cancelsWhileStoppingAfter != nil)
    }

    /// The longest time the run may take: every time limit that can fire, every late stop, the
    /// latest stop request, plus generous slack for a busy machine.
    var timeBound: Duration {
        let limits = services.filter(\.faults.mayTimeOut).count
        let late = services.compactMap(\.faults.stopIgnoresCancellationFor).reduce(.zero, +)
        let latest = plan.trees.map { $0.startDelay + $0.stopAfter }.max() ?? stopAfter
        // Each restart may wait its backoff and meet every time limit again.
        let restarts = services.map { service -> Duration in
            guard case .onFailure(let maxRestarts, _, let backoff) = service.faults.restartPolicy else { return .zero }
            return (backoff.delay(forAttempt: maxRestarts) + RandomTrees.limit * (2 * limits)) * maxRestarts
        }
        let bound = latest + RandomTrees.limit * (2 * limits) + late + restarts.reduce(.zero, +) + .seconds(10)
        return bound * FaultSettings.slowdown
    }
}
