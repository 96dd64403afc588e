import Lifecycle

/// One call a ``ProbeService`` logged: its start, its stop or its background task beginning or ending.
public struct ProbeCall: Sendable, Equatable, CustomStringConvertible {
    /// The part of a service's life a call belongs to.
    public enum Phase: String, Sendable, Hashable {
        /// `start()`.
        case start
        /// `stop()`.
        case stop
        /// The background task the probe adds when its start succeeds.
        case task
    }

    /// How a call began or ended.
    public enum Kind: Sendable, Hashable {
        /// The call began.
        case began
        /// It returned normally.
        case returned
        /// It threw; `cancelled` when the error was `CancellationError`.
        case threw(cancelled: Bool)
    }

    /// The position in the log: every call of every probe sharing a log is numbered in one sequence.
    public let sequence: Int
    /// The probe.
    public let service: ServiceID
    /// Which start of the probe this call belongs to, from 1: its first start and the stop and
    /// task that follow it are life 1, the next start life 2, and so on.
    public let life: Int
    /// Start, stop or background task.
    public let phase: Phase
    /// Began, returned or threw.
    public let kind: Kind

    /// A logged call; ``ProbeService`` makes these, hand-made logs in tests may too.
    public init(sequence: Int, service: ServiceID, life: Int, phase: Phase, kind: Kind) {
        self.sequence = sequence
        self.service = service
        self.life = life
        self.phase = phase
        self.kind = kind
    }

    /// Whether the call ended (returned or threw).
    public var isEnd: Bool { kind != .began }

    /// `#12 database start returned (life 1)`.
    public var description: String {
        let what =
            switch kind {
            case .began: "began"
            case .returned: "returned"
            case .threw(let cancelled): cancelled ? "threw CancellationError" : "threw"
            }
        return "#\(sequence) \(Transcript.escaped(service.name)) \(phase) \(what) (life \(life))"
    }
}

/// An ordered log of the calls of every ``ProbeService`` that shares it.
///
/// Give one log to all the probes of a tree: ``InvariantChecker`` reads the order of their calls
/// from it (which `start()` began before which `stop()`). Safe to use from any thread.
public final class ProbeLog: Sendable {
    private let entries = Locked<[ProbeCall]>([])

    /// An empty log.
    public init() {}

    /// Every call so far, in the order they happened.
    public var calls: [ProbeCall] { entries.withLock { $0 } }

    /// The calls of one service, in order.
    public func calls(of service: ServiceID) -> [ProbeCall] {
        calls.filter { $0.service == service }
    }

    /// Appends a call and returns it, numbered after every call before it.
    @discardableResult
    public func record(_ service: ServiceID, life: Int, _ phase: ProbeCall.Phase, _ kind: ProbeCall.Kind) -> ProbeCall {
        entries.withLock { entries in
            let call = ProbeCall(sequence: entries.count, service: service, life: life, phase: phase, kind: kind)
            entries.append(call)
            return call
        }
    }

    /// One line per call, in order, for failure messages.
    public var transcript: String {
        calls.map { "  \($0)" }.joined(separator: "\n")
    }
}
