/// Where a service is in its life.
///
/// The six states and the transition table (``successors``) are the one place where legality is
/// decided: the state machine, the coordinator, the blocking runner, the diagrams and the tests all
/// read it.
public enum ServiceState: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Never started, or not yet reached by a start.
    case idle
    /// Its `start()` is running (its dependencies are already running).
    case starting
    /// Its `start()` returned; it is held by at least one dependent or runner.
    case running
    /// Its `stop()` is running, or its background tasks are being cancelled.
    case stopping
    /// Its `stop()` returned and its background tasks ended.
    case stopped
    /// Its `start()` threw or timed out, or its `stop()` threw or timed out.
    case failed

    /// The states this one may move to, in a fixed order. This is the transition table.
    public var successors: [ServiceState] {
        switch self {
        case .idle, .stopped, .failed: [.starting]
        case .starting: [.running, .failed]
        case .running: [.stopping]
        case .stopping: [.stopped, .failed]
        }
    }

    /// Whether the table allows moving from this state to `next`.
    public func canMove(to next: ServiceState) -> Bool {
        successors.contains(next)
    }

    /// The state's name, as written in logs and diagrams.
    public var description: String { rawValue }
}

/// One legal step of the transition table: the state left and the state entered.
public struct Transition: Sendable, Hashable, CustomStringConvertible {
    /// The state left.
    public let from: ServiceState
    /// The state entered.
    public let to: ServiceState

    /// Creates a transition; it is not checked against the table (``ServiceState/canMove(to:)`` does that).
    public init(from: ServiceState, to: ServiceState) {
        self.from = from
        self.to = to
    }

    /// Every transition the table allows, in the order of `ServiceState.allCases` and ``ServiceState/successors``.
    public static var all: [Transition] {
        ServiceState.allCases.flatMap { from in from.successors.map { Transition(from: from, to: $0) } }
    }

    /// `from → to`.
    public var description: String { "\(from) → \(to)" }
}
