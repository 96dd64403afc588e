@testable import Lifecycle

/// The invariants of the issue on adversarial use, checked over a driven run (``FaultRun``):
///
/// - no background task outlives its service's life (a failed, timed-out or cancelled start's
///   tasks are cancelled and awaited before anything after it; a task is never cancelled while
///   its own start still runs; a task's late failure fails no tree);
/// - every waiter returns, and `wait()` returns normally only after a stop was asked for (a failed
///   start makes it throw that start's error);
/// - the cause of a stop precedes its first `running → stopping`;
/// - a refused call changes nothing;
/// - a tree failed by a background task stops by itself; `run()` and `withRunning` throw such a
///   failure; concurrent `stop()`s agree; a `stop()` from inside the tree returns; a cancelled
///   start that ignores cancellation is abandoned; every driving ends within its bound.
///
/// Each violation begins with the invariant's tag, which the statistics count.
extension InvariantCheck {
    mutating func checkDriven(_ driven: DrivenFacts) {
        checkTaskLives()
        checkTaskFailureEvents(driven)
        checkWaiters(driven)
        checkRefusals(driven)
        checkCauses(driven)
        for (position, tree) in driven.trees.enumerated() {
            checkEnding(of: tree, at: position, driven)
        }
        checkInnerStops()
        for entry in calls where entry.kind == .startNeverAbandoned {
            violations.append(
                "[start not abandoned] s\(entry.service): its start \(entry.life) ignored its cancellation and was "
                    + "still starting \(FaultService.abandonCap) later (gracefulShutdownTimeout \(RandomTrees.limit))")
        }
    }

    /// No background task outlives its service's life (DESIGN §3, §4).
    private mutating func checkTaskLives() {
        let ends: Set<FaultRecorder.Kind> = [.taskThrew, .taskCancelled, .taskReturned, .taskExpired]
        var endOf: [Int: FaultRecorder.Entry] = [:]
        for entry in calls where ends.contains(entry.kind) && endOf[entry.task] == nil { endOf[entry.task] = entry }
        for added in calls where added.kind == .taskAdded {
            let service = added.service
            let lifeName = "s\(service) (start \(added.life))"
            guard let end = endOf[added.task] else {
                violations.append("[task outlived its life] a task of \(lifeName) never ended")
                continue
            }
            if end.kind == .taskExpired {
                violations.append(
                    "[task outlived its life] a task of \(lifeName) was not cancelled within \(FaultService.taskCap) "
                        + "(on a loaded machine, raise LIFECYCLE_FAULT_SLOWDOWN)")
                continue
            }
            let life = calls.filter { $0.service == service && $0.life == added.life }
            let stopCalled = life.first { $0.kind == .stopCalled }
            if end.kind == .taskCancelled, let returned = life.first(where: { $0.kind == .startReturned }),
                returned.sequence < end.sequence, stopCalled.map({ $0.sequence > end.sequence }) ?? true
            {
                violations.append(
                    "[task cancelled while its service ran] a task of \(lifeName) was cancelled while that start "
                        + "ran, before any stop() of it")
            }
            // A life whose stop was abandoned (or whose start was) has its tasks cancelled, not awaited.
            let abandoned =
                (trees.faults[service].stopMayBeAbandoned && stopCalled != nil)
                || life.contains { $0.kind == .startIgnoredCancellation }
            guard !abandoned else { continue }
            let began = life.first { $0.kind == .startCalled }?.sequence ?? added.sequence
            if let next = calls.first(where: {
                $0.service == service && $0.kind == .startCalled && $0.life == added.life + 1
            }), next.sequence < end.sequence {
                violations.append("[task outlived its life] a task of \(lifeName) ended after start \(next.life) began")
            }
            for (dependent, dependency) in trees.edges where dependent == service {
                if let stop = calls.first(where: {
                    $0.service == dependency && $0.kind == .stopCalled && $0.sequence > began
                }), stop.sequence < end.sequence {
                    violations.append(
                        "[task outlived its life] a task of \(lifeName) ended after its dependency s\(dependency)'s "
                            + "stop() was called")
                }
            }
        }
    }

    /// A task failure that fails a tree (its event says the service was starting or running) is not
    /// one of an earlier life than a start already begun: a task of an earlier life fails nothing.
    private mutating func checkTaskFailureEvents(_ driven: DrivenFacts) {
        for (position, tree) in driven.trees.enumerated() {
            for event in tree.events where event.kind == .taskFailed && !event.isDriverMarker {
                guard event.from == .starting || event.from == .running,
                    let fault = event.error as? InjectedFault, fault.kind == .task
                else { continue }
                if !taskFailedBeforeALaterLife(fault) {
                    violations.append(
                        "[earlier life] tree \(position): a task of s\(fault.index)'s start \(fault.life) failed the "
                            + "tree while \(event.service) was \(event.from), after a later start had begun")
                }
            }
        }
    }

