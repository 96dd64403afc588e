/// What happens when a background task of a running service throws (DESIGN §10).
///
/// ```swift
/// final class Consumer: Service {
///     var restartPolicy: RestartPolicy { .onFailure(maxRestarts: 5, within: .seconds(60)) }
/// }
/// ```
public enum RestartPolicy: Sendable, Hashable {
    /// Fail fast: every tree holding the service stops (DESIGN §4). The default.
    case never
    /// Stop the service and everything that depends on it, wait `backoff`, start them again in
    /// dependency order; the trees stay up. More than `maxRestarts` restarts within the sliding
    /// window `within` and the failure is fail-fast after all.
    case onFailure(
        maxRestarts: Int = 3, within: Duration = .seconds(60),
        backoff: Backoff = .exponential(initial: .milliseconds(100), maximum: .seconds(10)))
}

/// How long a restart waits before it starts the services again.
public enum Backoff: Sendable, Hashable {
    /// No wait.
    case none
    /// The same wait before every attempt.
    case constant(Duration)
    /// `initial` before the first attempt, doubling at each further one, never more than `maximum`.
    case exponential(initial: Duration, maximum: Duration)

    /// The wait before restart `attempt` (1 for the first), never negative and never more than
    /// about 34,000 years (2^40 seconds, the longest wait the package sleeps).
    public func delay(forAttempt attempt: Int) -> Duration {
        switch self {
        case .none:
            return .zero
        case .constant(let delay):
            return Self.clamped(delay)
        case .exponential(let initial, let maximum):
            let cap = Self.clamped(maximum)
            var delay = min(Self.clamped(initial), cap)
            var doublings = max(0, attempt - 1)
            // At most about 100 doublings reach the cap from a nanosecond: stop there, not at `attempt`.
            while doublings > 0, delay < cap {
                delay = delay == .zero ? .zero : min(delay * 2, cap)
                doublings -= 1
                if delay == .zero { break }
            }
            return delay
        }
    }

    private static func clamped(_ delay: Duration) -> Duration {
        min(max(delay, .zero), .practicallyNever)
    }
}
