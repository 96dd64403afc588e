import Testing

@testable import Lifecycle

/// A blocking service that does what its faults say (a start or stop that throws) and records every call.
final class BlockingFaultService: BlockingService, Sendable {
    let index: Int
    let faults: Faults
    let recorder: FaultRecorder
    let name: String
    let children: [BlockingFaultService]
    var dependencies: [any BlockingService] { children }

    init(index: Int, faults: Faults, recorder: FaultRecorder, dependencies: [BlockingFaultService]) {
        self.index = index
        self.faults = faults
        self.recorder = recorder
        self.name = "s\(index)"
        self.children = dependencies
    }

    func start() throws {
        recorder.record(index, .startCalled)
        if faults.startThrows {
            recorder.record(index, .startThrew)
            throw InjectedFault(index: index, kind: .start)
        }
        recorder.record(index, .startReturned)
    }

    func stop() throws {
        recorder.record(index, .stopCalled)
        if faults.stopThrows {
            recorder.record(index, .stopThrew)
            throw InjectedFault(index: index, kind: .stop)
        }
        recorder.record(index, .stopReturned)
    }
}

/// One or two random blocking trees (sequential dependencies) that may share services.
struct RandomBlockingTrees {
    let services: [BlockingFaultService]
    let roots: [BlockingFaultService]
    let edges: [(dependent: Int, dependency: Int)]

    init(seed: UInt64, recorder: FaultRecorder) {
        var random = SeededRandom(seed: seed)
        let count = Int.random(in: 1...50, using: &random)
        let second = count > 1 && random.chance(30)
        var built = [BlockingFaultService?](repeating: nil, count: count + (second ? 1 : 0))
        var edges: [(Int, Int)] = []

        func make(_ index: Int, from candidates: Range<Int>) -> BlockingFaultService {
            var faults = Faults()
            faults.startThrows = random.chance(2)
            faults.stopThrows = random.chance(3)
            let wanted = candidates.isEmpty ? 0 : Int.random(in: 0...min(4, candidates.count), using: &random)
            var picked = Array(candidates.shuffled(using: &random).prefix(wanted))
            if index == count, picked.isEmpty { picked = [1] }
            for dependency in picked { edges.append((index, dependency)) }
            return BlockingFaultService(
                index: index, faults: faults, recorder: recorder, dependencies: picked.map { built[$0]! })
        }

        for index in stride(from: count - 1, through: 0, by: -1) {
            built[index] = make(index, from: (index + 1)..<count)
        }
        if second { built[count] = make(count, from: 1..<count) }
        services = built.map { $0! }
        roots = second ? [services[0], services[count]] : [services[0]]
        self.edges = edges
    }

    var facts: TreeFacts {
        TreeFacts(
            faults: services.map(\.faults), edges: edges, timeBound: .seconds(10) * FaultSettings.slowdown,
            cancels: false)
    }
}

/// DESIGN §4's invariants on random blocking trees, two of them on two threads when they share services.
///
/// The same environment variables as the async suite: `LIFECYCLE_FAULT_TREES`, `LIFECYCLE_FAULT_SEED`.
@Suite(.timeLimit(.minutes(10))) struct BlockingFaultInjectionTests {
    static func run(seed: UInt64) async throws -> (violations: [String], statistics: FaultStatistics) {
        let recorder = FaultRecorder()
        let trees = RandomBlockingTrees(seed: seed, recorder: recorder)
        let runners = trees.roots.map { BlockingRunner($0) }
        // Refused calls, drawn from a generator of their own: stop() before start(), start() twice.
        var extra = SeededRandom(seed: seed ^ 0x5EED_FA17_0000_0002)
        let refuses = trees.roots.map { _ in extra.chance(15) }
        let refusals = Locked<[String]>([])
        let streams = runners.map { collect($0.events()) }
        let began = ContinuousClock.now
        // Each tree on a thread of its own, started together: shared services meet across threads.
        let outcomes = try await withThrowingTaskGroup(of: (Int, Result<Void, any Error>).self) { group in
            for (position, runner) in runners.enumerated() {
                nonisolated(unsafe) let runner = runner  // each runner is used by its one thread only
                let rootID = trees.roots[position].serviceID
                let refuses = refuses[position]
                group.addTask {
                    try await onThread {
                        if refuses {
                            do {
                                try runner.stop()
                                refusals.withLock {
                                    $0.append("[refused call] tree \(position): stop() before start() returned")
                                }
                            } catch {
                                if (error as? LifecycleError) != .notStarted(rootID) {
                                    refusals.withLock {
                                        $0.append(
                                            "[refused call] tree \(position): stop() before start() threw \(error)")
                                    }
                                }
                            }
                        }
                        do {
                            try runner.start()
                        } catch {
                            return (position, .failure(error))
                        }
                        if refuses {
                            do {
                                try runner.start()
                                refusals.withLock {
                                    $0.append("[refused call] tree \(position): a second start() returned")
                                }
                            } catch {
                                if (error as? LifecycleError) != .alreadyStarted(rootID) {
                                    refusals.withLock {
                                        $0.append("[refused call] tree \(position): a second start() threw \(error)")
                                    }
                                }
                            }
                        }
                        return (position, Result { try runner.stop() })
                    }
                }
            }
            var outcomes = [Result<Void, any Error>](repeating: .success(()), count: runners.count)
            for try await (position, outcome) in group { outcomes[position] = outcome }
            return outcomes
        }
        let elapsed = began.duration(to: .now)
        var events: [[LifecycleEvent]] = []
        for stream in streams { events.append(await stream.value) }
        let violations =
            InvariantCheck(
                trees: trees.facts, calls: recorder.all, events: events, outcomes: outcomes, elapsed: elapsed
            ).violations + refusals.withLock { $0 }
        var statistics = FaultStatistics()
        statistics.add(faults: trees.facts.faults, calls: recorder.all, roots: trees.roots.count, cancelled: nil)
        statistics[.refusedCalls] += 2 * refuses.count { $0 }
        statistics.addViolations(violations)
        return (violations, statistics)
    }

    @Test func everyInvariantHoldsOnRandomBlockingTreesWithRandomFaults() async throws {
        let first = FaultSettings.firstSeed
        let count = FaultSettings.treeCount
        var failures: [(UInt64, [String])] = []
        var total = FaultStatistics()
        CrashReport.install()
        for seed in first..<(first + UInt64(count)) where failures.count < FaultSettings.failureLimit {
            CrashReport.inFlight([seed], from: 32, count: 1)
            let (violations, statistics) = try await Self.run(seed: seed)
            total = total + statistics
            if !violations.isEmpty { failures.append((seed, violations)) }
        }
        CrashReport.inFlight([], from: 32, count: 1)
        print("blocking fault injection, \(count) seeds from \(first):\n\(total)")
        FaultSettings.record(failures, filter: "BlockingFaultInjection")
    }
}
