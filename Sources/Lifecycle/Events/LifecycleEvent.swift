/// Why a tree was asked to stop.
public enum StopCause: Sendable, Hashable, CustomStringConvertible {
    /// `requestStop()` or `stop()` was called.
    case requested
    /// A signal arrived (its number, for example `SIGTERM`'s 15).
    case signal(Int32)
    /// A second signal arrived while stopping: the stops still running are cancelled.
    case escalation(Int32)
    /// A background task failed, or the tree failed some other way.
    case failure
    /// The task running the tree was cancelled.
    case cancellation
    /// The stop reached 90 % of the runner's `shutdownDeadline`: it escalates by itself, as a second
    /// signal would, so the process exits before the orchestrator kills it (DESIGN §13).
    case deadline

    /// `requested`, `signal 15`, `escalation 2`, `failure`, `cancellation`, `deadline`.
    public var description: String {
        switch self {
        case .requested: "requested"
        case .signal(let number): "signal \(number)"
        case .escalation(let number): "escalation \(number)"
        case .failure: "failure"
        case .cancellation: "cancellation"
        case .deadline: "deadline"
        }
    }
}

/// One thing that happened to one service: a transition, a background-task failure, or a stop's cause.
///
/// Transitions have `from != to`. Events that change no state (a failed background task, the cause
/// of a stop) have `from == to` and say what happened in ``kind``.
public struct LifecycleEvent: Sendable, CustomStringConvertible {
    /// What an event reports.
    public enum Kind: Sendable, Hashable {
        /// The service moved from ``LifecycleEvent/from`` to ``LifecycleEvent/to``.
        case transition
        /// One of the service's background tasks threw; ``LifecycleEvent/error`` holds the error.
        case taskFailed
        /// The tree whose root is ``LifecycleEvent/service`` was asked to stop, for this reason.
        case stopRequested(StopCause)
        /// A background task of the service failed, or its `start()` threw during a restart, and its
        /// ``Service/restartPolicy`` restarts it (DESIGN §10): the `attempt`-th restart within the
        /// policy's window, after `delay`.
        case restartScheduled(attempt: Int, delay: Duration)
        /// The stop of the tree under ``LifecycleEvent/service`` has lasted longer than the runner's
        /// `stallReportInterval`: these services' `stop()` is still running (repeated every interval).
        case shutdownStalled(stopping: [ServiceID])
        /// The tree under ``LifecycleEvent/service`` drains before it stops: every running service's
        /// `drain()` was called (the runner's `drainTimeout` is above zero).
        case draining
    }

    /// The service the event is about (the root, for a stop's cause).
    public let service: ServiceID
    /// The state before.
    public let from: ServiceState
    /// The state after; equal to ``from`` when no state changed.
    public let to: ServiceState
    /// The error, on a failure: `starting → failed`, `stopping → failed`, ``Kind/taskFailed``.
    public let error: (any Error)?
    /// When it happened: monotonic time since the runner was created, on the runner's clock.
    public let time: Duration
    /// What the event reports.
    public let kind: Kind

    /// Creates an event; the package makes these, tests and replays may too.
    public init(
        service: ServiceID, from: ServiceState, to: ServiceState, error: (any Error)? = nil, time: Duration,
        kind: Kind = .transition
    ) {
        self.service = service
        self.from = from
        self.to = to
        self.error = error
        self.time = time
        self.kind = kind
    }

    /// The event saying why the tree under `root` stops; it changes no state, so `from == to == state`.
    static func stopRequested(_ cause: StopCause, root: ServiceID, state: ServiceState, time: Duration) -> Self {
        LifecycleEvent(service: root, from: state, to: state, time: time, kind: .stopRequested(cause))
    }

    /// Whether the event moved a state (`from != to`).
    public var isTransition: Bool { kind == .transition }

    /// The cause, for a ``Kind/stopRequested(_:)`` event.
    public var stopCause: StopCause? {
        if case .stopRequested(let cause) = kind { return cause }
        return nil
    }

    /// `Database: starting → running`, with the error when there is one.
    public var description: String {
        let what: String
        switch kind {
        case .transition: what = "\(from) → \(to)"
        case .taskFailed: what = "background task failed"
        case .stopRequested(let cause): what = "stop requested (\(cause))"
        case .restartScheduled(let attempt, let delay): what = "restart \(attempt) scheduled in \(delay)"
        case .shutdownStalled(let stopping):
            what = "shutdown stalled, still stopping: \(stopping.map(\.name).joined(separator: ", "))"
        case .draining: what = "draining"
        }
        guard let error else { return "\(service): \(what)" }
        return "\(service): \(what): \(error)"
    }
}
