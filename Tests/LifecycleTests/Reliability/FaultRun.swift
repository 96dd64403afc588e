import Foundation

@testable import Lifecycle

/// Which call of a tree's driving a failure came from.
enum DrivePhase: Sendable {
    case start, wait, stop, whole
}

/// What happened to one tree of a run.
struct DrivenTree: Sendable {
    let driving: TreeDriving
    let rootIndex: Int
    let rootID: ServiceID
    /// How the tree ended: `run()`'s or `withRunning`'s result, or the first failure of `start()`,
    /// `wait()`, `stop()`; `nil` when the driving did not end within the run's time bound.
    var outcome: Result<Void, any Error>?
    var failedIn = DrivePhase.whole
    /// After `wait()` threw (the tree failed): whether the tree stopped by itself, nobody calling `stop()`.
    var stoppedByItself: Bool?
    var events: [LifecycleEvent] = []
    var eventsFinished = false
}

/// Runs the trees of one seed as their ``DrivingPlan`` says, records what the driver did, waits
/// until everything begun has ended, and checks the invariants.
final class FaultRun: Sendable {
    let seed: UInt64
    let recorder = FaultRecorder()
    let trees: RandomTrees
    let runners: [ServiceRunner?]
    let tapes: [EventTape]
    let clock: SlowClock
    let began = ContinuousClock.now
    private let waiters = Locked<[Task<Void, Never>]>([])
    /// Waiters launched and not yet ended (some still before their moment).
    private let waitersRunning = Locked(0)
    private let stoppers = Locked<[Task<Void, Never>]>([])
    /// How long the run waits, after every driving ended, for what it began to end too (longer
    /// than a task's cap, so that a task nobody cancelled is reported as such).
    static let settleLimit = FaultService.taskCap + .seconds(5)
    /// How long a tree failed by a task may take to stop by itself.
    static let selfStopLimit = Duration.seconds(5)

    init(seed: UInt64, extended: Bool = true) {
        self.seed = seed
        let trees = RandomTrees(seed: seed, recorder: recorder, extended: extended)
        let clock = SlowClock(seed: seed, isSlow: trees.plan.slowClock)
        let tapes = trees.roots.map { _ in EventTape() }
        let runners = trees.roots.indices.map { tree -> ServiceRunner? in
            guard trees.plan.trees[tree].mode.hasRunner else { return nil }
            return ServiceRunner(trees.roots[tree], observers: [tapes[tree]], signals: [], clock: clock)
        }
        for (index, service) in trees.services.enumerated() {
            if let owner = trees.owner[index], let runner = runners[owner] { service.runner.withLock { $0 = runner } }
        }
        self.trees = trees
        self.clock = clock
        self.tapes = tapes
        self.runners = runners
    }

    /// Runs the seed's trees and returns the violations and what was injected.
    static func run(seed: UInt64, extended: Bool = true) async -> (violations: [String], statistics: FaultStatistics) {
        await FaultRun(seed: seed, extended: extended).run()
    }

    private func run() async -> (violations: [String], statistics: FaultStatistics) {
        let drives = trees.roots.indices.map { tree in Task { await self.drive(tree) } }
        for (tree, driving) in trees.plan.trees.enumerated() {
            for (number, waiter) in driving.waiters.enumerated() {
                launchWaiter(number: tree * 10 + number, tree: tree, target: waiter.target) {
                    await pause(for: driving.startDelay + waiter.after)
                }
            }
        }
        var driven: [DrivenTree] = []
        for drive in drives { driven.append(await drive.value) }
        let elapsed = began.duration(to: .now)
        let settled = await settle()
        let driverLog = recorder.driver
        // Whatever still waits is reported from the log above; end it so nothing is left running.
        for waiter in waiters.withLock({ $0 }) { waiter.cancel() }
        for (tree, tape) in tapes.enumerated() {
            driven[tree].events = tape.events
            driven[tree].eventsFinished = tape.isFinished
        }
        for service in trees.services { service.runner.withLock { $0 = nil } }

        let facts = DrivenFacts(trees: driven, driver: driverLog, owner: trees.owner, settled: settled)
        let calls = recorder.all
        let check = InvariantCheck(
            trees: trees.facts, calls: calls, events: driven.map { $0.events.filter { !$0.isDriverMarker } },
            outcomes: driven.map { $0.outcome ?? .success(()) }, elapsed: elapsed, driven: facts)
        let debug = getenv("LIFECYCLE_FAULT_DEBUG").map { String(cString: $0) }
        if let debug, !check.violations.isEmpty || debug == "always" { debugPrint(driven, calls, driverLog) }
        var statistics = FaultStatistics()
        statistics.add(
            faults: trees.facts.faults, calls: calls, roots: trees.roots.count,
            cancelled: trees.cancelsInsteadOfRequesting)
        if trees.cancelsWhileStoppingAfter != nil { statistics[.cancellationsWhileStopping] = 1 }
        if trees.plan.isExtended { statistics.add(driven: facts, calls: calls, trees: trees) }
        statistics.addViolations(check.violations)
        return (check.violations, statistics)
    }

