import Lifecycle

extension InvariantChecker {
    /// Where a probe is, as its own calls tell.
    enum Phase: Equatable, CustomStringConvertible {
        /// Never started, or its last start threw.
        case down
        /// Its last life ended with a stop.
        case stopped
        case starting
        case running
        case stopping

        var description: String {
            switch self {
            case .down: "down"
            case .stopped: "stopped"
            case .starting: "inside start()"
            case .running: "running"
            case .stopping: "inside stop()"
            }
        }

        /// Whether it is in a life that has not ended.
        var isUp: Bool { self == .starting || self == .running || self == .stopping }
    }

    /// The rules read from the probes' calls: one life at a time, one stop per successful start,
    /// dependency order on the real calls, and the background tasks.
    func callViolations(_ calls: [ProbeCall], finished: Bool) -> [InvariantViolation] {
        var violations: [InvariantViolation] = []
        var phases: [ServiceID: Phase] = [:]
        /// The background tasks begun and not yet ended, by service and life.
        var tasks: [ServiceID: Set<Int>] = [:]
        for call in calls {
            let service = call.service
            let name = Transcript.escaped(service.debugDescription)
            let script = scripts[service]
            let phase = phases[service] ?? .down
            func report(_ rule: InvariantViolation.Rule, _ message: String) {
                violations.append(InvariantViolation(rule, service, "\(name) \(message) (call #\(call.sequence))"))
            }
            switch (call.phase, call.kind) {
            case (.start, .began):
                // A new life may begin while an abandoned, hung start or stop is still inside the service.
                let abandoned =
                    (phase == .starting && script?.startHangs == true)
                    || (phase == .stopping && script?.stopHangs == true)
                if phase.isUp, !abandoned { report(.oneLifeAtATime, "start() called while \(phase)") }
                for dependency in dependencies[service] ?? [] {
                    guard let state = phases[dependency], state != .running else { continue }
                    report(
                        .dependenciesRunFirst,
                        "start() called while its dependency \(Transcript.escaped(dependency.debugDescription)) was \(state)"
                    )
                }
                phases[service] = .starting
            case (.start, .returned):
                phases[service] = .running
            case (.start, .threw):
                phases[service] = .down
            case (.stop, .began):
                switch phase {
                case .running: break
                case .stopped: report(.oneStopPerStart, "stop() called again after its stop (life \(call.life))")
                case .stopping: report(.oneStopPerStart, "stop() called while its stop() ran (life \(call.life))")
                case .down: report(.noStopWithoutStart, "stop() called though its start() did not succeed")
                case .starting: report(.noStopWithoutStart, "stop() called before its start() returned")
                }
                for dependent in dependents[service] ?? [] {
                    let state = phases[dependent] ?? .down
                    let dependentScript = scripts[dependent]
                    // Hung work the lifecycle abandoned may still be inside the dependent: allowed.
                    let abandoned =
                        (state == .starting && dependentScript?.startHangs == true)
                        || (state == .stopping && dependentScript?.stopHangs == true)
                    if state.isUp, !abandoned {
                        report(
                            .dependentsStopFirst,
                            "stop() called while its dependent \(Transcript.escaped(dependent.debugDescription)) was \(state)"
                        )
                    }
                    // The rule holds once the dependent's stop() returned; a stop abandoned at its
                    // timeout never returns, and the lifecycle only cancels that life's tasks (it does
                    // not wait for them), so they may still be ending.
                    let stopAbandoned = state == .stopping && dependentScript?.stopHangs == true
                    if let lives = tasks[dependent], !lives.isEmpty, dependentScript?.taskHangs != true, !stopAbandoned
                    {
                        report(
                            .tasksEndBeforeDependenciesStop,
                            "stop() called while a background task of its dependent "
                                + "\(Transcript.escaped(dependent.debugDescription)) still ran "
                                + "(life \(lives.sorted().map(String.init).joined(separator: ", ")))")
                    }
                }
                phases[service] = .stopping
            case (.stop, .returned), (.stop, .threw):
                phases[service] = .stopped
            case (.task, .began):
                tasks[service, default: []].insert(call.life)
            case (.task, .returned), (.task, .threw(cancelled: false)):
                tasks[service]?.remove(call.life)
            case (.task, .threw(cancelled: true)):
                tasks[service]?.remove(call.life)
                // Cancelled with its own life still up: only an abandoned, hung stop allows that.
                let abandoned = phase == .stopping && script?.stopHangs == true
                if phase.isUp, !abandoned {
                    report(.tasksCancelledAfterStop, "background task (life \(call.life)) cancelled while \(phase)")
                }
            }
        }
        guard finished else { return violations }
        // In call order of first appearance, for a stable report.
        var reported: Set<ServiceID> = []
        for call in calls where phases[call.service] == .running && reported.insert(call.service).inserted {
            violations.append(
                InvariantViolation(
                    .stoppedAtTheEnd, call.service,
                    "\(Transcript.escaped(call.service.debugDescription)) start() returned but stop() was never called")
            )
        }
        return violations
    }
}
