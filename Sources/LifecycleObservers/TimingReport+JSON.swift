import Foundation

extension TimingReport {
    /// The report as one JSON object on one line, for the same pipelines as ``JSONLinesLogger``.
    ///
    /// ```json
    /// {"criticalPath":["config","database","queue","http","worker"],"kind":"timingReport",
    ///  "services":[{"id":1,"service":"config","start":0.022,"startOutcome":"running","stop":0.002,
    ///  "stopOutcome":"stopped","stopTimedOut":false}, …],"shutdown":0.32,"startup":0.466}
    /// ```
    ///
    /// (one line in the output). Keys are sorted and always present, `null` when they do not apply;
    /// times are seconds, as in ``JSONLifecycleRecord``. `kind` is `timingReport`, so a reader can
    /// tell this line from the event lines it follows. `services` lists ``entries`` in their order;
    /// `start` and `stop` are ``Entry/startDuration`` and ``Entry/stopDuration``, the outcomes the
    /// state each ended in.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and nulls only: encoding cannot fail; say so if it ever does.
        guard let data = try? encoder.encode(Record(self)) else {
            return #"{"error":"TimingReport could not encode itself","kind":"timingReport"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The report's JSON shape.
    private struct Record: Encodable {
        let report: TimingReport
        init(_ report: TimingReport) { self.report = report }

        enum Keys: String, CodingKey { case kind, startup, shutdown, criticalPath, services }
        enum EntryKeys: String, CodingKey {
            case service, id, start, startOutcome, stop, stopOutcome, stopTimedOut
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("timingReport", forKey: .kind)
            try container.encode(report.startup.map(EventText.seconds), forKey: .startup)
            try container.encode(report.shutdown.map(EventText.seconds), forKey: .shutdown)
            try container.encode(report.criticalPath.map(\.name), forKey: .criticalPath)
            var services = container.nestedUnkeyedContainer(forKey: .services)
            for entry in report.entries {
                var row = services.nestedContainer(keyedBy: EntryKeys.self)
                try row.encode(entry.service.name, forKey: .service)
                try row.encode(entry.service.number, forKey: .id)
                try row.encode(entry.startDuration.map(EventText.seconds), forKey: .start)
                try row.encode(entry.startOutcome?.rawValue, forKey: .startOutcome)
                try row.encode(entry.stopDuration.map(EventText.seconds), forKey: .stop)
                try row.encode(entry.stopOutcome?.rawValue, forKey: .stopOutcome)
                try row.encode(entry.stopTimedOut, forKey: .stopTimedOut)
            }
        }
    }
}
