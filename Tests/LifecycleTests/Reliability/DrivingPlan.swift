@testable import Lifecycle

/// How the driver uses a tree's runner.
enum DriveMode: Sendable, CaseIterable, CustomStringConvertible {
    /// `run()`, stopped at a random moment.
    case run
    /// `start()`, then `wait()`, then `stop()`: a tree failed by a task must stop by itself.
    case startWaitStop
    /// `start()`, then `stop()` at a random moment, nobody in `wait()` or `run()`.
    case startStop
    /// `withRunning(root) { … }`, whose body returns at a random moment.
    case withRunning

    var description: String {
        switch self {
        case .run: "run()"
        case .startWaitStop: "start(), wait(), stop()"
        case .startStop: "start(), stop()"
        case .withRunning: "withRunning"
        }
    }

    /// Whether the driver holds the tree's `ServiceRunner` (every mode but `withRunning`).
    var hasRunner: Bool { self != .withRunning }
}

/// What `wait()` a waiter calls.
enum WaitTarget: Sendable {
    /// `runner.wait()` on its tree's runner.
    case runner
    /// `service.wait()` on service `s<i>` of its tree.
    case service(Int)
}

/// A `wait()` made at a random moment.
struct Waiter: Sendable {
    let after: Duration
    let target: WaitTarget
}

/// How the driver runs one tree.
struct TreeDriving: Sendable {
    var mode = DriveMode.run
    /// How long after the run began the tree's driving begins (the second tree may come later).
    var startDelay = Duration.zero
    /// How long after its driving began the tree is asked to stop.
    var stopAfter: Duration
    /// The stop requests made at that moment, together, each from a thread or task of its own.
    var stops: [StopAction] = [.request]
    /// Whether `stop()` and `wait()` are called before `start()` (both refused), and `start()` again after.
    var refusesFirst = false
    /// The `wait()`s made at random moments.
    var waiters: [Waiter] = []

    /// Whether the driver cancels the task that runs the tree.
    var cancels: Bool { stops.contains { if case .cancel = $0 { true } else { false } } }
}

/// How the driver runs the trees of one seed, and the newer faults of its services.
struct DrivingPlan: Sendable {
    var trees: [TreeDriving]
    /// Whether the runners' clock pauses on some of its readings (a slow clock widens every race).
    var slowClock = false
    /// Whether this is the extended driving (false: every tree by `run()`, as the suite always did).
    let isExtended: Bool

    /// The historical driving: every tree by `run()`, stopped together.
    init(roots: Int, stopAfter: Duration) {
        trees = Array(repeating: TreeDriving(stopAfter: stopAfter), count: roots)
        isExtended = false
    }

