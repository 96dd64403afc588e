extension TimingReport {
    /// The report as a plain-text table: one row per service (start and stop durations, `*` on the
    /// critical path, the outcome when it failed), then the totals and the critical path.
    ///
    /// ```text
    ///    service   start   stop
    /// *  Database  40.0ms  10.0ms
    /// *  Cache     20.0ms  10.000s (failed)
    /// *  API       30.0ms  8.0ms
    /// startup 90.0ms, shutdown 10.018s
    /// critical path: Database → Cache → API
    /// ```
    public func table() -> String {
        let onPath = Set(criticalPath)
        let rows = entries.map { entry in
            [
                onPath.contains(entry.service) ? "*" : " ", entry.service.name,
                Self.cell(entry.startDuration, outcome: entry.startOutcome, success: .running),
                Self.cell(entry.stopDuration, outcome: entry.stopOutcome, success: .stopped),
            ]
        }
        let all = [[" ", "service", "start", "stop"]] + rows
        let widths = (0..<4).map { column in all.map { $0[column].count }.max() ?? 0 }
        var lines = all.map { row in
            row.enumerated().map { column, text in
                column == 3 ? text : text + String(repeating: " ", count: widths[column] - text.count)
            }.joined(separator: "  ")
        }
        lines = lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }
        lines.append(
            "startup \(startup.map(EventText.duration) ?? "-"), shutdown \(shutdown.map(EventText.duration) ?? "-")")
        lines.append(
            "critical path: " + (criticalPath.isEmpty ? "-" : criticalPath.map(\.name).joined(separator: " → ")))
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as a Mermaid `gantt` chart: a section for startup and one for shutdown, a bar per
    /// service, the critical path marked `crit`; startup bars in the order of ``entries``, shutdown
    /// bars in the order the stops began.
    ///
    /// Times are whole milliseconds on the runner's clock (`dateFormat x`), so starts shorter than
    /// a millisecond draw as thin bars. Services whose start or stop did not end have no bar.
    public func mermaidGantt() -> String {
        let onPath = Set(criticalPath)
        var lines = ["gantt", "    title Startup and shutdown", "    dateFormat x", "    axisFormat %S.%L s"]
        lines.append("    section Startup")
        for entry in entries {
            guard let began = entry.startBegan, let ended = entry.startEnded else { continue }
            let tags = onPath.contains(entry.service) ? "crit, " : ""
            let name = Self.label(entry.service, entry.startOutcome, .running)
            lines.append("    \(name) : \(tags)\(Self.ms(began)), \(Self.ms(ended))")
        }
        lines.append("    section Shutdown")
        // Shutdown runs in reverse: bars in the order the stops began.
        for entry in entries.sorted(by: { ($0.stopBegan ?? .zero) < ($1.stopBegan ?? .zero) }) {
            guard let began = entry.stopBegan, let ended = entry.stopEnded else { continue }
            let name = Self.label(entry.service, entry.stopOutcome, .stopped)
            lines.append("    \(name) : \(Self.ms(began)), \(Self.ms(ended))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func cell(_ duration: Duration?, outcome: ServiceState?, success: ServiceState) -> String {
        guard let duration else { return "-" }
        let text = EventText.duration(duration)
        return outcome == success ? text : "\(text) (\(outcome?.rawValue ?? "unfinished"))"
    }

    /// A bar's name: Mermaid ends a task's name at `:` and a line at `;` or `#`, so those become spaces.
    private static func label(_ service: ServiceID, _ outcome: ServiceState?, _ success: ServiceState) -> String {
        let name = String(service.name.map { ":;#".contains($0) ? " " : $0 })
        return outcome == success ? name : "\(name) (\(outcome?.rawValue ?? "unfinished"))"
    }

    private static func ms(_ time: Duration) -> Int {
        Int((EventText.seconds(time) * 1000).rounded())
    }
}
