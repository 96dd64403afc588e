import Foundation
import LifecycleObservers
import Testing

/// `announcingAllRunning(of:)`: one extra line when the root reaches running, in both loggers.
@Suite(.timeLimit(.minutes(1))) struct AllRunningTests {
    /// The root API starts last, at 90 ms, 90 ms after Database began.
    static let run = Fixture.failingRun

    @Test func theConsoleLoggerSaysAllServicesRunRightAfterTheRootsStartAndOnlyThen() async {
        let lines = Lines()
        await ConsoleLogger { lines.append($0) }.announcingAllRunning(of: Fixture.api).observe(stream(of: Self.run))
        #expect(lines.all.count == Self.run.count + 1)
        #expect(lines.all[5] == "   0.090s  API  starting → running  (starting 30.0ms)")
        #expect(lines.all[6] == "   0.090s  API  all services running (startup 90.0ms)")
        #expect(lines.all.count { $0.contains("all services running") } == 1)
        // The replay gives the same lines as the live logger.
        #expect(ConsoleLogger.lines(for: Self.run, announcingAllRunningOf: Fixture.api) == lines.all)
    }

    @Test func withoutTheOptionOrWithAnotherRootNothingIsAdded() {
        #expect(!ConsoleLogger.lines(for: Self.run).joined().contains("all services running"))
        // Database reaches running too, but is not the root given: announced for it only when asked.
        let forDatabase = ConsoleLogger.lines(for: Self.run, announcingAllRunningOf: Fixture.database)
        #expect(forDatabase[2] == "   0.040s  Database  all services running (startup 40.0ms)")
        let forNobody = ConsoleLogger.lines(
            for: Self.run, announcingAllRunningOf: ServiceID(name: "API", number: 999_999))
        #expect(forNobody == ConsoleLogger.lines(for: Self.run))
    }

    @Test func aFailedStartIsNeverAnnounced() {
        let lines = ConsoleLogger.lines(for: Fixture.failedStart, announcingAllRunningOf: Fixture.queue)
        #expect(lines == ConsoleLogger.lines(for: Fixture.failedStart))
    }

    @Test func aLaterStartOfTheSameTreeIsAnnouncedAgainWithItsOwnStartupTime() {
        let again = [
            Fixture.event(Fixture.database, .stopped, .starting, at: 20_000),
            Fixture.event(Fixture.database, .starting, .running, at: 20_010),
            Fixture.event(Fixture.api, .stopped, .starting, at: 20_010),
            Fixture.event(Fixture.api, .starting, .running, at: 20_050),
        ]
        let lines = ConsoleLogger.lines(for: Self.run + again, announcingAllRunningOf: Fixture.api)
        #expect(
            lines.filter { $0.contains("all services running") } == [
                "   0.090s  API  all services running (startup 90.0ms)",
                "  20.050s  API  all services running again (after 50.0ms)",
            ])
    }

    @Test func colourAndHostileNamesStayTheLoggersOwn() {
        let root = ServiceID(name: "api\n   0.000s  forged  all services running", number: 77)
        let events = [
            Fixture.event(root, .idle, .starting, at: 0), Fixture.event(root, .starting, .running, at: 5),
        ]
        let plain = ConsoleLogger.lines(for: events, announcingAllRunningOf: root)
        let coloured = ConsoleLogger.lines(for: events, announcingAllRunningOf: root, colored: true)
        #expect(plain.count == 3)
        #expect(
            plain[2]
                == #"   0.005s  api\n   0.000s  forged  all services running  all services running (startup 5.0ms)"#)
        #expect(coloured[2].hasSuffix("\u{1B}[32mall services running (startup 5.0ms)\u{1B}[0m"))
        #expect(coloured.map(withoutColours) == plain)
    }

    @Test func theJSONLoggerWritesAnAllRunningLineOfTheSameShape() async throws {
        let lines = Lines()
        await JSONLinesLogger { lines.append($0) }.announcingAllRunning(of: Fixture.api).observe(stream(of: Self.run))
        #expect(lines.all.count == Self.run.count + 1)
        #expect(
            lines.all[6]
                == #"{"cause":null,"error":null,"from":"running","id":903,"kind":"allRunning","#
                + #""service":"API","time":0.09,"to":"running"}"#)
        #expect(lines.all[6] == JSONLinesLogger.allRunningLine(for: Self.run[5]))
        let record = try JSONDecoder().decode(JSONLifecycleRecord.self, from: Data(lines.all[6].utf8))
        #expect(record.serviceID == Fixture.api)
        #expect(record.eventKind == nil)
        // Every other line is the event's own line.
        var others = lines.all
        others.remove(at: 6)
        #expect(others == Self.run.map(JSONLinesLogger.line(for:)))
    }

    @Test func aRealRunIsAnnouncedOnceAfterTheRootRuns() async throws {
        let console = Lines()
        let json = Lines()
        let database = ClosureService(name: "db")
        let api = ClosureService(name: "api", dependencies: [database])
        let loggers: [any LifecycleObserver] = [
            ConsoleLogger { console.append($0) }.announcingAllRunning(of: api),
            JSONLinesLogger { json.append($0) }.announcingAllRunning(of: api),
        ]
        try await withRunning(api, observers: loggers) { _ in }
        let announced = try #require(console.all.firstIndex { $0.contains("api  all services running (startup ") })
        #expect(console.all[announced - 1].contains("api  starting → running"))
        #expect(console.all.count { $0.contains("all services running") } == 1)
        #expect(json.all.count { $0.contains(#""kind":"allRunning""#) } == 1)
    }
}