    // MARK: Driving

    /// The time left of the run's bound.
    private var remaining: Duration { trees.timeBound - began.duration(to: .now) }

    private func drive(_ tree: Int) async -> DrivenTree {
        let driving = trees.plan.trees[tree]
        var driven = DrivenTree(
            driving: driving, rootIndex: trees.roots[tree].index, rootID: trees.roots[tree].serviceID)
        await pause(for: driving.startDelay)
        switch driving.mode {
        case .run:
            await driveRun(tree, &driven)
        case .startWaitStop, .startStop:
            await driveStart(tree, &driven)
        case .withRunning:
            await driveWithRunning(tree, &driven)
        }
        return driven
    }

    /// `run()`, asked to stop (or cancelled) at the tree's moment.
    private func driveRun(_ tree: Int, _ driven: inout DrivenTree) async {
        let runner = runners[tree]!
        let driving = driven.driving
        if driving.refusesFirst { await refuseBeforeStart(tree) }
        recorder.record(tree: tree, .startInvoked)
        let run = Task { try await runner.run() }
        await pause(for: driving.stopAfter)
        if driving.cancels {
            recorder.record(tree: tree, .stopIssued(.cancel))
            run.cancel()
        } else {
            await launchStops(tree, driving.stops)
            if let delay = trees.cancelsWhileStoppingAfter {
                try? await Task.sleep(for: delay)
                recorder.record(tree: tree, .stopIssued(.cancel))
                run.cancel()
            }
        }
        driven.outcome = await result(of: run, within: remaining)
        await awaitStoppers()
        if driving.refusesFirst, driven.outcome != nil { await refuseSecondStart(tree) }
    }

    /// `start()`, then `wait()` and `stop()` (or only `stop()`, at the tree's moment).
    private func driveStart(_ tree: Int, _ driven: inout DrivenTree) async {
        let runner = runners[tree]!
        let driving = driven.driving
        if driving.refusesFirst { await refuseBeforeStart(tree) }
        recorder.record(tree: tree, .startInvoked)
        let start = Task { try await runner.start() }
        let stopper = Task {
            await pause(for: driving.stopAfter)
            await self.launchStops(tree, driving.stops)
        }
        guard let started = await result(of: start, within: remaining) else { return }
        recorder.record(tree: tree, .startEnded(failure: started.failure))
        if driving.refusesFirst { await refuseSecondStart(tree) }
        if case .failure(let error) = started {
            // Whoever waits now learns why the tree never ran.
            await awaitWaiter(launchWaiter(number: tree * 10 + 6, tree: tree, target: .runner) {}, within: .seconds(2))
            _ = await value(of: stopper, within: remaining)
            await awaitStoppers()
            driven.outcome = .failure(error)
            driven.failedIn = .start
            return
        }
        var failure: (any Error)?
        if driving.mode == .startWaitStop {
            let number = tree * 10 + 5
            guard await awaitWaiter(launchWaiter(number: number, tree: tree, target: .runner) {}, within: remaining)
            else { return }
            if let error = waitFailure(number) {
                failure = error
                driven.failedIn = .wait
                driven.stoppedByItself = await stopsByItself(tree)
            }
            recorder.record(tree: tree, .stopIssued(.stop))
            guard let stopped = await result(of: Task { try await runner.stop() }, within: remaining) else { return }
            recorder.record(tree: tree, .stopEnded(failure: stopped.failure))
            if failure == nil, let error = stopped.failure {
                failure = error
                driven.failedIn = .stop
            }
        }
        guard await value(of: stopper, within: remaining) != nil else { return }
        await awaitStoppers()
        // Nobody may be left to stop it (every stop() of the moment came before start() began): stop it now.
        recorder.record(tree: tree, .stopIssued(.stop))
        guard let last = await result(of: Task { try await runner.stop() }, within: remaining) else { return }
        recorder.record(tree: tree, .stopEnded(failure: last.failure))
        if failure == nil, let error = firstStopFailure(tree) {
            failure = error
            driven.failedIn = .stop
        }
        driven.outcome = failure.map { .failure($0) } ?? .success(())
    }

