@testable import Lifecycle

/// Checks DESIGN §4's invariants over what the services recorded and what the runners emitted.
struct InvariantCheck {
    let trees: TreeFacts
    let calls: [FaultRecorder.Entry]
    let events: [[LifecycleEvent]]
    let outcomes: [Result<Void, any Error>]
    let elapsed: Duration
    /// How the trees were driven (the async suite); `nil` for runs without a driver log.
    let driven: DrivenFacts?
    var violations: [String] = []

    /// Where a service is, as its own calls tell. A start that ignored its cancellation is
    /// abandoned (`abandonedStart`); if it then returns, its service is up unheld (`lateRunning`)
    /// until its `stop()` (`lateStopping`), which must come right away.
    enum Phase: Equatable { case down, starting, running, stopping, abandonedStart, lateRunning, lateStopping }

    init(
        trees: TreeFacts, calls: [FaultRecorder.Entry], events: [[LifecycleEvent]],
        outcomes: [Result<Void, any Error>], elapsed: Duration, driven: DrivenFacts? = nil
    ) {
        self.trees = trees
        self.calls = calls
        self.events = events
        self.outcomes = outcomes
        self.elapsed = elapsed
        self.driven = driven
        checkCallSequences()
        checkLivesDoNotOverlap()
        checkOrder()
        checkEvents()
        checkOutcomes()
        if elapsed > trees.timeBound { violations.append("took \(elapsed), more than \(trees.timeBound)") }
        if let driven { checkDriven(driven) }
    }

    /// The calls of one service that the phase walk reads. A hanging start or stop is abandoned at
    /// its time limit; its late return after cancellation is not part of the walk.
    private func walk(of index: Int) -> [FaultRecorder.Entry] {
        let faults = trees.faults[index]
        return calls.filter { entry in
            guard entry.service == index else { return false }
            switch entry.kind {
            case .startCalled, .startReturned, .stopCalled, .startIgnoredCancellation: return true
            case .startThrew: return !faults.startHangs
            case .stopReturned, .stopThrew: return !faults.stopMayBeAbandoned
            default: return false
            }
        }
    }

    private func next(_ phase: Phase, _ kind: FaultRecorder.Kind, faults: Faults) -> Phase? {
        switch (phase, kind) {
        case (.down, .startCalled): faults.startHangs ? .down : .starting
        case (.starting, .startReturned): .running
        case (.starting, .startThrew): .down
        case (.starting, .startIgnoredCancellation): .abandonedStart
        case (.abandonedStart, .startReturned): .lateRunning
        case (.abandonedStart, .startThrew): .down
        case (.lateRunning, .stopCalled): faults.stopMayBeAbandoned ? .down : .lateStopping
        case (.lateStopping, .stopReturned), (.lateStopping, .stopThrew): .down
        case (.running, .stopCalled): faults.stopMayBeAbandoned ? .down : .stopping
        case (.stopping, .stopReturned), (.stopping, .stopThrew): .down
        default: nil
        }
    }

    /// Each successfully started service stopped exactly once; no stop without a successful start.
    private mutating func checkCallSequences() {
        for (index, faults) in trees.faults.enumerated() {
            var phase = Phase.down
            for entry in walk(of: index) {
                guard let after = next(phase, entry.kind, faults: faults) else {
                    violations.append("s\(index) [\(faults)]: \(entry.kind) while \(phase)")
                    break
                }
                phase = after
            }
            if phase != .down { violations.append("s\(index) [\(faults)] ended \(phase), not stopped") }
        }
    }

    /// No `start()` of a service while an earlier `stop()` of it is still in flight, even one
    /// abandoned at its timeout (DESIGN §10: a restart never begins a life over it). The one
    /// exception is by design (DESIGN §4): the other tree starting a shared service whose stop it
    /// abandoned. (A start over an abandoned start is caught by the phase walk.)
    private mutating func checkLivesDoNotOverlap() {
        for (index, faults) in trees.faults.enumerated() {
            let isShared = driven.map { $0.owner[index] == nil } ?? true
            if faults.stopMayBeAbandoned && isShared { continue }
            var stopsInFlight = 0
            for entry in calls where entry.service == index {
                switch entry.kind {
                case .stopCalled: stopsInFlight += 1
                case .stopReturned, .stopThrew: stopsInFlight -= 1
                case .startCalled where stopsInFlight > 0:
                    violations.append(
                        "[lives overlap] s\(index) [\(faults)]: start() of life \(entry.life) while a stop() was in flight"
                    )
                default: break
                }
            }
        }
    }

