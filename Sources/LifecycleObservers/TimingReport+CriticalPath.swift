extension TimingReport {
    /// For each service under `root`, the groups of services whose start it waited for: its own
    /// dependency stages, and the gate it inherits (the stage before its own, or what its parent
    /// waited for when it is in the first stage).
    ///
    /// Iterative and deduplicated by identity, so shared services and cycles are walked once. A gate
    /// is kept as the stage's own array, shared by every service behind it rather than copied into
    /// each: consecutive wide `Parallel` stages cost their sizes, not their product.
    static func waits(under root: any Service) -> [ServiceID: [[ServiceID]]] {
        var waits: [ServiceID: [[ServiceID]]] = [:]
        var expanded: Set<ServiceID> = []
        var pending: [(service: any Service, gate: [ServiceID])] = [(root, [])]
        while let (service, gate) = pending.popLast() {
            let id = service.serviceID
            if !gate.isEmpty { waits[id, default: []].append(gate) }
            guard expanded.insert(id).inserted else { continue }
            let stages = service.dependencies.stages
            let stageIDs = stages.map { $0.map(\.serviceID) }
            waits[id, default: []].append(contentsOf: stageIDs)
            for (number, stage) in stages.enumerated() {
                // The first stage waits for what the parent waited for; a later one for the stage before.
                let childGate = number == 0 ? gate : stageIDs[number - 1]
                for child in stage { pending.append((child, childGate)) }
            }
        }
        return waits
    }

    /// The chain of services that decided the startup, first started first.
    ///
    /// Starts at the last service to reach running and walks back, each step to the latest of the
    /// services that became running before the current one began starting: among those it waited
    /// for when `waits` is given, among all otherwise. Event order makes each step strictly earlier,
    /// so the walk ends; each step looks only at the current service's waits, or moves one cursor
    /// back over the services in the order they reached running, so the walk is linear.
    static func criticalPath(_ entries: [Entry], waits: [ServiceID: [[ServiceID]]]?) -> [ServiceID] {
        // In the order they reached running: event order.
        let reachedRunning = entries.filter { $0.startOutcome == .running && $0.startEndedIndex != nil }
            .sorted { $0.startEndedIndex! < $1.startEndedIndex! }
        if let waits {
            let step = PreviousByDependencies(reachedRunning, waits: waits)
            return walk(back: reachedRunning) { step.previous(before: $0, of: $1) }
        }
        var step = PreviousByTime(reachedRunning)
        return walk(back: reachedRunning) { step.previous(before: $0, of: $1) }
    }

    /// From the last service to become running, back along `previous` (given where the current
    /// service's start began, and the service), until there is none; first started first.
    private static func walk(
        back reachedRunning: [Entry], _ previous: (_ began: Int, _ service: ServiceID) -> Entry?
    ) -> [ServiceID] {
        guard var current = reachedRunning.max(by: isEarlier) else { return [] }
        var path = [current.service]
        while let began = current.startBeganIndex, let step = previous(began, current.service) {
            path.append(step.service)
            current = step
        }
        return path.reversed()
    }

    /// Whether `lhs` became running before `rhs`: by time, then by event order.
    fileprivate static func isEarlier(_ lhs: Entry, _ rhs: Entry) -> Bool {
        (lhs.startEnded ?? .zero, lhs.startEndedIndex ?? 0) < (rhs.startEnded ?? .zero, rhs.startEndedIndex ?? 0)
    }
}

/// The step back along dependencies: the latest to become running among the services waited for.
private struct PreviousByDependencies {
    let entries: [ServiceID: TimingReport.Entry]
    let waits: [ServiceID: [[ServiceID]]]

    init(_ reachedRunning: [TimingReport.Entry], waits: [ServiceID: [[ServiceID]]]) {
        entries = Dictionary(reachedRunning.map { ($0.service, $0) }, uniquingKeysWith: { $1 })
        self.waits = waits
    }

    func previous(before began: Int, of service: ServiceID) -> TimingReport.Entry? {
        (waits[service] ?? []).joined().compactMap { entries[$0] }
            .filter { $0.startEndedIndex! < began }
            .max(by: TimingReport.isEarlier)
    }
}

/// The step back by time alone: the latest to become running among all that did before `began`.
///
/// `latest[i]` is the latest of the first `i + 1` services to become running; as the walk goes
/// strictly back in event order, one cursor moving down finds the services that ended before.
private struct PreviousByTime {
    let reachedRunning: [TimingReport.Entry]
    let latest: [TimingReport.Entry]
    var cursor: Int

    init(_ reachedRunning: [TimingReport.Entry]) {
        self.reachedRunning = reachedRunning
        var latest: [TimingReport.Entry] = []
        latest.reserveCapacity(reachedRunning.count)
        for entry in reachedRunning {
            latest.append(latest.last.map { TimingReport.isEarlier($0, entry) ? entry : $0 } ?? entry)
        }
        self.latest = latest
        cursor = reachedRunning.count
    }

    mutating func previous(before began: Int, of service: ServiceID) -> TimingReport.Entry? {
        while cursor > 0, reachedRunning[cursor - 1].startEndedIndex! >= began { cursor -= 1 }
        return cursor > 0 ? latest[cursor - 1] : nil
    }
}
