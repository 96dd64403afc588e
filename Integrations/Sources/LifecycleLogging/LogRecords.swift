import Lifecycle
import Logging

/// One log record, before it reaches a `Logger`.
struct LogRecord: Sendable {
    let level: Logger.Level
    let message: String
    let error: (any Error)?
    let metadata: Logger.Metadata
}

/// Turns events into log records; remembers when each service entered its state (pure: no clock of
/// its own, the events' times are the only time it reads).
struct LogRecords: Sendable {
    let levels: LoggingObserver.Levels
    let rootID: ServiceID?
    /// When each service entered its current state.
    private var enteredAt: [ServiceID: Duration] = [:]
    /// When the root's current start began (its first dependency's `idle → starting`).
    private var startBegan: Duration?

    init(levels: LoggingObserver.Levels, rootID: ServiceID?) {
        self.levels = levels
        self.rootID = rootID
    }

    /// The records one event makes: one, and a second ("all running") when the root reached running.
    mutating func records(for event: LifecycleEvent) -> [LogRecord] {
        var metadata: Logger.Metadata = [
            "lifecycle.service": "\(event.service.name)",
            "lifecycle.service.id": "\(event.service.number)",
            "lifecycle.from": "\(event.from)",
            "lifecycle.to": "\(event.to)",
        ]
        if event.isTransition {
            return transitionRecords(event, metadata: metadata)
        }
        if let cause = event.stopCause {
            metadata["lifecycle.event"] = "stopRequested"
            metadata["lifecycle.cause"] = "\(cause)"
            let message = "\(event.service): stop requested (\(cause))"
            return [LogRecord(level: levels.milestone, message: message, error: event.error, metadata: metadata)]
        }
        if event.kind == .taskFailed {
            metadata["lifecycle.event"] = "taskFailed"
            let message = "\(event.service): background task failed"
            return [LogRecord(level: levels.failure, message: message, error: event.error, metadata: metadata)]
        }
        // A kind this observer does not know by name (the core may add some): logged as it describes itself.
        metadata["lifecycle.event"] = "\(event.kind)"
        let level = event.error == nil ? levels.milestone : levels.failure
        return [LogRecord(level: level, message: "\(event)", error: event.error, metadata: metadata)]
    }

    private mutating func transitionRecords(_ event: LifecycleEvent, metadata: Logger.Metadata) -> [LogRecord] {
        var metadata = metadata
        metadata["lifecycle.event"] = "transition"
        if let since = enteredAt[event.service] {
            metadata["lifecycle.duration"] = "\(Self.seconds(event.time - since))"
        }
        enteredAt[event.service] = event.time
        if event.to == .starting, startBegan == nil { startBegan = event.time }
        let level = event.to == .failed ? levels.failure : levels.transition
        let message = "\(event.service): \(event.from) → \(event.to)"
        var records = [LogRecord(level: level, message: message, error: event.error, metadata: metadata)]
        if event.service == rootID, event.to == .running {
            var allRunning: Logger.Metadata = [
                "lifecycle.event": "allRunning",
                "lifecycle.service": "\(event.service.name)",
                "lifecycle.service.id": "\(event.service.number)",
            ]
            if let startBegan { allRunning["lifecycle.duration"] = "\(Self.seconds(event.time - startBegan))" }
            let message = "all running under \(event.service)"
            records.append(LogRecord(level: levels.milestone, message: message, error: nil, metadata: allRunning))
        }
        if event.service == rootID, event.to == .stopped || event.to == .failed { startBegan = nil }
        return records
    }

    /// A duration in seconds, as a number.
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
