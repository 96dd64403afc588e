import Lifecycle

/// Checks a recorded run against the lifecycle's rules (DESIGN §3–§5): dependency order, exactly
/// one stop for every successful start, no stop without one, only legal transitions, background
/// tasks ended before dependencies stop.
///
/// ```swift
/// let log = ProbeLog(), clock = ManualClock()
/// let database = ProbeService("database", log: log, clock: clock, task: .untilCancelled)
/// let api = ProbeService("api", log: log, clock: clock, dependencies: [database], start: .throw)
/// let runner = ServiceRunner(api, clock: clock)
/// let events = runner.events()
/// … run it …
/// try InvariantChecker(root: api).verify(await collected(events), log: log)
/// ```
///
/// It reads two records: the events of the runners (every ``LifecycleEvent``, in the order a
/// runner's stream delivered them) and, when the services are ``ProbeService``s sharing a
/// ``ProbeLog``, the order of their actual calls. From the events it checks each transition and
/// the order of transitions between a service and its dependencies; from the calls, the same order
/// on the real `start()`/`stop()` calls, one stop per successful start, and the background tasks.
/// ``InvariantViolation/Rule`` lists every rule.
///
/// The dependency edges come from the tree given (`root.dependencies`, recursively, read once when
/// the checker is made); services outside it are checked for legality and for their own calls
/// only. Work the lifecycle is allowed to abandon is exempt where abandoning it is the rule: a
/// probe whose script is ``ProbeBehavior/hang`` may still be inside its start, stop or task while
/// its dependencies stop.
///
/// Give it every event of every runner that ran the probes (one runner's stream is enough for one
/// tree): a start made by a runner whose events are missing looks like a call without an event.
public struct InvariantChecker: Sendable {
    /// The direct dependencies of every service of the trees, in declaration order.
    let dependencies: [ServiceID: [ServiceID]]
    /// The direct dependents of every service of the trees.
    let dependents: [ServiceID: [ServiceID]]
    /// The scripts of the probes in the trees, for the exemptions of hung work.
    let scripts: [ServiceID: Script]

    /// What a probe in the tree does, as far as the checks care.
    struct Script: Sendable {
        let startHangs: Bool
        let stopHangs: Bool
        let taskHangs: Bool
    }

    /// A checker for the tree under `root`.
    public init(root: any Service) {
        self.init(roots: [root])
    }

    /// A checker for several trees (for example two runners sharing services, or services added
    /// to a running tree).
    public init(roots: [any Service]) {
        var dependencies: [ServiceID: [ServiceID]] = [:]
        var dependents: [ServiceID: [ServiceID]] = [:]
        var scripts: [ServiceID: Script] = [:]
        var pending = roots
        // A walk with a visited set: shared services are read once, and a cycle cannot loop.
        while let service = pending.popLast() {
            let id = service.serviceID
            guard dependencies[id] == nil else { continue }
            let direct = service.dependencies.stages.flatMap { $0 }
            dependencies[id] = direct.map(\.serviceID)
            for dependency in direct {
                dependents[dependency.serviceID, default: []].append(id)
                pending.append(dependency)
            }
            if let probe = service as? ProbeService {
                scripts[id] = Script(
                    startHangs: probe.startBehavior.ignoresCancellation,
                    stopHangs: probe.stopBehavior.ignoresCancellation,
                    taskHangs: probe.taskBehavior?.ignoresCancellation ?? false)
            }
        }
        self.dependencies = dependencies
        self.dependents = dependents
        self.scripts = scripts
    }

    /// A checker with no tree: transitions, their chaining and the probes' own calls only.
    public init() {
        self.init(roots: [])
    }

    /// The violations in `events` and, when given, `log`; `nil` when there are none.
    ///
    /// - Parameters:
    ///   - events: every event of the run, in stream order.
    ///   - log: the log the probes of the run share, if any.
    ///   - finished: whether the run has ended (its runner stopped): then every service must be
    ///     down. Pass `false` to check a run still going.
    public func check(_ events: [LifecycleEvent], log: ProbeLog? = nil, finished: Bool = true) -> InvariantFailure? {
        check(events, calls: log?.calls ?? [], finished: finished)
    }

    /// The violations in `events` and `calls` (a hand-made or filtered call log); `nil` when there
    /// are none.
    public func check(_ events: [LifecycleEvent], calls: [ProbeCall], finished: Bool = true) -> InvariantFailure? {
        var violations = eventViolations(events, finished: finished)
        let sorted = calls.sorted { $0.sequence < $1.sequence }
        violations += callViolations(sorted, finished: finished)
        violations += visibilityViolations(events, calls: sorted)
        guard !violations.isEmpty else { return nil }
        return InvariantFailure(
            violations: violations, eventTranscript: Transcript.lines(of: events),
            callTranscript: sorted.map { "  \($0)" }.joined(separator: "\n"))
    }

    /// Throws an ``InvariantFailure`` listing every violation and the whole transcript, if any.
    public func verify(_ events: [LifecycleEvent], log: ProbeLog? = nil, finished: Bool = true) throws(InvariantFailure)
    {
        if let failure = check(events, log: log, finished: finished) { throw failure }
    }

    /// Every `start()` call shows as a `→ starting` event: per service, as many of one as of the other.
    private func visibilityViolations(_ events: [LifecycleEvent], calls: [ProbeCall]) -> [InvariantViolation] {
        guard !events.isEmpty else { return [] }
        var starts: [ServiceID: Int] = [:]
        var order: [ServiceID] = []
        for call in calls where call.phase == .start && call.kind == .began {
            if starts[call.service] == nil { order.append(call.service) }
            starts[call.service, default: 0] += 1
        }
        return order.compactMap { service in
            let called = starts[service] ?? 0
            let shown = events.count { $0.isTransition && $0.service == service && $0.to == .starting }
            guard called != shown else { return nil }
            return InvariantViolation(
                .callsVisibleAsEvents, service,
                "\(Transcript.escaped(service.debugDescription)): start() called \(called) times, "
                    + "but \(shown) → starting events")
        }
    }
}