    /// Every waiter returns; `runner.wait()` returns normally only after a stop was asked for; after a
    /// failed start it throws that start's error.
    private mutating func checkWaiters(_ driven: DrivenFacts) {
        let fired = Set(
            calls.compactMap { entry -> String? in
                let faults = trees.faults[entry.service]
                switch entry.kind {
                case .startThrew where faults.startThrows || faults.firstStartThrows: return "start \(entry.service)"
                case .stopThrew where faults.stopThrows: return "stop \(entry.service)"
                case .taskThrew: return "task \(entry.service) \(entry.life)"
                default: return nil
                }
            })
        var ended: [Int: (sequence: Int, failure: (any Error)?)] = [:]
        for entry in driven.driver {
            if case .waitEnded(let number, let failure) = entry.action { ended[number] = (entry.sequence, failure) }
        }
        for entry in driven.driver {
            guard case .waitCalled(let number) = entry.action else { continue }
            let tree = entry.tree
            let role = number % 10
            let onRunner: Bool
            let what: String
            switch role {
            case 5:
                (onRunner, what) = (true, "runner.wait()")
            case 6:
                (onRunner, what) = (true, "runner.wait() after start() threw")
            default:
                switch driven.trees[tree].driving.waiters[role].target {
                case .runner: (onRunner, what) = (true, "runner.wait() (at a random moment)")
                case .service(let index): (onRunner, what) = (false, "s\(index).wait() (at a random moment)")
                }
            }
            guard let end = ended[number] else {
                violations.append("[waiter hung] tree \(tree): \(what) never returned")
                continue
            }
            if let failure = end.failure {
                if let refusal = failure as? LifecycleError, refusal == .notStarted(driven.trees[tree].rootID) {
                    continue
                }
                if failure is InjectedFault {
                    checkThrown(failure, by: "tree \(tree)'s \(what)", fired: fired, tree: tree)
                }
            } else if onRunner, !stopsAsked(of: tree, driven).contains(where: { $0 < end.sequence }) {
                violations.append(
                    "[wait returned with no stop] tree \(tree): \(what) returned normally, yet no stop was asked for")
            }
            if role == 6 { checkWaitAfterFailedStart(tree: tree, end: end, driven) }
        }
    }

    /// `wait()` after `start()` threw throws what `start()` threw (when no stop was asked for first).
    private mutating func checkWaitAfterFailedStart(
        tree: Int, end: (sequence: Int, failure: (any Error)?), _ driven: DrivenFacts
    ) {
        let startEnded = driven.driver.first { entry in
            guard entry.tree == tree, case .startEnded = entry.action else { return false }
            return true
        }
        guard let startEnded, case .startEnded(let startFailure?) = startEnded.action,
            !(startFailure is CancellationError),
            !stopsAsked(of: tree, driven).contains(where: { $0 < startEnded.sequence })
        else { return }
        let thrown = end.failure.map { "\($0)" }
        if thrown != "\(startFailure)" {
            violations.append(
                "[wait after a failed start] tree \(tree): start() threw \(startFailure), then wait() "
                    + (thrown.map { "threw \($0)" } ?? "returned normally"))
        }
    }

    /// A refused call is refused as it must be, and changes nothing: no stop request comes of it.
    private mutating func checkRefusals(_ driven: DrivenFacts) {
        for entry in driven.driver {
            if case .refused(let what, correctly: false) = entry.action {
                violations.append("[refused call] tree \(entry.tree): \(what)")
            }
        }
        for (position, tree) in driven.trees.enumerated() where tree.driving.refusesFirst {
            guard let marker = tree.events.firstIndex(where: \.isDriverMarker) else { continue }
            if let cause = tree.events[..<marker].first(where: { $0.stopCause != nil }) {
                violations.append(
                    "[refused call] tree \(position): a refused stop() before start() emitted \(cause)")
            }
        }
    }

    /// The cause of a stop is emitted before the first `running → stopping` of that stop (DESIGN §6):
    /// in a tree whose root ran, the first such transition after the root's `starting → running`.
    /// A tree with a restart is left out: the stops of a restart (DESIGN §10) have no cause, and the
    /// events do not tell them from the tree's own stop (the tree may stop in the restart's backoff).
    private mutating func checkCauses(_ driven: DrivenFacts) {
        for (position, tree) in driven.trees.enumerated() {
            let events = tree.events.filter { !$0.isDriverMarker }
            guard
                !events.contains(where: { if case .restartScheduled = $0.kind { true } else { false } }),
                let ran = events.firstIndex(where: {
                    $0.service == tree.rootID && $0.isTransition && $0.from == .starting && $0.to == .running
                }),
                let stopping = events[ran...].firstIndex(where: {
                    $0.isTransition && $0.from == .running && $0.to == .stopping
                })
            else { continue }
            if !events[..<stopping].contains(where: { $0.stopCause != nil }) {
                violations.append(
                    "[cause after stop] tree \(position) (\(tree.driving.mode)): \(events[stopping]) came before "
                        + "any stop cause")
            }
        }
    }