    /// The phase of a service just before the call with sequence number `sequence`.
    private func phase(of index: Int, before sequence: Int) -> Phase {
        let faults = trees.faults[index]
        var phase = Phase.down
        for entry in walk(of: index) where entry.sequence < sequence {
            phase = next(phase, entry.kind, faults: faults) ?? phase
        }
        return phase
    }

    /// Every dependency runs before its dependent's start, and stops only after its dependents stopped.
    private mutating func checkOrder() {
        for (dependent, dependency) in trees.edges {
            for entry in calls where entry.service == dependent && entry.kind == .startCalled {
                let state = phase(of: dependency, before: entry.sequence)
                if state != .running {
                    violations.append("s\(dependent) started while its dependency s\(dependency) was \(state)")
                }
            }
            for entry in calls where entry.service == dependency && entry.kind == .stopCalled {
                let state = phase(of: dependent, before: entry.sequence)
                if state == .running || state == .starting || state == .stopping {
                    violations.append("s\(dependency) stopped while its dependent s\(dependent) was \(state)")
                }
            }
        }
    }

    /// Only legal transitions, and the events agree with the recorded calls.
    private mutating func checkEvents() {
        let all = events.flatMap { $0 }.filter(\.isTransition)
        for event in all where !event.from.canMove(to: event.to) { violations.append("illegal event \(event)") }
        if events.count == 1 {
            var last: [ServiceID: ServiceState] = [:]
            for event in all {
                if let previous = last[event.service], previous != event.from {
                    violations.append("\(event.service) jumped from \(previous) to \(event)")
                }
                last[event.service] = event.to
            }
        }
        // A restart's transitions go to every tree holding the service (DESIGN §10): a service of
        // both trees may show them twice.
        let restarted = events.joined().contains { if case .restartScheduled = $0.kind { true } else { false } }
        for index in trees.faults.indices {
            let mine = all.filter { $0.service.name == "s\(index)" }
            let seenTwice = restarted && events.count > 1 && driven.map { $0.owner[index] == nil } ?? false
            let recorded = calls.filter { $0.service == index }
            func count(_ kind: FaultRecorder.Kind) -> Int { recorded.count { $0.kind == kind } }
            let pairs = [
                ("starting", mine.count { $0.to == .starting }, count(.startCalled)),
                ("running", mine.count { $0.to == .running }, count(.startReturned)),
                ("stopping", mine.count { $0.to == .stopping }, count(.stopCalled)),
            ]
            // A start abandoned or timed out (`starting → failed`) that returns late has no
            // `→ running`, and its stop no `running → stopping`: the late stop emits nothing. Any start
            // may be late on a loaded machine (cancelled by a stop, it gets only its service's
            // `gracefulShutdownTimeout` to end), not only one that ignores its cancellation.
            let late = mine.count { $0.from == .starting && $0.to == .failed && Self.isAbandonedOrTimedOut($0.error) }
            let checked = trees.faults[index].startIgnoresCancellation ? Array(pairs.prefix(1)) : pairs
            for (state, emitted, called) in checked
            where emitted != called && !(seenTwice && emitted > called && emitted <= 2 * called)
                && !(state != "starting" && emitted < called && called - emitted <= late)
            {
                violations.append("s\(index): \(emitted) events to \(state) but \(called) matching calls")
            }
        }
    }

    /// Whether a start failed by being abandoned or by passing its `startTimeout`: its `start()`
    /// may still return, and is then stopped without events.
    static func isAbandonedOrTimedOut(_ error: (any Error)?) -> Bool {
        switch error as? LifecycleError {
        case .startAbandoned, .startTimedOut: true
        default: false
        }
    }

    /// A run throws only a fault that fired (or a timeout of a hanging service, or a cancellation).
    private mutating func checkOutcomes() {
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
        for (position, outcome) in outcomes.enumerated() {
            guard case .failure(let error) = outcome else { continue }
            checkThrown(error, by: "tree \(position)", fired: fired, tree: position)
        }
        // The first failure: with exactly one start or task fault and nothing else, it is what was
        // thrown, by `run()` and `withRunning` (a tree driven by `start()` may meet a stop first).
        let hangs = trees.faults.contains(where: \.mayTimeOut)
        let startOrTask = fired.filter { !$0.hasPrefix("stop") }
        if startOrTask.count == 1, fired.count == 1, !hangs, !trees.cancels {
            for (position, outcome) in outcomes.enumerated() {
                guard case .failure(let error) = outcome else { continue }
                if let mode = driven?.trees[position].driving.mode, mode != .run, mode != .withRunning { continue }
                guard let fault = error as? InjectedFault, Self.key(of: fault) == startOrTask.first else {
                    violations.append("tree \(position) threw \(error), not the one failure \(startOrTask.first!)")
                    continue
                }
            }
        }
    }

