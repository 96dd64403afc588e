import LifecycleTesting
import Testing

@testable import Lifecycle

/// A service whose `drain()` and `stop()` are logged in one shared log, and whose drain waits as told.
private final class DrainingService: Service {
    enum DrainBehaviour: Sendable {
        case returnAtOnce
        /// Waits until `count` drains of the log began: proof the drains run concurrently.
        case waitForDrains(Int)
        /// Never returns, ignoring cancellation: a drain that cannot stop taking work.
        case hang(Gate)
    }

    let name: String
    let dependencies: Dependencies
    let log: Locked<[String]>
    let behaviour: DrainBehaviour
    let drainSawCancellation = Locked(false)

    init(_ name: String, log: Locked<[String]>, dependencies: Dependencies = [], drain: DrainBehaviour = .returnAtOnce)
    {
        self.name = name
        self.log = log
        self.dependencies = dependencies
        self.behaviour = drain
    }

    func drain() async {
        log.withLock { $0.append("drain \(name)") }
        switch behaviour {
        case .returnAtOnce:
            return
        case .waitForDrains(let count):
            while log.withLock({ $0.filter { $0.hasPrefix("drain") }.count }) < count {
                try? await Task.sleep(for: .milliseconds(1))
            }
        case .hang(let gate):
            await gate.wait()
            drainSawCancellation.withLock { $0 = Task.isCancelled }
        }
    }

    func stop() async throws {
        log.withLock { $0.append("stop \(name)") }
    }
}

/// DESIGN §13: the drain phase.
@Suite(.timeLimit(.minutes(1))) struct DrainTests {
    @Test func everyRunningServiceDrainsConcurrentlyBeforeTheFirstStop() async throws {
        let log = Locked<[String]>([])
        let database = DrainingService("database", log: log, drain: .waitForDrains(3))
        let cache = DrainingService("cache", log: log, drain: .waitForDrains(3))
        let http = DrainingService("http", log: log, dependencies: [database, cache], drain: .waitForDrains(3))
        let runner = ServiceRunner(http, signals: [], drainTimeout: .seconds(60))
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        let entries = log.withLock { $0 }
        #expect(Set(entries.prefix(3)) == ["drain database", "drain cache", "drain http"])
        #expect(Array(entries.dropFirst(3)) == ["stop http", "stop cache", "stop database"])
        let received = await events.value
        let draining = received.firstIndex { $0.kind == .draining }
        let firstStop = received.firstIndex { $0.to == .stopping }
        #expect(draining != nil && firstStop != nil && draining! < firstStop!)
        #expect(received[draining!].service == http.serviceID)
        #expect(received.firstIndex { $0.stopCause != nil }! < draining!)  // the cause comes first (DESIGN §6)
        expectLegal(received)
    }

    @Test func theStopBeginsAtTheDrainTimeoutWhenADrainDoesNotReturn() async throws {
        let log = Locked<[String]>([])
        let clock = ManualClock()
        let gate = Gate()
        let stuck = DrainingService("stuck", log: log, drain: .hang(gate))
        let http = DrainingService("http", log: log, dependencies: [stuck])
        let runner = ServiceRunner(http, signals: [], clock: clock, stallReportInterval: nil, drainTimeout: .seconds(5))
        try await runner.start()
        let stop = Task { try await runner.stop() }
        await clock.waitForSleepers(1)  // the drain timeout
        #expect(await eventually { log.withLock { $0.count } == 2 })
        clock.advance(by: .milliseconds(4_999))
        #expect(!log.withLock { $0.contains { $0.hasPrefix("stop") } })
        // Draining: not ready any more, yet everything still runs.
        let snapshot = runner.snapshot()
        #expect(!snapshot.isReady)
        #expect(snapshot.states.values.allSatisfy { $0 == .running })
        clock.advance(by: .milliseconds(1))
        try await stop.value
        #expect(log.withLock { Array($0.suffix(2)) } == ["stop http", "stop stuck"])
        gate.open()
        #expect(await eventually { stuck.drainSawCancellation.withLock { $0 } })  // the late drain was cancelled
    }

    @Test func withoutADrainTimeoutNothingDrains() async throws {
        let log = Locked<[String]>([])
        let http = DrainingService("http", log: log)
        let runner = ServiceRunner(http, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        try await runner.stop()
        #expect(log.withLock { $0 } == ["stop http"])
        #expect(!(await events.value).contains { $0.kind == .draining })
    }

    @Test func anEscalationDuringTheDrainEndsItAtOnce() async throws {
        let log = Locked<[String]>([])
        let gate = Gate()
        let stuck = DrainingService("stuck", log: log, drain: .hang(gate))
        let runner = ServiceRunner(stuck, signals: [], stallReportInterval: nil, drainTimeout: .seconds(3600))
        try await runner.start()
        let stop = Task { try await runner.stop() }
        #expect(await eventually { log.withLock { $0 } == ["drain stuck"] })
        runner.escalate(signal: 2)  // a second Ctrl-C
        try? await stop.value
        #expect(log.withLock { $0 } == ["drain stuck", "stop stuck"])
        gate.open()
    }

    @Test func aDrainThatCallsStopDoesNotWaitForItself() async throws {
        final class SelfStopping: Service {
            let runner = Locked<ServiceRunner?>(nil)
            func drain() async {
                try? await runner.withLock { $0 }?.stop()
            }
        }
        let service = SelfStopping()
        let runner = ServiceRunner(service, signals: [], drainTimeout: .seconds(3600))
        service.runner.withLock { $0 = runner }
        try await runner.start()
        try await runner.stop()
        #expect(service.state == .stopped)
        service.runner.withLock { $0 = nil }
    }

    @Test func aServiceThatFailedToStartIsNotDrained() async throws {
        let log = CallLog()
        let drained = Locked<[String]>([])
        let good = DrainingService("good", log: drained)
        let bad = ProbeService("bad", log: log, dependencies: [good], start: .fail)
        let runner = ServiceRunner(bad, signals: [], drainTimeout: .seconds(10))
        await #expect(throws: ProbeError(name: "bad")) { try await runner.start() }
        #expect(drained.withLock { $0 } == ["stop good"])  // a rollback does not drain
    }
}
