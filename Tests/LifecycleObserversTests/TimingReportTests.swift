import LifecycleObservers
import Testing

@Suite(.timeLimit(.minutes(1))) struct TimingReportTests {
    /// api needs [db, Parallel(cache, queue), server]; cache needs config. Queue is the slow one,
    /// so the startup is decided by db → queue → server → api.
    struct KnownTree {
        let config = ClosureService(name: "config")
        let db = ClosureService(name: "db")
        let cache: ClosureService
        let queue = ClosureService(name: "queue")
        let server = ClosureService(name: "server")
        let api: ClosureService

        init() {
            cache = ClosureService(name: "cache", dependencies: [config])
            api = ClosureService(name: "api", dependencies: [db, Parallel(cache, queue), server])
        }

        var events: [LifecycleEvent] {
            func up(_ service: any Service, _ began: Int, _ ended: Int) -> [LifecycleEvent] {
                [
                    Fixture.event(service.serviceID, .idle, .starting, at: began),
                    Fixture.event(service.serviceID, .starting, .running, at: ended),
                ]
            }
            func down(_ service: any Service, _ began: Int, _ ended: Int) -> [LifecycleEvent] {
                [
                    Fixture.event(service.serviceID, .running, .stopping, at: began),
                    Fixture.event(service.serviceID, .stopping, .stopped, at: ended),
                ]
            }
            let start: [LifecycleEvent] = [
                up(db, 0, 10)[0], up(db, 0, 10)[1],
                up(config, 10, 11)[0], up(config, 10, 11)[1],
                up(cache, 11, 50)[0], up(queue, 12, 70)[0],
                up(cache, 11, 50)[1], up(queue, 12, 70)[1],
            ]
            let stopCause = Fixture.event(api.serviceID, .running, .running, at: 200, kind: .stopRequested(.requested))
            return start + up(server, 70, 80) + up(api, 80, 85) + [stopCause] + down(api, 200, 202)
                + down(server, 202, 205) + [down(cache, 205, 215)[0], down(queue, 205, 207)[0]]
                + [down(queue, 205, 207)[1], down(cache, 205, 215)[1]] + down(config, 215, 216) + down(db, 216, 220)
        }
    }

    @Test func theCriticalPathFollowsTheDependenciesOfTheRoot() {
        let tree = KnownTree()
        let report = TimingReport(tree.events, root: tree.api)
        #expect(report.criticalPath == [tree.db, tree.queue, tree.server, tree.api].map(\.serviceID))
        #expect(report.startup == .milliseconds(85))
        #expect(report.shutdown == .milliseconds(20))
    }

    @Test func withoutARootTheCriticalPathFollowsTimeAdjacency() {
        let tree = KnownTree()
        let report = TimingReport(tree.events)
        // config became running just before queue began, so adjacency takes it for queue's cause.
        #expect(report.criticalPath == [tree.db, tree.config, tree.queue, tree.server, tree.api].map(\.serviceID))
    }

    @Test func eachServiceHasItsStartAndStopDurations() throws {
        let tree = KnownTree()
        let report = TimingReport(tree.events, root: tree.api)
        #expect(report.entries.map(\.service.name) == ["db", "config", "cache", "queue", "server", "api"])
        let cache = try #require(report.entries.first { $0.service == tree.cache.serviceID })
        #expect(cache.startDuration == .milliseconds(39))
        #expect(cache.stopDuration == .milliseconds(10))
        #expect(cache.startOutcome == .running)
        #expect(cache.stopOutcome == .stopped)
    }

    @Test func failuresShowInTheTableAndTheChart() {
        let report = TimingReport(Fixture.failingRun)
        #expect(report.criticalPath == [Fixture.database, Fixture.cache, Fixture.api])
        #expect(report.startup == .milliseconds(90))
        #expect(report.shutdown == .milliseconds(10_018))
        #expect(
            report.table() == """
                   service   start   stop
                *  Database  40.0ms  10.0ms
                *  Cache     20.0ms  10.000s (failed)
                *  API       30.0ms  8.0ms
                startup 90.0ms, shutdown 10.018s
                critical path: Database → Cache → API

                """)
        #expect(
            report.mermaidGantt() == """
                gantt
                    title Startup and shutdown
                    dateFormat x
                    axisFormat %S.%L s
                    section Startup
                    Database : crit, 0, 40
                    Cache : crit, 40, 60
                    API : crit, 60, 90
                    section Shutdown
                    API : 502, 510
                    Cache (failed) : 510, 10510
                    Database : 10510, 10520

                """)
    }

    @Test func aFailedStartIsTimedButNotOnThePath() throws {
        let report = TimingReport(Fixture.failedStart)
        let queue = try #require(report.entries.first)
        #expect(queue.startDuration == .milliseconds(5))
        #expect(queue.startOutcome == .failed)
        #expect(queue.stopDuration == nil)
        #expect(report.criticalPath.isEmpty)
        #expect(report.startup == nil)
        #expect(
            report.table() == """
                   service  start           stop
                   Queue    5.0ms (failed)  -
                startup -, shutdown -
                critical path: -

                """)
    }

    @Test func aRealRunGivesAReportWithGenerousBounds() async throws {
        let recorder = EventRecorder()
        let db = ClosureService(name: "db", start: { try await Task.sleep(for: .milliseconds(20)) })
        let api = ClosureService(name: "api", dependencies: [db])
        try await withRunning(api, observers: [recorder]) { _ in }
        let report = TimingReport(recorder.events, root: api)
        #expect(report.criticalPath == [db.serviceID, api.serviceID])
        let startup = try #require(report.startup)
        #expect(startup >= .milliseconds(20) && startup < .seconds(30))
        #expect(report.entries.allSatisfy { $0.stopOutcome == .stopped })
    }
}
