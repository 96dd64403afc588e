import Lifecycle

/// One thing to record in a metric.
enum Measurement: Sendable, Equatable {
    /// A service moved between states (`from` is `nil` when it left `idle`, which is not counted).
    case stateChanged(from: ServiceState?, to: ServiceState)
    /// A start began.
    case startBegan(service: String)
    /// A start ended, with how long it took.
    case started(service: String, succeeded: Bool, took: Duration)
    /// A stop ended, with how long it took.
    case stopped(service: String, succeeded: Bool, took: Duration)
    /// A start, a stop or a background task failed.
    case failed(service: String, phase: String)
    /// A stop was requested, for a cause of this kind.
    case stopRequested(cause: String)
}