    /// Draws the newer faults (into `faults`) and the driving, from a generator of its own.
    ///
    /// Every draw is made whatever its outcome, so that leaving a fault kind out
    /// (`LIFECYCLE_FAULT_SKIP`) changes nothing else of the tree.
    init(
        seed: UInt64, faults: inout [Faults], stages: [[[Int]]], owner: [Int?], roots: [Int], stopAfter: Duration
    ) {
        isExtended = true
        var random = SeededRandom(seed: seed ^ 0x5EED_FA17_0000_0001)
        var appearances = [[Int]](repeating: [], count: faults.count)
        for dependent in stages {
            for stage in dependent { for member in stage { appearances[member].append(stage.count) } }
        }
        for index in faults.indices {
            var fault = faults[index]
            let isShared = owner[index] == nil
            fault.taskFirst = random.chance(5)
            let sleeps = Duration.microseconds(Int.random(in: 0...3_000, using: &random))
            if random.chance(5) { fault.startSleeps = sleeps }
            let inParallelOnly = !appearances[index].isEmpty && appearances[index].allSatisfy { $0 > 1 }
            if random.chance(12), inParallelOnly, !isShared, !fault.startHangs, !fault.taskFirst,
                FaultSettings.includes(.stubbornStart)
            {
                fault.startIgnoresCancellation = true
            }
            let late = RandomTrees.limit * Double.random(in: 1.5...4, using: &random)
            if random.chance(1), !fault.stopHangs, !fault.startIgnoresCancellation,
                FaultSettings.includes(.stubbornStop)
            {
                fault.stopIgnoresCancellationFor = late
            }
            let which = Int.random(in: 0...2, using: &random)
            if random.chance(3), !fault.mayTimeOut, FaultSettings.includes(.hugeTimeouts) {
                fault.hugeStartTimeout = which != 1
                fault.hugeGracefulShutdownTimeout = which != 0
            }
            let inner = InnerStop.allCases.randomElement(using: &random)!
            if random.chance(3), !isShared, !(inner == .fromStart && fault.startIgnoresCancellation),
                FaultSettings.includes(.innerStops)
            {
                fault.stopsItsTree = inner
            }
            if !FaultSettings.includes(.tasksInStart) {
                fault.taskFirst = false
                fault.startSleeps = nil
            }
            faults[index] = fault
        }

        trees = roots.indices.map { tree in
            var driving = TreeDriving(stopAfter: stopAfter)
            let mode = Int.random(in: 0..<100, using: &random)
            driving.mode = mode < 40 ? .run : mode < 65 ? .startWaitStop : mode < 80 ? .startStop : .withRunning
            let many = random.chance(40)
            let count = many ? Int.random(in: 2...4, using: &random) : 1
            driving.stops = (0..<count).map { _ in random.chance(50) ? .request : .stop }
            if driving.mode == .startStop { driving.stops[0] = .stop }
            driving.refusesFirst = random.chance(15) && driving.mode.hasRunner
            if random.chance(40) {
                let reachable = Self.reachable(from: roots[tree], stages: stages)
                driving.waiters = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    let after = Duration.microseconds(Int.random(in: 0...5_000, using: &random))
                    let onRunner = random.chance(70) && driving.mode.hasRunner
                    let service = reachable.randomElement(using: &random)!
                    return Waiter(after: after, target: onRunner ? .runner : .service(service))
                }
            }
            if !FaultSettings.includes(.drivers) { driving = TreeDriving(stopAfter: stopAfter) }
            return driving
        }

        // A stop abandoned while the second tree restarts the service: the second tree comes a
        // moment after the first was asked to stop, and stops well after the late stop returned.
        if roots.count == 2, random.chance(35) {
            trees[1].startDelay = stopAfter + .microseconds(Int.random(in: 1_000...30_000, using: &random))
            trees[1].stopAfter = .milliseconds(Int.random(in: 60...150, using: &random))
            let shared = faults.indices.filter { owner[$0] == nil }
            let late = RandomTrees.limit * Double.random(in: 1.5...4, using: &random)
            let scenario = Int.random(in: 0..<100, using: &random)
            let taskDelay = trees[1].startDelay + .microseconds(Int.random(in: 2_000...20_000, using: &random))
            if let restarted = shared.randomElement(using: &random) {
                if scenario < 50, FaultSettings.includes(.stubbornStop) {
                    // The first tree's stop of it is abandoned; the second tree starts it again
                    // while that stop() still runs, and that stop() returns during the new life.
                    faults[restarted].stopHangs = false
                    faults[restarted].hugeStartTimeout = false
                    faults[restarted].hugeGracefulShutdownTimeout = false
                    faults[restarted].stopIgnoresCancellationFor = late
                    faults[restarted].taskFirst = true
                    faults[restarted].taskThrowsAfter = nil
                } else if scenario < 80, FaultSettings.includes(.tasksInStart) {
                    // Its first start adds a task, then throws; the second tree starts it again,
                    // and the first start's task throws during the new life.
                    faults[restarted].startThrows = false
                    faults[restarted].startHangs = false
                    faults[restarted].firstStartThrows = true
                    faults[restarted].taskFirst = true
                    faults[restarted].taskThrowsAfter = taskDelay
                }
            }
        }
        slowClock = random.chance(25) && FaultSettings.includes(.slowClock)
        if !FaultSettings.includes(.drivers) { slowClock = false }
    }

    /// The services the tree under `root` holds.
    private static func reachable(from root: Int, stages: [[[Int]]]) -> [Int] {
        var seen: Set<Int> = []
        var pending = [root]
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            pending.append(contentsOf: stages[next].joined())
        }
        return seen.sorted()
    }
}
