import Foundation
import LifecycleObservers
import Testing

/// The observers on a transcript with a restart (DESIGN §10): a line for `restartScheduled`, a
/// service that started twice, and `stopped → starting` accepted as legal.
@Suite struct RestartTranscriptTests {
    /// API needs Database then Cache. Cache's task fails at 5 s and Cache restarts after 100 ms
    /// (API with it); the tree stops at 9 s.
    static let restartedRun: [LifecycleEvent] = {
        let (database, cache, api) = (Fixture.database, Fixture.cache, Fixture.api)
        return [
            Fixture.event(database, .idle, .starting, at: 0),
            Fixture.event(database, .starting, .running, at: 40),
            Fixture.event(cache, .idle, .starting, at: 40),
            Fixture.event(cache, .starting, .running, at: 60),
            Fixture.event(api, .idle, .starting, at: 60),
            Fixture.event(api, .starting, .running, at: 90),
            Fixture.event(cache, .running, .running, at: 5_000, error: Boom("reset"), kind: .taskFailed),
            Fixture.event(
                cache, .running, .running, at: 5_000, kind: .restartScheduled(attempt: 1, delay: .milliseconds(100))),
            Fixture.event(api, .running, .stopping, at: 5_001),
            Fixture.event(api, .stopping, .stopped, at: 5_010),
            Fixture.event(cache, .running, .stopping, at: 5_010),
            Fixture.event(cache, .stopping, .stopped, at: 5_020),
            Fixture.event(cache, .stopped, .starting, at: 5_120),
            Fixture.event(cache, .starting, .running, at: 5_150),
            Fixture.event(api, .stopped, .starting, at: 5_150),
            Fixture.event(api, .starting, .running, at: 5_170),
            Fixture.event(api, .running, .running, at: 9_000, kind: .stopRequested(.requested)),
            Fixture.event(api, .running, .stopping, at: 9_000),
            Fixture.event(api, .stopping, .stopped, at: 9_010),
            Fixture.event(cache, .running, .stopping, at: 9_010),
            Fixture.event(cache, .stopping, .stopped, at: 9_020),
            Fixture.event(database, .running, .stopping, at: 9_020),
            Fixture.event(database, .stopping, .stopped, at: 9_030),
        ]
    }()

    @Test func theConsoleLoggerSaysARestartIsScheduledAndTimesTheBackoff() async {
        let lines = Lines()
        await ConsoleLogger { lines.append($0) }.observe(stream(of: Self.restartedRun))
        #expect(lines.all.count == Self.restartedRun.count)
        #expect(lines.all.contains { $0.contains("Cache") && $0.contains("restart 1 scheduled in 100.0ms") })
        // The restart's start line shows the time the service spent stopped: the backoff.
        #expect(lines.all.contains { $0.contains("Cache") && $0.contains("stopped → starting  (stopped 100.0ms)") })
    }

    @Test func jsonLinesCarryTheAttemptAndTheDelayOfARestart() async throws {
        let lines = Lines()
        await JSONLinesLogger { lines.append($0) }.observe(stream(of: Self.restartedRun))
        let records = try lines.all.map { try JSONDecoder().decode(JSONLifecycleRecord.self, from: Data($0.utf8)) }
        let scheduled = records.filter { $0.kind == "restartScheduled" }
        #expect(scheduled.count == 1)
        #expect(scheduled.first?.service == "Cache" && scheduled.first?.attempt == 1)
        #expect(scheduled.first?.delay == 0.1)
        #expect(records.filter { $0.from == "stopped" && $0.to == "starting" }.map(\.service) == ["Cache", "API"])
    }

    @Test func theTimingReportTimesTheFirstStartupNotTheRestart() {
        let report = TimingReport(Self.restartedRun)
        #expect(report.startup == .milliseconds(90))
        let cache = report.entries.first { $0.service == Fixture.cache }
        #expect(cache?.startDuration == .milliseconds(20))
        #expect(cache?.stopDuration == .milliseconds(10))  // the tree's stop, not the restart's
        #expect(cache?.stopBegan == .milliseconds(9_010))
        #expect(report.shutdown == .milliseconds(30))
        #expect(report.criticalPath == [Fixture.database, Fixture.cache, Fixture.api])
        #expect(report.table().contains("Cache"))
    }

    @Test func theTimingReportStillCountsTheLastOfSeveralRunsWithoutARestart() {
        // Two separate runs of one instance in one transcript (no restart between): the last counts.
        let second = Fixture.event(Fixture.cache, .stopped, .starting, at: 200)
        let events = [
            Fixture.event(Fixture.cache, .idle, .starting, at: 0),
            Fixture.event(Fixture.cache, .starting, .running, at: 10),
            Fixture.event(Fixture.cache, .running, .stopping, at: 100),
            Fixture.event(Fixture.cache, .stopping, .stopped, at: 110),
            second,
            Fixture.event(Fixture.cache, .starting, .running, at: 250),
        ]
        #expect(TimingReport(events).entries.first?.startDuration == .milliseconds(50))
    }

    @Test func theRecorderAcceptsARestartAsLegal() {
        let recorder = EventRecorder()
        for event in Self.restartedRun { recorder.record(event) }
        #expect(recorder.expectLegalTransitions() == nil)
        #expect(
            recorder.expectStates(
                of: Fixture.cache,
                [.idle, .starting, .running, .stopping, .stopped, .starting, .running, .stopping, .stopped]) == nil)
        #expect(
            recorder.order(reaching: .running) == [
                Fixture.database, Fixture.cache, Fixture.api, Fixture.cache, Fixture.api,
            ])
    }
}