    /// `withRunning(root) { … }`, whose body returns at the tree's moment (or whose task is cancelled).
    private func driveWithRunning(_ tree: Int, _ driven: inout DrivenTree) async {
        let root = trees.roots[tree]
        let driving = driven.driving
        recorder.record(tree: tree, .startInvoked)
        let task = Task { [recorder, tapes, clock] in
            try await withRunning(root, observers: [tapes[tree]], clock: clock) { _ in
                if driving.cancels {
                    try await Task.sleep(for: .seconds(60))
                } else if driving.stopAfter > .microseconds(100) {
                    try await Task.sleep(for: driving.stopAfter)
                } else {
                    await Task.yield()
                }
                recorder.record(tree: tree, .stopIssued(.bodyReturned))
            }
        }
        if driving.cancels {
            await pause(for: driving.stopAfter)
            recorder.record(tree: tree, .stopIssued(.cancel))
            task.cancel()
        }
        driven.outcome = await result(of: task, within: remaining)
    }

    // MARK: Stops, waits, refusals

    /// Makes the stop requests of the moment together: `requestStop()` each from a thread of its
    /// own, `stop()` each from a task of its own.
    private func launchStops(_ tree: Int, _ actions: [StopAction]) async {
        let runner = runners[tree]!
        await startHasBegun(tree)
        if actions.count > 1 { clock.arm(readings: 1) }
        for action in actions {
            switch action {
            case .request:
                recorder.record(tree: tree, .stopIssued(.request))
                Thread { runner.requestStop() }.start()
            case .stop:
                recorder.record(tree: tree, .stopIssued(.stop))
                let task = Task.detached { [recorder] in
                    // A stop() that came before start() began is refused (and changes nothing): ask again.
                    for _ in 0..<10_000 {
                        do {
                            try await runner.stop()
                            recorder.record(tree: tree, .stopEnded(failure: nil))
                            return
                        } catch LifecycleError.notStarted {
                            await Task.yield()
                        } catch {
                            recorder.record(tree: tree, .stopEnded(failure: error))
                            return
                        }
                    }
                }
                stoppers.withLock { $0.append(task) }
            case .cancel, .bodyReturned:
                break
            }
        }
    }

    /// Waits (a little) until the tree's `start()` has begun: its runner is known to the coordinator,
    /// or it emitted an event. A stop request made before it would be a stop of a tree never started.
    private func startHasBegun(_ tree: Int) async {
        let rootID = trees.roots[tree].serviceID
        let runner = runners[tree]!
        let since = ContinuousClock.now
        while since.duration(to: .now) < .milliseconds(20) {
            if !tapes[tree].events.filter({ !$0.isDriverMarker }).isEmpty { return }
            if await Coordinator.shared.runner(holding: rootID) === runner { return }
            await Task.yield()
        }
    }

    private func awaitStoppers() async {
        for stopper in stoppers.withLock({ $0 }) { _ = await value(of: stopper, within: remaining) }
    }

    /// Calls `wait()` (after `prelude`) and records when it was called and how it ended.
    @discardableResult
    private func launchWaiter(
        number: Int, tree: Int, target: WaitTarget, prelude: @escaping @Sendable () async -> Void
    ) -> Task<Void, Never> {
        waitersRunning.withLock { $0 += 1 }
        let task = Task { [recorder, runners, trees, waitersRunning] in
            defer { waitersRunning.withLock { $0 -= 1 } }
            await prelude()
            recorder.record(tree: tree, .waitCalled(number))
            do {
                switch target {
                case .runner: try await runners[tree]!.wait()
                case .service(let index): try await trees.services[index].wait()
                }
                recorder.record(tree: tree, .waitEnded(number, failure: nil))
            } catch {
                recorder.record(tree: tree, .waitEnded(number, failure: error))
            }
        }
        waiters.withLock { $0.append(task) }
        return task
    }

    /// Whether the waiter ended within `limit`.
    @discardableResult
    private func awaitWaiter(_ task: Task<Void, Never>, within limit: Duration) async -> Bool {
        await value(of: task, within: limit) != nil
    }

    private func waitFailure(_ number: Int) -> (any Error)? {
        for entry in recorder.driver {
            if case .waitEnded(number, let failure) = entry.action { return failure }
        }
        return nil
    }

    private func firstStopFailure(_ tree: Int) -> (any Error)? {
        for entry in recorder.driver where entry.tree == tree {
            if case .stopEnded(let failure?) = entry.action { return failure }
        }
        return nil
    }

