import Foundation

extension ConsoleLogger {
    /// This logger, also writing an "all services running" line each time `root` reaches `running`.
    ///
    /// ```text
    ///    0.467s  worker  starting → running  (starting 24.0ms)
    ///    0.467s  worker  all services running (startup 466.0ms)
    /// ```
    ///
    /// The root starts last, so its `starting → running` is the moment the whole tree runs. The
    /// startup time is measured from the first `→ starting` the logger saw since its previous
    /// "all services running" line, so a later start of the same tree gets its own line.
    public func announcingAllRunning(of root: ServiceID) -> ConsoleLogger {
        var logger = self
        logger.allRunningRoot = root
        return logger
    }

    /// This logger, also writing an "all services running" line each time `root` reaches `running`.
    ///
    /// The same as ``announcingAllRunning(of:)-(ServiceID)`` with `root.serviceID`.
    public func announcingAllRunning(of root: some Service) -> ConsoleLogger {
        announcingAllRunning(of: root.serviceID)
    }

    /// The lines a logger announcing `root` would write for `events`, in order; for replaying a
    /// recorded run.
    public static func lines(
        for events: [LifecycleEvent], announcingAllRunningOf root: ServiceID, colored: Bool = false
    ) -> [String] {
        var formatter = Formatter(colored: colored)
        var watch = AllRunningWatch(root: root)
        return events.flatMap { event in
            let line = formatter.line(for: event)
            guard let startup = watch.startup(after: event) else { return [line] }
            return [line, formatter.allRunningLine(event, startup: startup, again: watch.isAgain)]
        }
    }
}

extension ConsoleLogger.Formatter {
    /// The line that says the tree of `event`'s service (its root) runs, and how long startup took;
    /// `again` when the root ran before (a restart brought it back): the time is since the restart began.
    func allRunningLine(_ event: LifecycleEvent, startup: Duration, again: Bool = false) -> String {
        let what =
            again
            ? "all services running again (after \(EventText.duration(startup)))"
            : "all services running (startup \(EventText.duration(startup)))"
        return [
            String(format: "%8.3fs", EventText.seconds(event.time)), SafeText.escaped(event.service.name),
            colored ? "\u{1B}[32m" + what + "\u{1B}[0m" : what,
        ].joined(separator: "  ")
    }
}
