import Foundation

extension JSONLinesLogger {
    /// This logger, also writing an `allRunning` line each time `root` reaches `running`.
    ///
    /// ```json
    /// {"cause":null,"error":null,"from":"running","id":6,"kind":"allRunning","service":"worker","time":0.467,"to":"running"}
    /// ```
    ///
    /// The line has the shape of every other line (the same keys, `from == to == "running"`), right
    /// after the root's `starting → running`, so a pipeline can key on `kind` alone;
    /// ``JSONLifecycleRecord/eventKind`` is `nil` for it, since no ``LifecycleEvent`` has that kind.
    public func announcingAllRunning(of root: ServiceID) -> JSONLinesLogger {
        var logger = self
        logger.allRunningRoot = root
        return logger
    }

    /// This logger, also writing an `allRunning` line each time `root` reaches `running`.
    ///
    /// The same as ``announcingAllRunning(of:)-(ServiceID)`` with `root.serviceID`.
    public func announcingAllRunning(of root: some Service) -> JSONLinesLogger {
        announcingAllRunning(of: root.serviceID)
    }

    /// The JSON line (without its newline) that says the tree whose root moved in `event` runs.
    public static func allRunningLine(for event: LifecycleEvent) -> String {
        allRunningLine(event, encoder: makeEncoder())
    }

    static func allRunningLine(_ event: LifecycleEvent, encoder: JSONEncoder) -> String {
        var record = JSONLifecycleRecord(event)
        record.kind = "allRunning"
        record.from = ServiceState.running.rawValue
        record.to = ServiceState.running.rawValue
        record.error = nil
        record.cause = nil
        return line(for: record, encoder: encoder)
    }
}
