/// Who a stop waits for, at one instant: the services whose `stop()` runs and since when, and for
/// each service not yet stopping, the dependents it still waits for.
///
/// From ``ServiceRunner/shutdownStatus()``; print it when a shutdown seems stuck:
///
/// ```text
/// stopping: http (for 12.4 s)
/// database waits for: http (stopping for 12.4 s)
/// ```
public struct ShutdownStatus: Sendable, CustomStringConvertible {
    /// A service whose `stop()` runs.
    public struct Stopping: Sendable, Equatable {
        /// The service.
        public let service: ServiceID
        /// When its `stop()` began (`running → stopping`), on the runner's clock.
        public let since: Duration
        /// How long it has been stopping, at ``ShutdownStatus/time``.
        public let duration: Duration
    }

    /// A service not yet stopping, and the dependents of the tree whose stop it still waits for.
    public struct Waiting: Sendable, Equatable {
        /// The service.
        public let service: ServiceID
        /// Its dependents that have not stopped yet, and their states.
        public let waitsFor: [(service: ServiceID, state: ServiceState)]

        /// Equal when they name the same services in the same states.
        public static func == (lhs: Waiting, rhs: Waiting) -> Bool {
            lhs.service == rhs.service && lhs.waitsFor.map(\.service) == rhs.waitsFor.map(\.service)
                && lhs.waitsFor.map(\.state) == rhs.waitsFor.map(\.state)
        }
    }

    /// When the status was taken, on the runner's clock.
    public let time: Duration
    /// Why the tree stops; `nil` when no stop was requested.
    public let stopCause: StopCause?
    /// Whether a stop was requested and the tree is not down yet.
    public let isStopping: Bool
    /// The services whose `stop()` runs, the longest-stopping first.
    public let stopping: [Stopping]
    /// The services not yet stopping (running) that wait for dependents, in the tree's order.
    public let waiting: [Waiting]

    /// The status of a view at `time`; `isOver` when the runner's stop has ended.
    init(_ view: TreeView, time: Duration, isOver: Bool) {
        self.time = time
        stopCause = view.stopCause
        isStopping = view.stopCause != nil && !isOver
        guard isStopping else {
            stopping = []
            waiting = []
            return
        }
        stopping = view.stopping.map { service in
            let since = view.entries[service]!.stoppingSince!
            return Stopping(service: service, since: since, duration: time - since)
        }
        let dependents = view.dependents
        waiting = view.members(in: .running).compactMap { service in
            let pending = dependents[service, default: []].compactMap { dependent in
                view.entries[dependent].map(\.state).flatMap { state in
                    state == .stopped || state == .failed || state == .idle ? nil : (dependent, state)
                }
            }
            return pending.isEmpty ? nil : Waiting(service: service, waitsFor: pending)
        }
    }

    /// One line per stopping service, then one per waiting service:
    /// `database waits for: http (stopping for 12.4 s)`; `not stopping` before a stop request.
    public var description: String {
        guard isStopping else { return stopCause == nil ? "not stopping" : "stopped (\(stopCause!))" }
        var lines = ["stopping (\(stopCause!))"]
        let since = Dictionary(stopping.map { ($0.service, $0.duration) }, uniquingKeysWith: { first, _ in first })
        for entry in stopping { lines.append("\(entry.service) stopping for \(Self.seconds(entry.duration))") }
        for entry in waiting {
            let dependents = entry.waitsFor.map { dependent in
                if let duration = since[dependent.service] {
                    return "\(dependent.service) (stopping for \(Self.seconds(duration)))"
                }
                return "\(dependent.service) (\(dependent.state))"
            }
            lines.append("\(entry.service) waits for: \(dependents.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }

    /// `12.4 s`: seconds to the tenth.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let tenths = (seconds * 10) + attoseconds / 100_000_000_000_000_000
        return "\(tenths / 10).\(abs(tenths % 10)) s"
    }
}