    /// How a tree's driving ended: in time; its events finished; a task failure stopped it by itself
    /// and was thrown; concurrent `stop()`s agreed.
    private mutating func checkEnding(of tree: DrivenTree, at position: Int, _ driven: DrivenFacts) {
        let mode = tree.driving.mode
        guard let outcome = tree.outcome else {
            violations.append("[hung] tree \(position) (\(mode)) did not end within \(trees.timeBound)")
            return
        }
        if !tree.eventsFinished {
            violations.append("[hung] tree \(position) (\(mode)) ended, but its event stream never finished")
        }
        if tree.stoppedByItself == false {
            violations.append(
                "[no self-stop] tree \(position) (\(mode)): a background task failed it (wait() threw), yet it "
                    + "did not stop by itself within \(FaultRun.selfStopLimit)")
        }
        // A restart scheduled before this tree's runner began to watch shows in the other tree only.
        let otherTreeRestarted = driven.trees.indices.contains { other in
            other != position && driven.trees[other].events.contains { $0.kind.isRestartScheduled }
        }
        if mode == .run || mode == .withRunning, case .success = outcome,
            let index = tree.events.indices.first(where: {
                isLost(failure: $0, in: tree.events, otherTreeRestarted: otherTreeRestarted)
            })
        {
            let failure = tree.events[index]
            let next = tree.events[(index + 1)...].filter { $0.service == failure.service && $0.isTransition }
                .prefix(2).map { "\($0.from) → \($0.to)" }
            violations.append(
                "[task failure lost] tree \(position) (\(mode)) returned normally, yet \(failure) (while "
                    + "\(failure.from)) failed it; its next transitions: \(next)")
        }
        var stops: [String] = []
        for entry in driven.driver where entry.tree == position {
            guard case .stopEnded(let failure) = entry.action else { continue }
            stops.append(failure.map { "\($0)" } ?? "returned")
        }
        if Set(stops).count > 1 {
            violations.append("[stops disagree] tree \(position): its stop() calls ended \(stops)")
        }
    }

    /// Whether the event at `index` is a task failure that should have failed the tree: one of a
    /// service that starts or runs, not taken by a restart (DESIGN §10: the next event of the
    /// service is its `restartScheduled`, or, when a restart was scheduled before, the failure joined
    /// that restart: the service stops next, or this tree let it go to the other tree still holding it;
    /// a failure while its start is in flight joins it too: the restart stops it once that start
    /// returned, so `starting → running` may come first; a failure while a restart's start that
    /// failed winds down is only reported).
    private func isLost(failure index: Int, in events: [LifecycleEvent], otherTreeRestarted: Bool) -> Bool {
        let failure = events[index]
        guard failure.kind == .taskFailed, !failure.isDriverMarker,
            failure.from == .starting || failure.from == .running
        else { return false }
        let isRestart = { (event: LifecycleEvent) in if case .restartScheduled = event.kind { true } else { false } }
        // A stop cause names the root and may come in between, from another thread.
        let later = events[(index + 1)...].filter { $0.service == failure.service && $0.stopCause == nil }
        if let next = later.first, isRestart(next) { return false }
        let restarted = otherTreeRestarted || events[..<index].contains(where: isRestart)
        var transitions = later.filter(\.isTransition)[...]
        if failure.from == .starting, let first = transitions.first, first.from == .starting {
            // A restart's start that threw (or was let go by a stopping tree) reports the failures
            // of its life's tasks while they wind down, before its `starting → failed`: that
            // start's outcome decides, as a first start's does (DESIGN §4, §10).
            if restarted, first.to == .failed { return false }
            if first.to == .running { transitions = transitions.dropFirst() }
        }
        let joinedARestart = restarted && transitions.first.map { $0.from == .running && $0.to == .stopping } != false
        return !joinedARestart
    }

    /// A `stop()` called from inside the tree (a start, a task, a stop) returns.
    private mutating func checkInnerStops() {
        var open: [Int: Int] = [:]
        for entry in calls {
            if entry.kind == .innerStopCalled { open[entry.service, default: 0] += 1 }
            if entry.kind == .innerStopReturned { open[entry.service, default: 0] -= 1 }
        }
        for (service, count) in open.sorted(by: { $0.key < $1.key }) where count > 0 {
            let place = trees.faults[service].stopsItsTree.map { "\($0)" } ?? "stop()"
            violations.append("[inner stop hung] s\(service): \(place) of its own tree never returned")
        }
    }
}

extension LifecycleEvent.Kind {
    /// Whether this is a `restartScheduled` event (DESIGN §10).
    var isRestartScheduled: Bool {
        if case .restartScheduled = self { return true }
        return false
    }
}
