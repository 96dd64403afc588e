/// What a fault-injection campaign did, for RELIABILITY.md: trees, services, faults that fired,
/// how the trees were driven, and the violations by invariant.
struct FaultStatistics: CustomStringConvertible {
    /// One row of the table, in the order printed.
    enum Row: Int, CaseIterable, Comparable {
        case trees, services, treesSharingServices
        case startThrew, startTimedOut, stopThrew, stopTimedOut, taskThrew
        case stopRequests, cancellations, cancellationsWhileStopping
        case drivenByRun, drivenByStartWaitStop, drivenByStartStop, drivenByWithRunning
        case taskThenStartThrew, taskThenStartTimedOut, taskThenStartCancelled
        case startIgnoredCancellation
        case stopIgnoredCancellation, restartedDuringAbandonedStop
        case waitsOnRunner, waitsOnService, waitsAfterFailedStart
        case stopsFromSeveralThreads
        case hugeTimeouts
        case stopFromStart, stopFromTask, stopFromStop
        case refusedCalls
        case slowClocks
        case servicesWithRestartPolicy, restartsScheduled, restartStarts, restartsFailedTheTree
        case violations

        static func < (lhs: Row, rhs: Row) -> Bool { lhs.rawValue < rhs.rawValue }

        var label: String {
            switch self {
            case .trees: "runs (one or two trees)"
            case .services: "services"
            case .treesSharingServices: "runs with two trees sharing services"
            case .startThrew: "start() threw"
            case .startTimedOut: "start() passed startTimeout"
            case .stopThrew: "stop() threw"
            case .stopTimedOut: "stop() passed gracefulShutdownTimeout"
            case .taskThrew: "background task threw"
            case .stopRequests: "requestStop() at a random moment"
            case .cancellations: "run task cancelled at a random moment"
            case .cancellationsWhileStopping: "run task also cancelled while stopping"
            case .drivenByRun: "trees driven by run()"
            case .drivenByStartWaitStop: "trees driven by start(), wait(), stop()"
            case .drivenByStartStop: "trees driven by start(), stop() (nobody in wait())"
            case .drivenByWithRunning: "trees driven by withRunning"
            case .taskThenStartThrew: "start() added a task, then threw"
            case .taskThenStartTimedOut: "start() added a task, then passed startTimeout"
            case .taskThenStartCancelled: "start() added a task, then was cancelled"
            case .startIgnoredCancellation: "start() in a Parallel stage ignored its cancellation"
            case .stopIgnoredCancellation: "stop() ignored its cancellation (abandoned, returned late)"
            case .restartedDuringAbandonedStop: "service restarted by the other tree while its abandoned stop() ran"
            case .waitsOnRunner: "runner.wait() at a random moment"
            case .waitsOnService: "service.wait() at a random moment"
            case .waitsAfterFailedStart: "runner.wait() after start() threw"
            case .stopsFromSeveralThreads: "trees asked to stop from 2 to 4 threads at once"
            case .hugeTimeouts: "services with a timeout of .seconds(Int64.max) started"
            case .stopFromStart: "stop() called from inside a start()"
            case .stopFromTask: "stop() called from inside a background task"
            case .stopFromStop: "stop() called from inside a stop()"
            case .refusedCalls: "refused calls (stop()/wait() before start(), start() twice)"
            case .slowClocks: "runs on a clock with slow readings"
            case .servicesWithRestartPolicy: "services with a restart policy"
            case .restartsScheduled: "restarts scheduled (restartScheduled events, each tree holding the service)"
            case .restartStarts: "start() again by a restart (services of one tree)"
            case .restartsFailedTheTree: "trees failed by a task of a service with a restart policy (window full)"
            case .violations: "invariant violations"
            }
        }
    }

    private var counts: [Row: Int] = [:]
    /// Violations by the invariant they broke (the `[tag]` a violation begins with).
    private(set) var violationsByInvariant: [String: Int] = [:]

    subscript(row: Row) -> Int {
        get { counts[row] ?? 0 }
        set { counts[row] = newValue }
    }

    /// Counts what one run's services recorded.
    mutating func add(faults: [Faults], calls: [FaultRecorder.Entry], roots: Int, cancelled: Bool?) {
        self[.trees] += 1
        self[.services] += faults.count
        if roots > 1 { self[.treesSharingServices] += 1 }
        for entry in calls {
            let fault = faults[entry.service]
            switch entry.kind {
            case .startCalled where fault.startHangs: self[.startTimedOut] += 1
            case .startThrew where fault.startThrows || fault.firstStartThrows: self[.startThrew] += 1
            case .stopCalled where fault.stopHangs: self[.stopTimedOut] += 1
            case .stopThrew where fault.stopThrows: self[.stopThrew] += 1
            case .taskThrew: self[.taskThrew] += 1
            default: break
            }
        }
        switch cancelled {
        case true?: self[.cancellations] += 1
        case false?: self[.stopRequests] += 1
        case nil: break
        }
    }

