import CoreMetrics
import Lifecycle

/// Records a tree's lifecycle as swift-metrics metrics (`CoreMetrics` only).
///
/// ```swift
/// let runner = ServiceRunner(api, observers: [MetricsObserver()])   // MetricsSystem's factory
/// ```
///
/// | metric | type | dimensions |
/// |---|---|---|
/// | `lifecycle_service_start_duration_seconds` | timer | `service`, `outcome` (`success`, `failure`) |
/// | `lifecycle_service_stop_duration_seconds` | timer | `service`, `outcome` |
/// | `lifecycle_services` | meter | `state` (`starting`, `running`, `stopping`, `stopped`, `failed`) |
/// | `lifecycle_service_failures_total` | counter | `service`, `phase` (`start`, `stop`, `task`) |
/// | `lifecycle_service_starts_total` | counter | `service` |
/// | `lifecycle_stop_requests_total` | counter | `cause` (`requested`, `signal`, `escalation`, …) |
///
/// Each metric always has the same dimension names (swift-prometheus traps when one name is reused
/// with other labels), and their values are few: a service's name, never its instance number, and
/// a stop's kind of cause without the signal's number. `lifecycle_services` counts the services this
/// observer has seen leave `idle`, by their state; it moves by increments, so observers of several
/// runners add up (a service shared by two observed trees counts twice).
public struct MetricsObserver: LifecycleObserver {
    /// The factory the metrics are made with.
    public let factory: any MetricsFactory

    /// An observer recording through `factory`; by default the one `MetricsSystem` was bootstrapped with.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Records every event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        var census = ServiceCensus()
        var metrics = LifecycleMetrics(factory: factory)
        for await event in events {
            for measurement in census.measurements(for: event) {
                metrics.record(measurement)
            }
        }
    }
}
