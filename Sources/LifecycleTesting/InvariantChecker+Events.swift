import Lifecycle

extension InvariantChecker {
    /// The rules read from the events alone: legality, chaining, dependency order, and, for a
    /// finished run, that nothing was left up.
    func eventViolations(_ events: [LifecycleEvent], finished: Bool) -> [InvariantViolation] {
        var violations: [InvariantViolation] = []
        var states: [ServiceID: ServiceState] = [:]
        // Services in the order they first moved, so the end-of-run report has a stable order.
        var seen: [ServiceID] = []
        for (index, event) in events.enumerated() where event.isTransition {
            let service = event.service
            let name = Transcript.escaped(service.debugDescription)
            if !event.from.canMove(to: event.to) {
                violations.append(
                    InvariantViolation(
                        .legalTransition, service, "\(name) moved \(event.from) → \(event.to) (event \(index))"))
            }
            if let previous = states[service] {
                if previous != event.from {
                    violations.append(
                        InvariantViolation(
                            .continuousStates, service,
                            "\(name) was \(previous), then moved \(event.from) → \(event.to) (event \(index))"))
                }
            } else {
                seen.append(service)
            }
            if event.to == .starting {
                // A dependency never seen in these events may run in another tree: not ours to judge.
                for dependency in dependencies[service] ?? [] {
                    guard let state = states[dependency], state != .running else { continue }
                    violations.append(
                        InvariantViolation(
                            .dependenciesRunFirst, service,
                            "\(name) began starting while its dependency "
                                + "\(Transcript.escaped(dependency.debugDescription)) was \(state) (event \(index))"))
                }
            }
            if event.to == .stopping {
                for dependent in dependents[service] ?? [] {
                    guard let state = states[dependent], state == .starting || state == .running || state == .stopping
                    else { continue }
                    violations.append(
                        InvariantViolation(
                            .dependentsStopFirst, service,
                            "\(name) began stopping while its dependent "
                                + "\(Transcript.escaped(dependent.debugDescription)) was \(state) (event \(index))"))
                }
            }
            states[service] = event.to
        }
        guard finished else { return violations }
        for service in seen {
            guard let state = states[service], state == .starting || state == .running || state == .stopping else {
                continue
            }
            violations.append(
                InvariantViolation(
                    .stoppedAtTheEnd, service,
                    "\(Transcript.escaped(service.debugDescription)) was still \(state) when the run ended"))
        }
        return violations
    }
}
