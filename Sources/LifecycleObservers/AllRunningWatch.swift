/// Notices the moment a tree's root reaches `running`: every service of the tree is then running.
///
/// Events carry no tree, so the watch is told the root. It reports each time the root reaches
/// `running` (again, after a later start of the same tree), with the startup time measured from
/// the first `→ starting` since its previous report.
struct AllRunningWatch: Sendable {
    /// The root of the tree; `nil` watches nothing.
    let root: ServiceID?
    private var firstStart: Duration?
    /// Whether the root ran before (a restart brought it back, DESIGN §10).
    private(set) var isAgain = false
    private var hasRun = false

    init(root: ServiceID?) { self.root = root }

    /// The startup time when `event` made the root run; `nil` for every other event.
    mutating func startup(after event: LifecycleEvent) -> Duration? {
        guard let root, event.isTransition else { return nil }
        if event.to == .starting, firstStart == nil { firstStart = event.time }
        guard event.service == root, event.to == .running else { return nil }
        isAgain = hasRun
        hasRun = true
        defer { firstStart = nil }
        return event.time - (firstStart ?? event.time)
    }
}
