import Testing

@testable import Lifecycle

/// The blocking twin of ``AdversarialUseTests`` where the scenario exists on that side.
@Suite(.timeLimit(.minutes(1))) struct BlockingAdversarialUseTests {
    /// A blocking service that logs its calls and can call back into its runner from `start()`.
    final class Decider: BlockingService {
        let name: String
        let dependencies: [any BlockingService]
        let log: LineLog
        var runner: BlockingRunner?
        var stopsItsRunnerWhileStarting = false

        init(_ name: String, log: LineLog, dependencies: [any BlockingService] = []) {
            self.name = name
            self.log = log
            self.dependencies = dependencies
        }

        func start() throws {
            log.record("start \(name)")
            if stopsItsRunnerWhileStarting { try runner?.stop() }
        }

        func stop() throws { log.record("stop \(name)") }
    }

    @Test func aStopRefusedBeforeStartLeavesTheRunnerUsable() throws {
        let log = LineLog()
        let service = Decider("service", log: log)
        let runner = BlockingRunner(service)
        #expect(throws: LifecycleError.notStarted(BlockingServiceTable.shared.identify(service))) {
            try runner.stop()
        }
        try runner.start()
        #expect(service.isRunning)
        try runner.stop()
        #expect(log.lines == ["start service", "stop service"])
    }

    @Test func stopCalledFromInsideAStartRollsTheStartBack() throws {
        let log = LineLog()
        let first = Decider("first", log: log)
        let decider = Decider("decider", log: log, dependencies: [first])
        let root = Decider("root", log: log, dependencies: [decider])
        let runner = BlockingRunner(root)
        decider.runner = runner
        decider.stopsItsRunnerWhileStarting = true
        #expect(throws: CancellationError.self) { try runner.start() }
        // The start ran to its end (blocking code cannot be interrupted), then everything it
        // started stopped in reverse.
        #expect(log.lines == ["start first", "start decider", "start root", "stop root", "stop decider", "stop first"])
        #expect(root.state == .stopped && first.state == .stopped)
    }
}
