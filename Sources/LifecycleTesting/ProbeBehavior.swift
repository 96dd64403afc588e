import Lifecycle

/// What a ``ProbeService``'s `start()`, `stop()` or background task does when it runs.
///
/// Sleeps are on the probe's clock (a ``ManualClock`` in most tests), so "slow" costs no real time.
public enum ProbeBehavior: Sendable, Equatable, CustomStringConvertible {
    /// Returns at once.
    case instant
    /// Sleeps this long on the probe's clock, then returns; cancellation ends the sleep with
    /// `CancellationError`.
    case sleep(Duration)
    /// Throws a ``ProbeError`` at once.
    case `throw`
    /// Sleeps this long on the probe's clock, then throws a ``ProbeError``; cancellation ends the
    /// sleep with `CancellationError` instead.
    case throwAfter(Duration)
    /// Waits until its task is cancelled, then throws `CancellationError`: a well-behaved loop.
    case untilCancelled
    /// Ignores cancellation and waits until ``ProbeService/releaseHangs()``, then returns: work that
    /// does not cooperate, which the lifecycle must abandon at its timeout.
    case hang

    /// Whether it ignores cancellation (``hang``): the lifecycle can only abandon it.
    public var ignoresCancellation: Bool { self == .hang }

    /// `instant`, `sleep 2 seconds`, `throw`, `throw after 2 seconds`, `until cancelled`, `hang`.
    public var description: String {
        switch self {
        case .instant: "instant"
        case .sleep(let duration): "sleep \(duration)"
        case .throw: "throw"
        case .throwAfter(let duration): "throw after \(duration)"
        case .untilCancelled: "until cancelled"
        case .hang: "hang"
        }
    }
}

/// The error a ``ProbeService`` throws when its script says ``ProbeBehavior/throw`` or
/// ``ProbeBehavior/throwAfter(_:)``.
public struct ProbeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name of the probe that threw.
    public let service: String
    /// Where it threw.
    public let phase: ProbeCall.Phase

    /// The error `service` throws in `phase`.
    public init(service: String, phase: ProbeCall.Phase) {
        self.service = service
        self.phase = phase
    }

    /// `database: start failed (scripted)`.
    public var description: String { "\(service): \(phase) failed (scripted)" }
}
