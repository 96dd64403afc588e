@testable import Lifecycle

/// One or two random trees of fault services that may share services, built from a seed.
struct RandomTrees {
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
    /// The time limit of every hanging start or stop.
    static let limit = Duration.milliseconds(20)

    init(seed: UInt64, recorder: FaultRecorder) {
        var random = SeededRandom(seed: seed)
        let count = Int.random(in: 1...50, using: &random)
        let sharesWithASecondTree = count > 1 && random.chance(30)
        var built = [FaultService?](repeating: nil, count: count + (sharesWithASecondTree ? 1 : 0))
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

        func makeDependencies(of index: Int, choosingFrom candidates: Range<Int>) -> Dependencies {
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
            return Dependencies(
                stages.map { stage -> any DependencyElement in
                    stage.count == 1 ? built[stage[0]]! : Parallel(stage.map { built[$0]! })
                })
        }

        // Leaves first, so every service can hold its dependencies from creation.
        for index in stride(from: count - 1, through: 0, by: -1) {
            built[index] = FaultService(
                index: index, faults: makeFaults(), recorder: recorder,
                dependencies: makeDependencies(of: index, choosingFrom: (index + 1)..<count), limit: Self.limit)
        }
        if sharesWithASecondTree {
            var dependencies = makeDependencies(of: count, choosingFrom: 1..<count)
            if dependencies.isEmpty {
                edges.append((count, 1))
                dependencies = [built[1]!]
            }
            built[count] = FaultService(
                index: count, faults: makeFaults(), recorder: recorder, dependencies: dependencies, limit: Self.limit)
        }
        services = built.map { $0! }
        roots = sharesWithASecondTree ? [services[0], services[count]] : [services[0]]
        self.edges = edges
        stopAfter = .microseconds(Int.random(in: 0...4_000, using: &random))
        cancelsInsteadOfRequesting = random.chance(15)
        cancelsWhileStoppingAfter =
            !cancelsInsteadOfRequesting && random.chance(10)
            ? .microseconds(Int.random(in: 0...2_000, using: &random)) : nil
    }

    /// What the invariant check reads.
    var facts: TreeFacts {
        TreeFacts(
            faults: services.map(\.faults), edges: edges, timeBound: timeBound,
            cancels: cancelsInsteadOfRequesting || cancelsWhileStoppingAfter != nil)
    }

    /// The longest time the run may take: every time limit that can fire, plus generous slack for a busy machine.
    var timeBound: Duration {
        let limits = services.filter { $0.faults.startHangs || $0.faults.stopHangs }.count
        return stopAfter + RandomTrees.limit * (2 * limits) + .seconds(10)
    }
}
