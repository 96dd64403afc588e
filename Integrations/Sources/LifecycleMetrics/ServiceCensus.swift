import Lifecycle

/// Turns events into measurements; remembers when each service entered its state (pure: the events'
/// times are the only time it reads).
struct ServiceCensus: Sendable {
    private var enteredAt: [ServiceID: Duration] = [:]

    /// What one event measures.
    mutating func measurements(for event: LifecycleEvent) -> [Measurement] {
        let name = event.service.name
        if let cause = event.stopCause { return [.stopRequested(cause: Self.kind(of: cause))] }
        if event.kind == .taskFailed { return [.failed(service: name, phase: "task")] }
        guard event.isTransition else { return [] }
        let took = enteredAt[event.service].map { event.time - $0 } ?? .zero
        enteredAt[event.service] = event.time
        var measurements: [Measurement] = [.stateChanged(from: event.from == .idle ? nil : event.from, to: event.to)]
        switch (event.from, event.to) {
        case (_, .starting):
            measurements.append(.startBegan(service: name))
        case (.starting, .running):
            measurements.append(.started(service: name, succeeded: true, took: took))
        case (.starting, .failed):
            measurements += [
                .started(service: name, succeeded: false, took: took), .failed(service: name, phase: "start"),
            ]
        case (.stopping, .stopped):
            measurements.append(.stopped(service: name, succeeded: true, took: took))
        case (.stopping, .failed):
            measurements += [
                .stopped(service: name, succeeded: false, took: took), .failed(service: name, phase: "stop"),
            ]
        default:
            // `running → stopping` only opens the stop being timed; the table allows no other move.
            break
        }
        return measurements
    }

    /// The kind of a cause, without its details: `signal` for `signal 15`, so the values stay few.
    static func kind(of cause: StopCause) -> String {
        String("\(cause)".prefix { $0 != " " })
    }
}
