import Lifecycle
import Testing

@Suite(.timeLimit(.minutes(1))) struct FailureTests {
    @Test(arguments: 0..<5)
    func aFailedStartAtAnyPositionStopsExactlyWhatStartedInReverse(failing: Int) async throws {
        let log = CallLog()
        let chain = (0..<5).map { ProbeService("s\($0)", log: log, start: $0 == failing ? .fail : .succeed) }
        let root = ProbeService("root", log: log, dependencies: Dependencies(chain))
        let runner = ServiceRunner(root, signals: [])
        let events = collect(runner.events())
        await #expect(throws: ProbeError(name: "s\(failing)")) { try await runner.run() }
        let started = (0..<failing).map { "s\($0)" }
        #expect(log.starts == started + ["s\(failing)"])
        #expect(log.stops == started.reversed())
        #expect(chain[failing].state == .failed)
        #expect(root.state == .idle)
        expectLegal(await events.value, root: root)
    }

    @Test func aThrowingStopDoesNotSkipTheOtherStopsAndIsReportedAtTheEnd() async throws {
        let log = CallLog()
        let first = ProbeService("first", log: log)
        let broken = ProbeService("broken", log: log, stop: .fail)
        let alsoBroken = ProbeService("alsoBroken", log: log, stop: .fail)
        let root = ProbeService("root", log: log, dependencies: [first, broken, alsoBroken])
        let runner = ServiceRunner(root, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        await #expect(throws: ProbeError(name: "alsoBroken")) { try await runner.stop() }
        #expect(log.stops == ["root", "alsoBroken", "broken", "first"])
        #expect(broken.state == .failed)
        #expect(first.state == .stopped)
        let failures = await events.value.filter { $0.to == .failed }
        #expect(failures.map(\.service.name) == ["alsoBroken", "broken"])
        #expect(failures.allSatisfy { $0.error is ProbeError })
    }

    @Test func theFirstFailureOfAParallelStageIsTheOneThrown() async throws {
        let log = CallLog()
        let quick = ProbeService("quick", log: log, start: .fail)
        let slow = ProbeService("slow", log: log, start: .untilCancelled)
        let root = ProbeService("root", log: log, dependencies: [Parallel(slow, quick)])
        await #expect(throws: ProbeError(name: "quick")) { try await root.run(signals: []) }
        #expect(slow.state == .failed)
        #expect(slow.stopCount == 0)
    }

    @Test func aBackgroundFailureInWithRunningCancelsTheBodyAndIsThrownAfterTheStop() async throws {
        let log = CallLog()
        let dependency = ProbeService("dependency", log: log)
        let service = FailingTaskService(dependencies: [dependency], after: .milliseconds(20))
        await #expect(throws: ProbeError(name: "failing-task")) {
            try await withRunning(service) { _ in
                try await Task.sleep(for: .seconds(60))  // cancelled by the failure
            }
        }
        #expect(dependency.stopCount == 1)
        #expect(service.state == .stopped)
    }

    @Test func aBodyErrorInWithRunningStopsTheTreeAndIsRethrown() async throws {
        let log = CallLog()
        let service = ProbeService("service", log: log)
        await #expect(throws: ProbeError(name: "body")) {
            try await withRunning(service) { _ in throw ProbeError(name: "body") }
        }
        #expect(service.stopCount == 1)
    }

    @Test func aBackgroundFailureIsAnEventAndTheStopCauseIsFailure() async throws {
        let service = FailingTaskService()
        let runner = ServiceRunner(service, signals: [])
        let events = collect(runner.events())
        await #expect(throws: ProbeError.self) { try await runner.run() }
        let all = await events.value
        let failed = all.first { $0.kind == .taskFailed }
        #expect(failed?.error is ProbeError)
        #expect(failed?.from == failed?.to)
        #expect(all.contains { $0.stopCause == .failure })
        expectLegal(all)
    }
}
