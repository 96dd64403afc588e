import Foundation
import LifecycleObservers
import Testing

@Suite(.timeLimit(.minutes(1))) struct JSONLinesLoggerTests {
    @Test func aJSONLineHasEveryKeySortedWithNullsForWhatDoesNotApply() {
        let running = Fixture.event(Fixture.database, .starting, .running, at: 40)
        #expect(
            JSONLinesLogger.line(for: running)
                == #"{"cause":null,"error":null,"from":"starting","id":901,"kind":"transition","#
                + #""service":"Database","time":0.04,"to":"running"}"#)
        let stop = Fixture.event(Fixture.api, .running, .running, at: 501, kind: .stopRequested(.signal(15)))
        #expect(
            JSONLinesLogger.line(for: stop)
                == #"{"cause":"signal 15","error":null,"from":"running","id":903,"kind":"stopRequested","#
                + #""service":"API","time":0.501,"to":"running"}"#)
    }

    @Test(arguments: [Fixture.failingRun, Fixture.failedStart])
    func jsonLinesParseBackToTheSameEvents(_ events: [LifecycleEvent]) async throws {
        let lines = Lines()
        await JSONLinesLogger { lines.append($0) }.observe(stream(of: events))
        #expect(lines.all.count == events.count)
        for (line, event) in zip(lines.all, events) {
            #expect(!line.contains("\n"))
            let record = try JSONDecoder().decode(JSONLifecycleRecord.self, from: Data(line.utf8))
            #expect(record.serviceID == event.service)
            #expect(record.service == event.service.name)
            #expect(record.fromState == event.from)
            #expect(record.toState == event.to)
            #expect(record.error == event.error.map { "\($0)" })
            #expect(record.stopCause == event.stopCause)
            #expect(record.cause == event.stopCause?.description)
            #expect(record.eventKind == event.kind)
            #expect(
                abs(
                    record.time - Double(event.time.components.seconds) - Double(event.time.components.attoseconds)
                        / 1e18) < 1e-9)
            #expect(record == JSONLifecycleRecord(event))
        }
    }

    @Test func failuresCarryTheirErrorText() throws {
        let failed = try #require(Fixture.failingRun.first { $0.to == .failed })
        let record = try JSONDecoder().decode(
            JSONLifecycleRecord.self, from: Data(JSONLinesLogger.line(for: failed).utf8))
        #expect(
            record.error == "Cache did not stop within its gracefulShutdownTimeout of 10.0 seconds and was abandoned")
        #expect(record.kind == "transition")
        #expect(record.cause == nil)
    }

    @Test func jsonLinesOfARealRunNameEveryService() async throws {
        let lines = Lines()
        let database = ClosureService(name: "db")
        let broken = ClosureService(name: "broken", dependencies: [database], start: { throw Boom("refused") })
        await #expect(throws: Boom.self) {
            try await withRunning(broken, observers: [JSONLinesLogger { lines.append($0) }]) { _ in }
        }
        let records = try lines.all.map { try JSONDecoder().decode(JSONLifecycleRecord.self, from: Data($0.utf8)) }
        let transitions = records.filter { $0.kind == "transition" }.map { "\($0.service) \($0.from)→\($0.to)" }
        #expect(
            transitions == [
                "db idle→starting", "db starting→running", "broken idle→starting", "broken starting→failed",
                "db running→stopping", "db stopping→stopped",
            ])
        #expect(records.first { $0.to == "failed" }?.error == "refused")
        #expect(
            records.allSatisfy { $0.id == ($0.service == "db" ? database.serviceID.number : broken.serviceID.number) })
    }
}

@Suite(.timeLimit(.minutes(1))) struct JSONLinesLoggerRobustnessTests {
    @Test func everyHostileNameAndErrorRoundTripsThroughOneJSONLine() async throws {
        for (number, name) in (Hostile.names + [Hostile.longName]).enumerated() {
            let events = Hostile.run(of: name, number: number)
            let lines = Lines()
            await JSONLinesLogger { lines.append($0) }.observe(stream(of: events))
            #expect(lines.all.count == events.count)
            for line in lines.all {
                #expect(!line.hasControlCharacters, "\(line.debugDescription)")
                let record = try JSONDecoder().decode(JSONLifecycleRecord.self, from: Data(line.utf8))
                #expect(record.service == name)
                #expect(record.error == nil || record.error == "refused: \(name)")
            }
        }
    }
}
