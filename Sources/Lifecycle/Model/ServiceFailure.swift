/// One error the run of a tree met: a `start()` that threw (also one rolled back), a `stop()` that
/// threw or timed out, a background task that threw.
///
/// ``ServiceRunner/failures`` lists them in the order they happened, including the ones `run()`
/// does not throw (the errors of a rollback, every stop error after the first).
public struct ServiceFailure: Sendable, CustomStringConvertible {
    /// What the service was doing when the error came.
    public enum Phase: String, Sendable, Hashable {
        /// Its `start()` threw, timed out or was abandoned (`starting → failed`).
        case start
        /// Its `stop()` threw or passed its `gracefulShutdownTimeout` (`stopping → failed`).
        case stop
        /// One of its background tasks threw.
        case task
    }

    /// The service that failed.
    public let service: ServiceID
    /// What it was doing.
    public let phase: Phase
    /// The error: the user's own, untouched, or a ``LifecycleError`` (a timeout).
    public let error: any Error
    /// When, on the runner's clock (the time of the event that reported it).
    public let time: Duration

    /// Creates a failure record; the runner makes these.
    public init(service: ServiceID, phase: Phase, error: any Error, time: Duration) {
        self.service = service
        self.phase = phase
        self.error = error
        self.time = time
    }

    /// The failure an event reports, if it reports one: `starting → failed`, `stopping → failed`,
    /// or a failed background task.
    init?(_ event: LifecycleEvent) {
        guard let error = event.error else { return nil }
        switch event.kind {
        case .taskFailed:
            phase = .task
        case .transition where event.from == .starting && event.to == .failed:
            phase = .start
        case .transition where event.from == .stopping && event.to == .failed:
            phase = .stop
        default:
            return nil
        }
        service = event.service
        self.error = error
        time = event.time
    }

    /// `Database (stop): connection reset`.
    public var description: String { "\(service) (\(phase.rawValue)): \(error)" }
}
