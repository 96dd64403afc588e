import Foundation
import LifecycleObservers
import Testing

/// The observers and the event kinds of DESIGN §12–§13: `.shutdownStalled`, `.draining`, `.deadline`.
@Suite(.timeLimit(.minutes(1))) struct ShutdownEventTests {
    static let api = Fixture.api
    static let database = Fixture.database

    /// API drains, stops, then Database's stop stalls twice before it returns.
    static let stalledRun: [LifecycleEvent] = [
        Fixture.event(database, .idle, .starting, at: 0),
        Fixture.event(database, .starting, .running, at: 40),
        Fixture.event(api, .idle, .starting, at: 40),
        Fixture.event(api, .starting, .running, at: 90),
        Fixture.event(api, .running, .running, at: 1_000, kind: .stopRequested(.signal(15))),
        Fixture.event(api, .running, .running, at: 1_000, kind: .draining),
        Fixture.event(api, .running, .stopping, at: 3_000),
        Fixture.event(api, .stopping, .stopped, at: 3_010),
        Fixture.event(database, .running, .stopping, at: 3_010),
        Fixture.event(api, .stopped, .stopped, at: 8_010, kind: .shutdownStalled(stopping: [database])),
        Fixture.event(api, .stopped, .stopped, at: 13_010, kind: .shutdownStalled(stopping: [database])),
        Fixture.event(api, .stopped, .stopped, at: 28_000, kind: .stopRequested(.deadline)),
        Fixture.event(database, .stopping, .stopped, at: 28_010),
    ]

    @Test func theConsoleLoggerPrintsTheDrainTheStallsWithHowLongEachStopRanAndTheDeadline() {
        let lines = ConsoleLogger.lines(for: Self.stalledRun)
        #expect(lines[5] == "   1.000s  API  draining")
        #expect(lines[9] == "   8.010s  API  shutdown stalled, still stopping: Database (for 5.000s)")
        #expect(lines[10] == "  13.010s  API  shutdown stalled, still stopping: Database (for 10.000s)")
        #expect(lines[11] == "  28.000s  API  stop requested (deadline)")
    }

    @Test func theJSONLinesLoggerWritesTheStalledServicesAndParsesThemBack() throws {
        let lines = Self.stalledRun.map(JSONLinesLogger.line(for:))
        #expect(lines[5].contains(#""kind":"draining""#))
        #expect(!lines[5].contains("stopping\":["))  // the key only on stall reports
        #expect(lines[9].contains(#""stopping":[{"id":901,"service":"Database"}]"#))
        #expect(lines[11].contains(#""cause":"deadline""#))
        let decoder = JSONDecoder()
        for (line, event) in zip(lines, Self.stalledRun) {
            let record = try decoder.decode(JSONLifecycleRecord.self, from: Data(line.utf8))
            #expect(record.eventKind == event.kind)
        }
    }

    @Test func theEventRecorderCollectsStallReportsCausesAndTheDrain() {
        let recorder = EventRecorder()
        for event in Self.stalledRun { recorder.record(event) }
        #expect(recorder.stallReports == [[Self.database], [Self.database]])
        #expect(recorder.stopCauses == [.signal(15), .deadline])
        #expect(recorder.hasDrained)
        #expect(recorder.expectLegalTransitions() == nil)  // events that change no state are no transitions
        #expect(recorder.transitions(of: Self.api).count == 4)
    }

    @Test func theTimingReportTimesTheDrainAndIgnoresStallReports() {
        let report = TimingReport(Self.stalledRun)
        #expect(report.drain == .seconds(2))
        #expect(report.shutdown == .milliseconds(25_010))
        #expect(report.table().contains("startup 90.0ms, shutdown 25.010s, drain before it 2.000s"))
        #expect(TimingReport(Fixture.failingRun).drain == nil)
        #expect(!TimingReport(Fixture.failingRun).table().contains("drain"))
    }

    @Test func theTreeDiagramColoursByTransitionsOnly() {
        let database = ServiceTreeDiagramFixture()
        let withExtras = ServiceTreeDiagram(database.root, events: database.events + database.extras)
        let without = ServiceTreeDiagram(database.root, events: database.events)
        #expect(withExtras.mermaid() == without.mermaid())
        #expect(withExtras.dot() == without.dot())
    }
}

/// A one-service tree whose events end in stall reports and a drain that must not recolour it.
private struct ServiceTreeDiagramFixture {
    final class Root: Service {}
    let root = Root()
    var events: [LifecycleEvent] {
        [
            LifecycleEvent(service: root.serviceID, from: .idle, to: .starting, time: .zero),
            LifecycleEvent(service: root.serviceID, from: .starting, to: .running, time: .seconds(1)),
        ]
    }
    var extras: [LifecycleEvent] {
        [
            LifecycleEvent(service: root.serviceID, from: .stopped, to: .stopped, time: .seconds(2), kind: .draining),
            LifecycleEvent(
                service: root.serviceID, from: .failed, to: .failed, time: .seconds(3),
                kind: .shutdownStalled(stopping: [root.serviceID])),
        ]
    }
}
