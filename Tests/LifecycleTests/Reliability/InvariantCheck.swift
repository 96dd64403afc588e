@testable import Lifecycle

/// Checks DESIGN §4's invariants over what the services recorded and what the runners emitted.
struct InvariantCheck {
    let trees: TreeFacts
    let calls: [FaultRecorder.Entry]
    let events: [[LifecycleEvent]]
    let outcomes: [Result<Void, any Error>]
    let elapsed: Duration
    private(set) var violations: [String] = []

    enum Phase: Equatable { case down, starting, running, stopping }

    init(
        trees: TreeFacts, calls: [FaultRecorder.Entry], events: [[LifecycleEvent]],
        outcomes: [Result<Void, any Error>], elapsed: Duration
    ) {
        self.trees = trees
        self.calls = calls
        self.events = events
        self.outcomes = outcomes
        self.elapsed = elapsed
        checkCallSequences()
        checkOrder()
        checkEvents()
        checkOutcomes()
        if elapsed > trees.timeBound { violations.append("took \(elapsed), more than \(trees.timeBound)") }
    }

    /// The calls of one service that the phase walk reads. A hanging start or stop is abandoned at
    /// its time limit; its late return after cancellation is not part of the walk.
    private func walk(of index: Int) -> [FaultRecorder.Entry] {
        let faults = trees.faults[index]
        return calls.filter { entry in
            guard entry.service == index, entry.kind != .taskThrew else { return false }
            if faults.startHangs, entry.kind == .startThrew { return false }
            if faults.stopHangs, entry.kind == .stopReturned || entry.kind == .stopThrew { return false }
            return true
        }
    }

    private func next(_ phase: Phase, _ kind: FaultRecorder.Kind, faults: Faults) -> Phase? {
        switch (phase, kind) {
        case (.down, .startCalled): faults.startHangs ? .down : .starting
        case (.starting, .startReturned): .running
        case (.starting, .startThrew): .down
        case (.running, .stopCalled): faults.stopHangs ? .down : .stopping
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
        for index in trees.faults.indices {
            let mine = all.filter { $0.service.name == "s\(index)" }
            let recorded = calls.filter { $0.service == index }
            func count(_ kind: FaultRecorder.Kind) -> Int { recorded.count { $0.kind == kind } }
            let pairs = [
                ("starting", mine.count { $0.to == .starting }, count(.startCalled)),
                ("running", mine.count { $0.to == .running }, count(.startReturned)),
                ("stopping", mine.count { $0.to == .stopping }, count(.stopCalled)),
            ]
            for (state, emitted, called) in pairs where emitted != called {
                violations.append("s\(index): \(emitted) events to \(state) but \(called) matching calls")
            }
        }
    }

    /// A run throws only a fault that fired (or a timeout of a hanging service, or a cancellation).
    private mutating func checkOutcomes() {
        let fired = Set(
            calls.compactMap { entry -> String? in
                let faults = trees.faults[entry.service]
                switch entry.kind {
                case .startThrew where faults.startThrows: return "start \(entry.service)"
                case .stopThrew where faults.stopThrows: return "stop \(entry.service)"
                case .taskThrew: return "task \(entry.service)"
                default: return nil
                }
            })
        for (position, outcome) in outcomes.enumerated() {
            guard case .failure(let error) = outcome else { continue }
            switch error {
            case let fault as InjectedFault:
                let key = "\(fault.kind) \(fault.index)"
                if !fired.contains(key) { violations.append("tree \(position) threw \(key), which never fired") }
            case LifecycleError.startTimedOut(let id, _), LifecycleError.stopTimedOut(let id, _):
                let faults = trees.faults.indices.first { "s\($0)" == id.name }.map { trees.faults[$0] }
                if faults.map({ $0.startHangs || $0.stopHangs }) != true {
                    violations.append("tree \(position) threw a timeout of \(id), which does not hang")
                }
            case is CancellationError:
                if !trees.cancels && fired.isEmpty {
                    violations.append("tree \(position) threw CancellationError without a cancellation")
                }
            default:
                violations.append("tree \(position) threw an unexpected \(error)")
            }
        }
        let hangs = trees.faults.contains { $0.startHangs || $0.stopHangs }
        if fired.isEmpty, !hangs, !trees.cancels {
            for (position, outcome) in outcomes.enumerated() {
                if case .failure(let error) = outcome {
                    violations.append("tree \(position) threw \(error) with no fault")
                }
            }
        }
        // The first failure: with exactly one start or task fault and nothing else, it is what was thrown.
        let startOrTask = fired.filter { !$0.hasPrefix("stop") }
        if startOrTask.count == 1, fired.count == 1, !hangs, !trees.cancels {
            for (position, outcome) in outcomes.enumerated() {
                guard case .failure(let error) = outcome else { continue }
                guard let fault = error as? InjectedFault, "\(fault.kind) \(fault.index)" == startOrTask.first else {
                    violations.append("tree \(position) threw \(error), not the one failure \(startOrTask.first!)")
                    continue
                }
            }
        }
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