    /// Counts how the trees were driven and which of the newer faults fired.
    mutating func add(driven: DrivenFacts, calls: [FaultRecorder.Entry], trees: RandomTrees) {
        let modes: [DriveMode: Row] = [
            .run: .drivenByRun, .startWaitStop: .drivenByStartWaitStop, .startStop: .drivenByStartStop,
            .withRunning: .drivenByWithRunning,
        ]
        for tree in driven.trees {
            self[modes[tree.driving.mode]!] += 1
            if tree.driving.stops.count > 1 { self[.stopsFromSeveralThreads] += 1 }
        }
        if trees.plan.slowClock { self[.slowClocks] += 1 }
        addRestarts(driven: driven, calls: calls, trees: trees)
        let faults = trees.services.map(\.faults)
        var lives: [Int: [Int: [FaultRecorder.Kind]]] = [:]
        var lateStops: [Int: Int] = [:]
        for entry in calls {
            lives[entry.service, default: [:]][entry.life, default: []].append(entry.kind)
            let fault = faults[entry.service]
            switch entry.kind {
            case .startCalled where fault.hugeStartTimeout || fault.hugeGracefulShutdownTimeout:
                self[.hugeTimeouts] += 1
            case .startIgnoredCancellation: self[.startIgnoredCancellation] += 1
            case .stopCalled where fault.stopIgnoresCancellationFor != nil:
                self[.stopIgnoredCancellation] += 1
                lateStops[entry.service, default: 0] += 1
            case .stopReturned, .stopThrew: if lateStops[entry.service] != nil { lateStops[entry.service]! -= 1 }
            case .startCalled where (lateStops[entry.service] ?? 0) > 0: self[.restartedDuringAbandonedStop] += 1
            case .innerStopCalled:
                switch fault.stopsItsTree {
                case .fromStart?: self[.stopFromStart] += 1
                case .fromTask?: self[.stopFromTask] += 1
                case .fromStop?: self[.stopFromStop] += 1
                case nil: break
                }
            default: break
            }
        }
        for (service, byLife) in lives {
            for kinds in byLife.values where kinds.contains(.taskAdded) && kinds.contains(.startThrew) {
                guard kinds.firstIndex(of: .taskAdded)! < kinds.firstIndex(of: .startThrew)! else { continue }
                if faults[service].startHangs {
                    self[.taskThenStartTimedOut] += 1
                } else if faults[service].startThrows || faults[service].firstStartThrows {
                    self[.taskThenStartThrew] += 1
                } else {
                    self[.taskThenStartCancelled] += 1
                }
            }
        }
        for entry in driven.driver {
            switch entry.action {
            case .waitCalled(let number) where number % 10 == 6: self[.waitsAfterFailedStart] += 1
            case .waitCalled(let number) where number % 10 < 5:
                switch driven.trees[entry.tree].driving.waiters[number % 10].target {
                case .runner: self[.waitsOnRunner] += 1
                case .service: self[.waitsOnService] += 1
                }
            case .refused: self[.refusedCalls] += 1
            default: break
            }
        }
    }

    /// Counts a run's violations: the run once, and each invariant it broke.
    mutating func addViolations(_ violations: [String]) {
        guard !violations.isEmpty else { return }
        self[.violations] += 1
        var broken: Set<String> = []
        for violation in violations {
            if violation.hasPrefix("["), let end = violation.firstIndex(of: "]") {
                broken.insert(String(violation[...end]))
            } else {
                broken.insert("[§4 invariants]")
            }
        }
        for invariant in broken { violationsByInvariant[invariant, default: 0] += 1 }
    }

    static func + (lhs: FaultStatistics, rhs: FaultStatistics) -> FaultStatistics {
        var sum = lhs
        for (row, count) in rhs.counts { sum[row] += count }
        for (invariant, count) in rhs.violationsByInvariant {
            sum.violationsByInvariant[invariant, default: 0] += count
        }
        return sum
    }

    var description: String {
        // The driven rows exist only for runs driven by `FaultRun`; the blocking suite counts refusals alone.
        let isExtended = counts.keys.contains { $0 >= .drivenByRun && $0 <= .drivenByWithRunning }
        var lines = Row.allCases.filter { isExtended || counts[$0] != nil || $0 <= .taskThrew || $0 == .violations }
            .map { "| \($0.label) | \(self[$0]) |" }
        for (invariant, count) in violationsByInvariant.sorted(by: { $0.key < $1.key }) {
            lines.append("| runs breaking \(invariant) | \(count) |")
        }
        return lines.joined(separator: "\n")
    }
}

extension FaultStatistics {
    /// Counts the restarts of one run (DESIGN §10).
    fileprivate mutating func addRestarts(driven: DrivenFacts, calls: [FaultRecorder.Entry], trees: RandomTrees) {
        let faults = trees.services.map(\.faults)
        self[.servicesWithRestartPolicy] += faults.count { $0.restartPolicy != .never }
        for tree in driven.trees {
            for event in tree.events {
                if case .restartScheduled = event.kind { self[.restartsScheduled] += 1 }
            }
            if case .failure(let fault as InjectedFault)? = tree.outcome, fault.kind == .task,
                faults[fault.index].restartPolicy != .never
            {
                self[.restartsFailedTheTree] += 1
            }
        }
        self[.restartStarts] += calls.count {
            $0.kind == .startCalled && $0.life > 1 && driven.owner[$0.service] != nil
        }
    }
}
