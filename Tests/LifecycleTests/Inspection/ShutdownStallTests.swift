import LifecycleTesting
import Testing

@testable import Lifecycle

/// DESIGN §12: a stalled shutdown names itself, on the runner's clock, and `shutdownStatus()` says
/// who waits for whom.
@Suite(.timeLimit(.minutes(1))) struct ShutdownStallTests {
    private static func stalls(_ events: [LifecycleEvent]) -> [(time: Duration, stopping: [ServiceID])] {
        events.compactMap { event in
            if case .shutdownStalled(let stopping) = event.kind { return (event.time, stopping) }
            return nil
        }
    }

    @Test func aStalledStopIsReportedEveryIntervalOnTheRunnersClockNamingTheServiceStillStopping() async throws {
        let clock = ManualClock()
        let gate = Gate()
        let database = ScriptedService("database")
        let http = ScriptedService(
            "http", dependencies: [database], stopGate: gate, gracefulShutdownTimeout: .seconds(60))
        let runner = ServiceRunner(http, signals: [], clock: clock, stallReportInterval: .seconds(5))
        let events = collect(runner.events())
        try await runner.start()
        let stop = Task { try await runner.stop() }
        #expect(await eventually { http.stopCount == 1 })
        await clock.waitForSleepers(2)  // the stall report and the graceful-shutdown timeout
        clock.advance(by: .seconds(4))
        #expect(runner.snapshot().states[http.serviceID] == .stopping)
        clock.advance(by: .seconds(1))  // 5 s: the first report
        #expect(await eventually { runner.snapshot().eventCount == 7 })  // 4 starts, the cause, stopping, a report
        await clock.waitForSleepers(2)
        clock.advance(by: .seconds(5))  // 10 s: the second
        #expect(await eventually { runner.snapshot().eventCount == 8 })
        gate.open()
        try await stop.value
        let stalls = Self.stalls(await events.value)
        #expect(stalls.map(\.time) == [.seconds(5), .seconds(10)])
        #expect(stalls.map(\.stopping) == [[http.serviceID], [http.serviceID]])
        #expect((await events.value).filter { $0.kind != .transition }.allSatisfy { $0.service == http.serviceID })
    }

    @Test func aQuickStopReportsNothing() async throws {
        let runner = ServiceRunner(
            ProbeService("quick", log: CallLog()), signals: [], stallReportInterval: .milliseconds(1))
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        // Either no report, or one naming a service really still stopping: never an empty one.
        #expect(Self.stalls(await events.value).allSatisfy { !$0.stopping.isEmpty })
    }

    @Test func noIntervalNoReport() async throws {
        let clock = ManualClock()
        let gate = Gate()
        let slow = ScriptedService("slow", stopGate: gate, gracefulShutdownTimeout: .seconds(60))
        let runner = ServiceRunner(slow, signals: [], clock: clock, stallReportInterval: nil)
        let events = collect(runner.events())
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(1)  // only the graceful-shutdown timeout
        clock.advance(by: .seconds(30))
        gate.open()
        try await stop.value
        #expect(Self.stalls(await events.value).isEmpty)
    }

    @Test func shutdownStatusSaysWhoWaitsForWhom() async throws {
        let clock = ManualClock()
        let gate = Gate()
        let database = ScriptedService("database")
        let cache = ScriptedService("cache")
        let http = ScriptedService(
            "http", dependencies: [database, cache], stopGate: gate, gracefulShutdownTimeout: .seconds(60))
        let runner = ServiceRunner(http, signals: [], clock: clock, stallReportInterval: nil)
        #expect(runner.shutdownStatus().description == "not stopping")
        try await runner.start()
        #expect(!runner.shutdownStatus().isStopping)
        let stop = Task { try await runner.stop() }
        #expect(await eventually { http.stopCount == 1 })
        clock.advance(by: .milliseconds(12_400))
        let status = runner.shutdownStatus()
        #expect(status.isStopping)
        #expect(status.stopping.map(\.service) == [http.serviceID])
        #expect(status.stopping.first?.duration == .milliseconds(12_400))
        #expect(status.waiting.map(\.service) == [database.serviceID, cache.serviceID])
        #expect(status.description.contains("database waits for: http (stopping for 12.4 s)"))
        #expect(status.description.contains("cache waits for: http (stopping for 12.4 s)"))
        gate.open()
        try await stop.value
        #expect(!runner.shutdownStatus().isStopping)
        #expect(runner.shutdownStatus().description == "stopped (requested)")
    }

    @Test func aServiceWaitsForADependentThatHasNotBegunToStop() async throws {
        let gate = Gate()
        let leaf = ScriptedService("leaf")
        let middle = ScriptedService("middle", dependencies: [leaf])
        let root = ScriptedService("root", dependencies: [middle], stopGate: gate)
        let runner = ServiceRunner(root, signals: [], stallReportInterval: nil)
        try await runner.start()
        let stop = Task { try await runner.stop() }
        #expect(await eventually { root.stopCount == 1 })
        let status = runner.shutdownStatus()
        #expect(status.description.contains("middle waits for: root (stopping for"))
        #expect(status.description.contains("leaf waits for: middle (running)"))
        gate.open()
        try await stop.value
    }
}
