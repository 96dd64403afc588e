/// How long each service took to start and to stop, the totals, and the chain of services that
/// decided how long startup took: from the events of one run.
///
/// ```swift
/// let recorder = EventRecorder()
/// try await withRunning(api, observers: [recorder]) { _ in }
/// let report = TimingReport(recorder.events, root: api)
/// print(report.table())
/// print(report.mermaidGantt())
/// ```
///
/// A service's start lasts from `→ starting` until `starting → running` or `starting → failed`; its
/// stop from `running → stopping` until `stopping → stopped` or `stopping → failed`. When the events
/// hold several starts of one instance, the last one counts, except a restart's (DESIGN §10: any
/// start again after a `restartScheduled` event): a restart is not startup, so the service keeps
/// its first start, and its stop is the last one. Startup is from the first `→ starting` to the
/// last `→ running`; shutdown from the first `→ stopping` to the last `stopping → …`.
///
/// The critical path starts at the last service to reach `running` and walks back: each step is
/// the service whose `→ running` came latest among those the current one waited for, before the
/// current one began starting. Events carry no dependency edges, so "waited for" comes from `root`
/// when you give it (a service waits for its own dependencies and, inside a dependency list, for
/// the stage before its own, or what its parent waited for when it is in the first stage); without
/// `root` it falls back to time adjacency: any service that became running before the current one
/// began, which can pick a parallel sibling that merely finished first.
public struct TimingReport: Sendable {
    /// One service's last start and stop in the events.
    public struct Entry: Sendable, Equatable {
        /// The service.
        public let service: ServiceID
        /// When it entered `starting`.
        public var startBegan: Duration?
        /// When it left `starting`.
        public var startEnded: Duration?
        /// The state its start ended in: `running` or `failed`; `nil` while still starting.
        public var startOutcome: ServiceState?
        /// When it entered `stopping`.
        public var stopBegan: Duration?
        /// When it left `stopping`.
        public var stopEnded: Duration?
        /// The state its stop ended in: `stopped` or `failed`; `nil` while still stopping.
        public var stopOutcome: ServiceState?
        /// Whether its stop was abandoned at its `gracefulShutdownTimeout` (it ended `failed` with
        /// ``LifecycleError/stopTimedOut(_:after:)``); its ``stopDuration`` is then the timeout.
        public var stopTimedOut = false

        /// How long its start took, when it both began and ended.
        public var startDuration: Duration? {
            guard let startBegan, let startEnded else { return nil }
            return startEnded - startBegan
        }

        /// How long its stop took, when it both began and ended.
        public var stopDuration: Duration? {
            guard let stopBegan, let stopEnded else { return nil }
            return stopEnded - stopBegan
        }

        /// The positions of the events that began and ended the start, to order ties and causes.
        var startBeganIndex: Int?
        var startEndedIndex: Int?

        init(service: ServiceID) { self.service = service }
    }

    /// One entry per service, in the order the services first appear in the events.
    public let entries: [Entry]
    /// From the first `→ starting` to the last `→ running`; `nil` when no service reached running.
    public let startup: Duration?
    /// From the first `→ stopping` to the last end of a stop; `nil` when no stop ended.
    public let shutdown: Duration?
    /// The services that decided the startup time, first started first, ending with the last
    /// service to reach running.
    public let criticalPath: [ServiceID]

    /// A report of the events of one run.
    ///
    /// - Parameters:
    ///   - events: the events, in the order they were emitted (an ``EventRecorder``'s `events`).
    ///   - root: the root of the tree, to find what each service waited for; without it the
    ///     critical path follows time adjacency only.
    public init(_ events: [LifecycleEvent], root: (any Service)? = nil) {
        let entries = Self.entries(of: events)
        self.entries = entries
        let started = entries.compactMap(\.startBegan)
        let running = entries.filter { $0.startOutcome == .running }.compactMap(\.startEnded)
        startup = started.min().flatMap { first in running.max().map { $0 - first } }
        let stopping = entries.compactMap(\.stopBegan)
        let stopped = entries.compactMap(\.stopEnded)
        shutdown = stopping.min().flatMap { first in stopped.max().map { $0 - first } }
        criticalPath = Self.criticalPath(entries, waits: root.map(Self.waits(under:)))
        drain = Self.drain(in: events)
    }

    /// How long the drain phase lasted: from the `.draining` event to the first `running → stopping`
    /// after it (or the last event, when the stop never began); `nil` when the tree did not drain.
    /// Stall reports and other events that change no state are not timed.
    public let drain: Duration?

    private static func drain(in events: [LifecycleEvent]) -> Duration? {
        guard let began = events.firstIndex(where: { $0.kind == .draining }) else { return nil }
        let end = events[began...].first { $0.isTransition && $0.to == .stopping } ?? events.last!
        return end.time - events[began].time
    }

    private static func entries(of events: [LifecycleEvent]) -> [Entry] {
        var entries: [Entry] = []
        var position: [ServiceID: Int] = [:]
        var hasRestarted = false
        // The services whose start in progress is a restart's: not timed.
        var restarting: Set<ServiceID> = []
        for (index, event) in events.enumerated() {
            if case .restartScheduled = event.kind { hasRestarted = true }
            guard event.kind == .transition else { continue }
            let at = position[event.service] ?? entries.count
            if at == entries.count {
                position[event.service] = at
                entries.append(Entry(service: event.service))
            }
            switch (event.from, event.to) {
            case (_, .starting) where hasRestarted && entries[at].startBegan != nil:
                restarting.insert(event.service)
            case (.starting, _) where restarting.contains(event.service):
                restarting.remove(event.service)
            case (_, .starting):
                // A new start forgets the previous cycle: the last start counts.
                entries[at] = Entry(service: event.service)
                entries[at].startBegan = event.time
                entries[at].startBeganIndex = index
            case (.starting, _):
                entries[at].startEnded = event.time
                entries[at].startEndedIndex = index
                entries[at].startOutcome = event.to
            case (_, .stopping):
                entries[at].stopBegan = event.time
            case (.stopping, _):
                entries[at].stopEnded = event.time
                entries[at].stopOutcome = event.to
                if case .stopTimedOut = event.error as? LifecycleError { entries[at].stopTimedOut = true }
            default:
                // Transitions outside the table are not timed.
                break
            }
        }
        return entries
    }
}
