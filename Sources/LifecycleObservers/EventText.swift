import Foundation

/// The text every observer shares: seconds, durations and what an event says, written one way.
///
/// `String(format:)` without a locale always writes a `.` decimal point, so logs and diagrams read
/// the same on every machine.
enum EventText {
    /// A duration in seconds, as a `Double` (the JSON lines' `time`).
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A point on the runner's clock, `0.040s`, to the millisecond.
    static func timestamp(_ time: Duration) -> String {
        String(format: "%.3fs", seconds(time))
    }

    /// A length of time a reader takes in at a glance: `850µs`, `40.0ms`, `1.250s`.
    static func duration(_ duration: Duration) -> String {
        let value = seconds(duration)
        if value < 0.001 { return String(format: "%.0fµs", value * 1e6) }
        if value < 1 { return String(format: "%.1fms", value * 1e3) }
        return String(format: "%.3fs", value)
    }

    /// What happened, without the service: `starting → running`, `background task failed`,
    /// `stop requested (signal 15)`.
    static func what(_ event: LifecycleEvent) -> String {
        switch event.kind {
        case .transition: "\(event.from) → \(event.to)"
        case .taskFailed: "background task failed (while \(event.to))"
        case .stopRequested(let cause): "stop requested (\(cause))"
        case .restartScheduled(let attempt, let delay): "restart \(attempt) scheduled in \(duration(delay))"
        case .shutdownStalled(let stopping):
            "shutdown stalled, still stopping: \(stopping.map(\.name).joined(separator: ", "))"
        case .draining: "draining"
        }
    }

    /// The name of an event's kind as logs write it: `transition`, `taskFailed`, `stopRequested`,
    /// `shutdownStalled`, `draining`.
    static func kindName(_ kind: LifecycleEvent.Kind) -> String {
        switch kind {
        case .transition: "transition"
        case .taskFailed: "taskFailed"
        case .stopRequested: "stopRequested"
        case .restartScheduled: "restartScheduled"
        case .shutdownStalled: "shutdownStalled"
        case .draining: "draining"
        }
    }

    /// The last state each service reached through a transition in `events`.
    ///
    /// A dictionary for lookups only; output never iterates it (STYLE §8).
    static func finalStates(in events: [LifecycleEvent]) -> [ServiceID: ServiceState] {
        var states: [ServiceID: ServiceState] = [:]
        for event in events where event.kind == .transition {
            states[event.service] = event.to
        }
        return states
    }
}
