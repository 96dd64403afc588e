import Foundation
import LifecycleObservers
import Testing

/// `TimingReport.jsonLine()` and the timed-out stop the table and the line name.
@Suite(.timeLimit(.minutes(1))) struct TimingReportJSONTests {
    @Test func aStopAbandonedAtItsTimeoutIsMarkedTimedOut() throws {
        let report = TimingReport(Fixture.failingRun)
        let cache = try #require(report.entries.first { $0.service == Fixture.cache })
        #expect(cache.stopTimedOut)
        #expect(cache.stopOutcome == .failed)
        #expect(report.entries.filter(\.stopTimedOut).map(\.service) == [Fixture.cache])
    }

    @Test func aStopThatThrowsIsFailedNotTimedOut() throws {
        let events = [
            Fixture.event(Fixture.queue, .idle, .starting, at: 0),
            Fixture.event(Fixture.queue, .starting, .running, at: 5),
            Fixture.event(Fixture.queue, .running, .stopping, at: 10),
            Fixture.event(Fixture.queue, .stopping, .failed, at: 12, error: Boom("disk full")),
        ]
        let report = TimingReport(events)
        #expect(report.entries.first?.stopTimedOut == false)
        #expect(report.table().contains("Queue    5.0ms  2.0ms (failed)"))
    }

    @Test func theJSONLineHasEveryKeySortedAndTheTimesInSeconds() {
        let line = TimingReport(Fixture.failingRun).jsonLine()
        #expect(!line.contains("\n"))
        #expect(
            line
                == #"{"criticalPath":["Database","Cache","API"],"kind":"timingReport","services":["#
                + #"{"id":901,"service":"Database","start":0.04,"startOutcome":"running","stop":0.01,"#
                + #""stopOutcome":"stopped","stopTimedOut":false},"#
                + #"{"id":902,"service":"Cache","start":0.02,"startOutcome":"running","stop":10,"#
                + #""stopOutcome":"failed","stopTimedOut":true},"#
                + #"{"id":903,"service":"API","start":0.03,"startOutcome":"running","stop":0.008,"#
                + #""stopOutcome":"stopped","stopTimedOut":false}],"shutdown":10.018,"startup":0.09}"#)
    }

    @Test func whatDidNotHappenIsNull() throws {
        let line = TimingReport(Fixture.failedStart).jsonLine()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["startup"] is NSNull)
        #expect(object["shutdown"] is NSNull)
        #expect((object["criticalPath"] as? [Any])?.isEmpty == true)
        let queue = try #require((object["services"] as? [[String: Any]])?.first)
        #expect(queue["startOutcome"] as? String == "failed")
        #expect(queue["stop"] is NSNull)
        #expect(queue["stopOutcome"] is NSNull)
        #expect(TimingReport([]).jsonLine().contains(#""services":[]"#))
    }

    @Test func aHostileNameIsEscapedAndParsesBack() throws {
        let name = "db\"\n\u{2028}\u{1B}[31m"
        let id = ServiceID(name: name, number: 5)
        let report = TimingReport([
            Fixture.event(id, .idle, .starting, at: 0), Fixture.event(id, .starting, .running, at: 1),
        ])
        let line = report.jsonLine()
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let services = try #require(object["services"] as? [[String: Any]])
        #expect(services.first?["service"] as? String == name)
    }
}