    /// What `fired` calls an injected fault: `start 3`, `stop 3`, `task 3 2` (a task of the second start).
    static func key(of fault: InjectedFault) -> String {
        switch fault.kind {
        case .start: "start \(fault.index)"
        case .stop: "stop \(fault.index)"
        case .task: "task \(fault.index) \(fault.life)"
        }
    }

    /// An error a tree (or a waiter of it) threw must be one the run could throw.
    mutating func checkThrown(_ error: any Error, by thrower: String, fired: Set<String>, tree: Int) {
        switch error {
        case let fault as InjectedFault:
            let key = Self.key(of: fault)
            if !fired.contains(key) {
                violations.append("\(thrower) threw \(key), which never fired")
            } else if fault.kind == .task, !taskFailedBeforeALaterLife(fault) {
                violations.append(
                    "[earlier life] \(thrower) threw the failure of a task of s\(fault.index)'s start \(fault.life), "
                        + "which the task outlived: a later start had begun before it threw")
            }
        case LifecycleError.startTimedOut(let id, _), LifecycleError.stopTimedOut(let id, _),
            LifecycleError.startAbandoned(let id):
            let faults = trees.faults.indices.first { "s\($0)" == id.name }.map { trees.faults[$0] }
            if faults?.mayTimeOut != true {
                violations.append("\(thrower) threw a timeout of \(id), which does not hang")
            }
        case is CancellationError:
            checkCancellation(thrownBy: thrower, fired: fired, tree: tree)
        default:
            violations.append("\(thrower) threw an unexpected \(error)")
        }
    }

    /// A cancellation is thrown only when something cancelled: the driver, or a stop asked for while starting.
    private mutating func checkCancellation(thrownBy thrower: String, fired: Set<String>, tree position: Int) {
        guard let driven, driven.trees.indices.contains(position) else {
            if !trees.cancels && fired.isEmpty {
                violations.append("\(thrower) threw CancellationError without a cancellation")
            }
            return
        }
        let tree = driven.trees[position]
        switch tree.driving.mode {
        case .run, .withRunning:
            if !trees.cancels && fired.isEmpty && !tree.driving.cancels {
                violations.append("\(thrower) threw CancellationError without a cancellation")
            }
        case .startWaitStop, .startStop:
            // start() throws CancellationError when a stop was asked for while it ran: only then.
            let ended = driven.driver.first { entry in
                guard entry.tree == position, case .startEnded = entry.action else { return false }
                return true
            }
            let before = ended?.sequence ?? Int.max
            guard !stopsAsked(of: position, driven).contains(where: { $0 < before }) else { return }
            let refused = driven.driver.contains { entry in
                guard entry.tree == position, case .refused = entry.action else { return false }
                return true
            }
            violations.append(
                (refused ? "[refused call] " : "[cancelled without a stop] ")
                    + "\(thrower)'s start() threw CancellationError, yet no stop was asked of it"
                    + (refused ? " (only a refused stop() before start())" : ""))
        }
    }

    /// Whether the task failure `fault` was recorded before a later start of its service began: a
    /// task of an earlier life must never fail the trees of a later one. (Its own life may be ending
    /// as it throws: a failure racing its start's cancellation may still fail that start's tree.)
    func taskFailedBeforeALaterLife(_ fault: InjectedFault) -> Bool {
        guard
            let threw = calls.first(where: {
                $0.service == fault.index && $0.life == fault.life && $0.kind == .taskThrew
            })
        else { return false }
        return !calls.contains {
            $0.service == fault.index && $0.kind == .startCalled && $0.life > fault.life && $0.sequence < threw.sequence
        }
    }

    /// The sequence numbers at which a stop was asked of a tree: by the driver, or by one of its services.
    func stopsAsked(of tree: Int, _ driven: DrivenFacts) -> [Int] {
        let byDriver = driven.driver.compactMap { entry -> Int? in
            guard entry.tree == tree, case .stopIssued = entry.action else { return nil }
            return entry.sequence
        }
        let byServices = calls.filter { $0.kind == .innerStopCalled && driven.owner[$0.service] == tree }.map(
            \.sequence)
        return byDriver + byServices
    }
}

/// What the invariant check needs to know of a run's trees, async or blocking.
struct TreeFacts {
    /// The faults of service `s<i>`.
    let faults: [Faults]
    /// Every dependency edge, over service indices.
    let edges: [(dependent: Int, dependency: Int)]
    /// The longest the run may take.
    let timeBound: Duration
    /// Whether the driver cancelled the runs instead of requesting a stop.
    let cancels: Bool
}
