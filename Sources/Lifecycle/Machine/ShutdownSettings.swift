/// A runner's shutdown settings (DESIGN §12–§13) and the rules over them: which values are valid,
/// whether a tree fits the deadline, when the stop escalates by itself.
///
/// Pure: no clock, no task. ``ServiceRunner`` asks it before the tree starts and arms its timers
/// with what it answers.
struct ShutdownSettings: Sendable, Equatable {
    /// How often a stop that lasts names the services still stopping; `nil` for never.
    var stallReportInterval: Duration? = .seconds(5)
    /// The orchestrator's time between its stop signal and its kill; `nil` for none.
    var shutdownDeadline: Duration?
    /// How long the drain phase may last; zero for no drain.
    var drainTimeout: Duration = .zero

    /// The share of the deadline after which the stop escalates by itself: the rest is left for the
    /// cancelled stops to return and the process to exit before the kill.
    static let escalationShare = 0.9

    /// Refuses values a runner cannot honour, naming the tree's root.
    func validate(root: ServiceID) throws(LifecycleError) {
        if let interval = stallReportInterval, interval <= .zero { throw .invalidTimeout(root, interval) }
        if let deadline = shutdownDeadline, deadline <= .zero { throw .invalidTimeout(root, deadline) }
        if drainTimeout < .zero { throw .invalidTimeout(root, drainTimeout) }
    }

    /// Refuses a tree whose worst-case shutdown plus the drain exceeds the deadline (DESIGN §13);
    /// without a deadline every tree fits.
    func checkBudget(_ plan: ServicePlan) throws(LifecycleError) {
        guard let deadline = shutdownDeadline else { return }
        let worstCase = plan.worstCaseShutdown + drainTimeout
        guard worstCase <= deadline else {
            throw .shutdownBudgetExceeded(path: plan.criticalShutdownPath, worstCase: worstCase, deadline: deadline)
        }
    }

    /// How long after the first stop request the stop escalates by itself; `nil` without a deadline.
    var escalationDelay: Duration? {
        shutdownDeadline.map { min($0, .practicallyNever) * Self.escalationShare }
    }

    /// How long the runner sleeps for the drain, at most ``Swift/Duration/practicallyNever`` so that
    /// no clock arithmetic overflows.
    var drainSleep: Duration { min(drainTimeout, .practicallyNever) }

    /// How long the runner sleeps between stall reports, bounded likewise; `nil` for no reports.
    var stallSleep: Duration? { stallReportInterval.map { min($0, .practicallyNever) } }
}
