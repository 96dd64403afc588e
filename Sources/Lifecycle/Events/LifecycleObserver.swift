/// A consumer of a runner's events: a logger, a recorder, a metrics exporter.
///
/// Give observers to ``ServiceRunner/init(_:observers:signals:clock:stallReportInterval:shutdownDeadline:drainTimeout:)``, `service.run(observers:)` or
/// `withRunning(_:observers:_:)`: each gets its own stream, subscribed before anything starts, and
/// the call returns (or throws) only after every observer's `observe` has returned, which it does
/// once the stream finished and it consumed the last event.
public protocol LifecycleObserver: Sendable {
    /// Consumes the events until the stream finishes.
    func observe(_ events: AsyncStream<LifecycleEvent>) async
}
