extension TimingReport {
    /// The report as a plain-text table: one row per service (start and stop durations, `*` on the
    /// critical path, the outcome when it failed, `timed out` for a stop abandoned at its timeout),
    /// then the totals and the critical path.
    ///
    /// ```text
    ///    service   start   stop
    /// *  Database  40.0ms  10.0ms
    /// *  Cache     20.0ms  10.000s (timed out)
    /// *  API       30.0ms  8.0ms
    /// startup 90.0ms, shutdown 10.018s
    /// critical path: Database → Cache → API
    /// ```
    ///
    /// One row per service whatever its name: control characters in names are shown escaped
    /// (`\n`, `\u{1B}`), as ``ConsoleLogger`` shows them.
    public func table() -> String {
        let onPath = Set(criticalPath)
        let rows = entries.map { entry in
            [
                onPath.contains(entry.service) ? "*" : " ", SafeText.escaped(entry.service.name),
                Self.cell(entry.startDuration, outcome: entry.startOutcome, success: .running),
                entry.stopTimedOut
                    ? entry.stopDuration.map { "\(EventText.duration($0)) (timed out)" } ?? "-"
                    : Self.cell(entry.stopDuration, outcome: entry.stopOutcome, success: .stopped),
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
            "startup \(startup.map(EventText.duration) ?? "-"), shutdown \(shutdown.map(EventText.duration) ?? "-")"
                + (drain.map { ", drain before it \(EventText.duration($0))" } ?? ""))
        lines.append(
            "critical path: "
                + (criticalPath.isEmpty ? "-" : criticalPath.map { SafeText.escaped($0.name) }.joined(separator: " → "))
        )
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as a Mermaid `gantt` chart: a section for startup and one for shutdown, a bar per
    /// service, the critical path marked `crit`; startup bars in the order of ``entries``, shutdown
    /// bars in the order the stops began.
    ///
    /// Times are whole milliseconds on the runner's clock (`dateFormat x`), so starts shorter than
    /// a millisecond draw as thin bars. Services whose start or stop did not end have no bar.
    ///
    /// Every service gets its own bar whatever its name. A bar's id (`start3`, `stop3`: the third
    /// entry) never comes from the name; the name is a label with Mermaid's entity codes (`#58;`)
    /// for the characters Gantt syntax acts on, its first character coded too when the name begins
    /// like a keyword ("Title Service", "Section Cache", "2024-06-01 backfill"); control
    /// characters are shown escaped, long names cut, an empty one drawn as `(empty name)`.
    public func mermaidGantt() -> String {
        let onPath = Set(criticalPath)
        var lines = ["gantt", "    title Startup and shutdown", "    dateFormat x", "    axisFormat %S.%L s"]
        lines.append("    section Startup")
        for (index, entry) in entries.enumerated() {
            guard let began = entry.startBegan, let ended = entry.startEnded else { continue }
            let tags = onPath.contains(entry.service) ? "crit, " : ""
            let name = Self.label(entry.service, entry.startOutcome, .running)
            lines.append("    \(name) : \(tags)start\(index + 1), \(Self.ms(began)), \(Self.ms(ended))")
        }
        lines.append("    section Shutdown")
        // Shutdown runs in reverse: bars in the order the stops began.
        let stopOrder = entries.indices.sorted { (entries[$0].stopBegan ?? .zero) < (entries[$1].stopBegan ?? .zero) }
        for index in stopOrder {
            let entry = entries[index]
            guard let began = entry.stopBegan, let ended = entry.stopEnded else { continue }
            let name = Self.label(entry.service, entry.stopOutcome, .stopped)
            lines.append("    \(name) : stop\(index + 1), \(Self.ms(began)), \(Self.ms(ended))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func cell(_ duration: Duration?, outcome: ServiceState?, success: ServiceState) -> String {
        guard let duration else { return "-" }
        let text = EventText.duration(duration)
        return outcome == success ? text : "\(text) (\(outcome?.rawValue ?? "unfinished"))"
    }

    /// A bar's label: the service's name, with the outcome when it is not `success`.
    private static func label(_ service: ServiceID, _ outcome: ServiceState?, _ success: ServiceState) -> String {
        let name = DiagramLabel.text(service.name)
        return DiagramLabel.ganttTask(outcome == success ? name : "\(name) (\(outcome?.rawValue ?? "unfinished"))")
    }

    private static func ms(_ time: Duration) -> Int {
        Int((EventText.seconds(time) * 1000).rounded())
    }
}
