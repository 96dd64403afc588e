import Lifecycle

/// One broken rule that ``InvariantChecker`` found, naming the service and what happened.
public struct InvariantViolation: Sendable, Hashable, CustomStringConvertible {
    /// The rules the checker enforces, each from the design contract (DESIGN §3–§5).
    public enum Rule: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Every transition is in the table: `from.canMove(to: to)` (§5).
        case legalTransition
        /// A service's transitions chain: each begins in the state the previous one ended in (§5).
        case continuousStates
        /// A service starts only while every dependency runs (§3).
        case dependenciesRunFirst
        /// A dependency stops only after every dependent in the tree has stopped (§3).
        case dependentsStopFirst
        /// A finished run leaves no service starting, running or stopping (§4: every successful
        /// start gets its stop).
        case stoppedAtTheEnd
        /// One `stop()` for each `start()` that returned: never a second (§4).
        case oneStopPerStart
        /// No `stop()` for a service whose `start()` did not return successfully (§4).
        case noStopWithoutStart
        /// No new `start()` while the previous life has not ended (§3: starts once, stops once).
        case oneLifeAtATime
        /// A service's background tasks have ended before its dependencies' `stop()` begins (§3).
        ///
        /// Not required of a service whose `stop()` was abandoned at its timeout: the lifecycle then
        /// cancels that life's tasks without waiting for them, so shutdown never waits on them.
        case tasksEndBeforeDependenciesStop
        /// A service's background tasks are cancelled only after its `stop()` returned (§3).
        case tasksCancelledAfterStop
        /// Every `start()` call shows as a `→ starting` event (§4: every call is visible as events).
        case callsVisibleAsEvents

        /// The rule's name.
        public var description: String { rawValue }
    }

    /// The rule broken.
    public let rule: Rule
    /// The service that broke it.
    public let service: ServiceID
    /// What happened, in a sentence that names the services and the event or call.
    public let message: String

    /// A violation of `rule` by `service`.
    public init(_ rule: Rule, _ service: ServiceID, _ message: String) {
        self.rule = rule
        self.service = service
        self.message = message
    }

    /// `[dependentsStopFirst] database began stopping while api was running (event 7)`.
    public var description: String { "[\(rule)] \(message)" }
}

/// What ``InvariantChecker`` found wrong with a run, with the whole transcript.
///
/// Its description lists every violation, then every event and every probe call, so a failing
/// test shows what actually happened.
public struct InvariantFailure: Error, Sendable, CustomStringConvertible {
    /// Every violation found, in the order found (events first, then calls).
    public let violations: [InvariantViolation]
    /// The events checked, one numbered line each.
    public let eventTranscript: String
    /// The probe calls checked, one line each; empty when no log was given.
    public let callTranscript: String

    /// The rules broken, each once, in the order found.
    public var rules: [InvariantViolation.Rule] {
        var seen: Set<InvariantViolation.Rule> = []
        return violations.map(\.rule).filter { seen.insert($0).inserted }
    }

    /// The violations, then the events, then the calls.
    public var description: String {
        var text = "\(violations.count) lifecycle invariant violation\(violations.count == 1 ? "" : "s"):\n"
        text += violations.map { "  - \($0)" }.joined(separator: "\n")
        text += "\nevents:\n\(eventTranscript)"
        if !callTranscript.isEmpty { text += "\nprobe calls:\n\(callTranscript)" }
        return text
    }
}
