import Lifecycle
import Logging

extension App {
    /// Checks the tree's shutdown budget before anything starts and logs it: the worst-case shutdown
    /// (the longest chain of `gracefulShutdownTimeout`s through the stop order), the drain, the
    /// deadline, and the chain. The plan it read.
    ///
    /// ```json
    /// {"message":"shutdown plan: worst case 21s + drain 2s of the 30s deadline, through app → worker → …",
    ///  "shutdown.worst_case":"21s","shutdown.drain":"2s","shutdown.deadline":"30s",
    ///  "shutdown.path":"app → worker → http → jobs → database → config", …}
    /// ```
    ///
    /// - Throws: what the runner's `start()` would throw for this tree, before anything starts:
    ///   `LifecycleError.shutdownBudgetExceeded` naming the chain when the worst case plus the drain
    ///   exceeds the deadline.
    @discardableResult
    public func logShutdownPlan(of runner: ServiceRunner) throws -> ServicePlan {
        let plan = try runner.plan()
        let (worstCase, drain, deadline) = (
            Self.seconds(plan.worstCaseShutdown), Self.seconds(drainTimeout), Self.seconds(shutdownDeadline)
        )
        let path = plan.criticalShutdownPath.map(\.name).joined(separator: " → ")
        logger.info(
            "shutdown plan: worst case \(worstCase) + drain \(drain) of the \(deadline) deadline, through \(path)",
            metadata: [
                "shutdown.worst_case": "\(worstCase)", "shutdown.drain": "\(drain)", "shutdown.deadline": "\(deadline)",
                "shutdown.path": "\(path)",
            ])
        return plan
    }

    /// `21s`, `0.5s`, `0.025s`: whole milliseconds, no trailing zeros.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = Int64((duration / .milliseconds(1)).rounded())
        let whole = milliseconds / 1000
        let fraction = milliseconds % 1000
        guard fraction != 0 else { return "\(whole)s" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)s"
    }
}