    /// Whether the root of a tree failed by a background task reaches `stopped` or `failed` with
    /// nobody calling `stop()` (DESIGN §4: a failure is fail-fast, for a tree started by `start()` too).
    private func stopsByItself(_ tree: Int) async -> Bool {
        let root = trees.roots[tree]
        let since = ContinuousClock.now
        while since.duration(to: .now) < min(Self.selfStopLimit, remaining) {
            if root.state == .stopped || root.state == .failed { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return root.state == .stopped || root.state == .failed
    }

    /// `stop()` and `wait()` before `start()`: both refused with `notStarted`, and neither may change
    /// anything; the marker tells the check where the refused calls end on the event stream.
    private func refuseBeforeStart(_ tree: Int) async {
        let runner = runners[tree]!
        let rootID = trees.roots[tree].serviceID
        do {
            try await runner.stop()
            recorder.record(tree: tree, .refused("stop() before start() returned normally", correctly: false))
        } catch {
            let correctly = (error as? LifecycleError) == .notStarted(rootID)
            recorder.record(tree: tree, .refused("stop() before start() threw \(error)", correctly: correctly))
        }
        do {
            try await runner.wait()
            recorder.record(tree: tree, .refused("wait() before start() returned normally", correctly: false))
        } catch {
            let correctly = (error as? LifecycleError) == .notStarted(rootID)
            recorder.record(tree: tree, .refused("wait() before start() threw \(error)", correctly: correctly))
        }
        runner.emit(.driverMarker())
    }

    /// `start()` a second time: refused with `alreadyStarted`.
    private func refuseSecondStart(_ tree: Int) async {
        let rootID = trees.roots[tree].serviceID
        do {
            try await runners[tree]!.start()
            recorder.record(tree: tree, .refused("a second start() returned normally", correctly: false))
        } catch {
            let correctly = (error as? LifecycleError) == .alreadyStarted(rootID)
            recorder.record(tree: tree, .refused("a second start() threw \(error)", correctly: correctly))
        }
    }

    // MARK: Settling

    /// Waits until everything the run began has ended: tasks, late starts and their stops, stops
    /// called from inside the tree, waiters, event streams. Returns whether it all did in time.
    private func settle() async -> Bool {
        let since = ContinuousClock.now
        while since.duration(to: .now) < Self.settleLimit {
            if isSettled { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return isSettled
    }

    private var isSettled: Bool {
        let calls = recorder.all
        var open: [Int: Int] = [:]
        var inner = 0
        for entry in calls {
            switch entry.kind {
            case .taskAdded: open[entry.task, default: 0] += 1
            case .taskThrew, .taskCancelled, .taskReturned, .taskExpired: open[entry.task, default: 0] -= 1
            case .innerStopCalled: inner += 1
            case .innerStopReturned: inner -= 1
            default: break
            }
        }
        guard open.values.allSatisfy({ $0 <= 0 }), inner == 0 else { return false }
        for entry in calls where entry.kind == .startIgnoredCancellation {
            let life = calls.filter { $0.service == entry.service && $0.life == entry.life }
            guard let ended = life.last(where: { $0.kind == .startReturned || $0.kind == .startThrew }) else {
                return false
            }
            if ended.kind == .startReturned,
                !life.contains(where: { $0.kind == .stopReturned || $0.kind == .stopThrew })
            {
                return false
            }
        }
        return waitersRunning.withLock { $0 } == 0 && tapes.allSatisfy(\.isFinished)
    }

    private func debugPrint(_ driven: [DrivenTree], _ calls: [FaultRecorder.Entry], _ log: [FaultRecorder.DriverEntry])
    {
        for tree in driven {
            print("tree \(tree.driving.mode) \(tree.driving) outcome \(String(describing: tree.outcome))")
            print(tree.events.map(\.description).joined(separator: "\n"))
            print("---")
        }
        for service in trees.services {
            print(service.name, service.faults, service.dependencies.stages.map { $0.map(\.name) })
        }
        print(calls.map { "\($0.sequence) s\($0.service).\($0.life) \($0.kind)\($0.task > 0 ? " #\($0.task)" : "")" })
        print(log.map { "\($0.sequence) tree \($0.tree) \($0.action)" })
    }
}

/// What the driven checks read: each tree's driving and ending, and what the driver did.
struct DrivenFacts {
    let trees: [DrivenTree]
    let driver: [FaultRecorder.DriverEntry]
    let owner: [Int?]
    let settled: Bool
}

extension Result {
    /// The error, when it is a failure.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
