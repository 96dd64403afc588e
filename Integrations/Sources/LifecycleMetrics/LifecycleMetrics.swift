import CoreMetrics
import Lifecycle

/// The metrics of one observer, made once per name and dimension values, and what each measurement does to them.
struct LifecycleMetrics {
    let factory: any MetricsFactory
    private var timers: [[String]: Timer] = [:]
    private var counters: [[String]: Counter] = [:]
    private var meters: [String: Meter] = [:]

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Records one measurement.
    mutating func record(_ measurement: Measurement) {
        switch measurement {
        case .stateChanged(let from, let to):
            if let from { meter(state: from).decrement() }
            meter(state: to).increment()
        case .startBegan(let service):
            counter("lifecycle_service_starts_total", [("service", service)]).increment()
        case .started(let service, let succeeded, let took):
            timer("lifecycle_service_start_duration_seconds", service: service, succeeded: succeeded)
                .recordNanoseconds(Self.nanoseconds(took))
        case .stopped(let service, let succeeded, let took):
            timer("lifecycle_service_stop_duration_seconds", service: service, succeeded: succeeded)
                .recordNanoseconds(Self.nanoseconds(took))
        case .failed(let service, let phase):
            counter("lifecycle_service_failures_total", [("service", service), ("phase", phase)]).increment()
        case .stopRequested(let cause):
            counter("lifecycle_stop_requests_total", [("cause", cause)]).increment()
        }
    }

    private mutating func meter(state: ServiceState) -> Meter {
        let key = "\(state)"
        if let meter = meters[key] { return meter }
        let meter = Meter(label: "lifecycle_services", dimensions: [("state", key)], factory: factory)
        meters[key] = meter
        return meter
    }

    private mutating func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = [label] + dimensions.map(\.1)
        if let counter = counters[key] { return counter }
        let counter = Counter(label: label, dimensions: dimensions, factory: factory)
        counters[key] = counter
        return counter
    }

    private mutating func timer(_ label: String, service: String, succeeded: Bool) -> Timer {
        let outcome = succeeded ? "success" : "failure"
        let key = [label, service, outcome]
        if let timer = timers[key] { return timer }
        let timer = Timer(label: label, dimensions: [("service", service), ("outcome", outcome)], factory: factory)
        timers[key] = timer
        return timer
    }

    /// A duration in whole nanoseconds (a timer's unit).
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
