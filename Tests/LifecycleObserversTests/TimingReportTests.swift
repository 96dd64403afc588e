import Foundation
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
                *  Cache     20.0ms  10.000s (timed out)
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
                    Database : crit, start1, 0, 40
                    Cache : crit, start2, 40, 60
                    API : crit, start3, 60, 90
                    section Shutdown
                    API : stop3, 502, 510
                    Cache (failed) : stop2, 510, 10510
                    Database : stop1, 10510, 10520

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

/// Reports users paste into their docs and terminals: no name may break them, no size may stall them.
@Suite(.timeLimit(.minutes(1))) struct TimingReportRobustnessTests {
    /// Each name's service starts and stops in turn, 10 ms each step.
    static func events(of names: [String]) -> [LifecycleEvent] {
        names.enumerated().flatMap { number, name in
            let id = ServiceID(name: name, number: number)
            let at = number * 40
            return [
                Fixture.event(id, .idle, .starting, at: at), Fixture.event(id, .starting, .running, at: at + 10),
                Fixture.event(id, .running, .stopping, at: at + 20),
                Fixture.event(id, .stopping, .stopped, at: at + 30),
            ]
        }
    }

    @Test func theTableHasOneRowPerServiceWhateverTheNames() {
        let names = Hostile.names
        let table = TimingReport(Self.events(of: names)).table()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { !$0.hasControlCharacters })
        // The header, a row per service, the totals, the critical path, and the final newline.
        #expect(lines.count == names.count + 4)
        #expect(lines.contains { $0.hasPrefix(#"*  db\r\n   0.001s  API  stopping → stopped"#) })
        #expect(lines[lines.count - 2].hasPrefix(#"critical path: db\n   0.001s"#))
    }

    @Test func everyServiceGetsItsOwnGanttBarWhateverItsName() throws {
        let names = Hostile.names + [Hostile.longName, "Database"]
        let chart = TimingReport(Self.events(of: names)).mermaidGantt()
        let lines = chart.split(separator: "\n")
        #expect(lines.allSatisfy { !$0.hasControlCharacters })
        #expect(!chart.contains("%%"))
        #expect(
            lines.prefix(5) == [
                "gantt", "    title Startup and shutdown", "    dateFormat x", "    axisFormat %S.%L s",
                "    section Startup",
            ])
        #expect(lines.filter { $0.hasPrefix("    section ") } == ["    section Startup", "    section Shutdown"])
        let bars = lines.compactMap { $0.wholeMatch(of: /\s{4}(.+) : (?:crit, )?(start|stop)([0-9]+), [0-9]+, [0-9]+/) }
        #expect(bars.count == 2 * names.count)
        #expect(Set(bars.map { "\($0.output.2)\($0.output.3)" }).count == 2 * names.count)
        for bar in bars {
            let label = String(bar.output.1)
            // Only entity codes: no character Gantt syntax acts on, no comment, no keyword at the start.
            let bare = label.replacing(/#[0-9]+;/, with: "")
            #expect(!bare.contains { ":;#%".contains($0) }, "\(label)")
            #expect(label.first.map { $0.isLetter || $0 == "#" } == true, "\(label)")
            #expect(!ganttKeywords.contains { label.lowercased().hasPrefix($0) }, "\(label)")
        }
        // What Mermaid draws: the name itself, when it has nothing to escape and fits.
        let drawn = Set(bars.map { mermaidDecoded(String($0.output.1)) })
        for name in names where !name.hasControlCharacters && !name.isEmpty && name.count <= 200 {
            #expect(drawn.contains(name), "\(name)")
        }
        #expect(drawn.contains("(empty name)"))
        #expect(chart.contains("    Database : crit, start\(names.count), "))
        #expect(chart.contains("    #84;itle Service : crit, start"))
    }

    @Test func theCriticalPathOfATwelveThousandServiceChainIsFoundWellWithinSeconds() {
        // Built leaf first; `all` holds the root first, so releasing it never recurses down the chain.
        var all: [ClosureService] = [ClosureService(name: "s12000")]
        for number in (1..<12_000).reversed() {
            all.append(ClosureService(name: "s\(number)", dependencies: [all[all.count - 1]]))
        }
        let ids = all.map(\.serviceID)
        all.reverse()
        let events = ids.enumerated().flatMap { step, id in
            [Fixture.event(id, .idle, .starting, at: step), Fixture.event(id, .starting, .running, at: step + 1)]
        }
        let clock = ContinuousClock()
        var byDependencies: [ServiceID] = []
        var byTime: [ServiceID] = []
        let elapsed = clock.measure {
            byDependencies = TimingReport(events, root: all[0]).criticalPath
            byTime = TimingReport(events).criticalPath
        }
        #expect(byDependencies == ids)
        #expect(byTime == ids)
        // Quadratic, it took 15 s in release; linear, milliseconds.
        #expect(elapsed < .seconds(10))
    }
}
