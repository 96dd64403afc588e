@testable import Lifecycle

/// A service a restart test steers call by call: its background task throws on `crash()`, and the
/// test may hold its next `start()` or `stop()` at a gate, make it throw, or run a hook in it.
///
/// Every call is logged at its beginning and its end (`start x`, `started x`, `startThrew x`,
/// `stop x`, `stopped x`) into a ``LineLog`` shared by a tree, which ``lifeViolations(_:edges:)``
/// reads back.
final class Puppet: Service, Sendable {
    /// What the next `start()` or `stop()` does besides logging.
    enum Step: Sendable {
        /// Waits at the gate, ignoring cancellation, then goes on.
        case hold(Gate)
        /// Waits until cancelled, then throws `CancellationError`.
        case untilCancelled
        /// Throws `Boom(name:)`.
        case fail
        /// Runs the closure, then goes on.
        case hook(@Sendable () async -> Void)
    }

    let name: String
    let dependencies: Dependencies
    let restartPolicy: RestartPolicy
    let gracefulShutdownTimeout: Duration
    let log: LineLog
    private let state = Locked(
        (
            starts: 0, stops: 0, startSteps: [Step](), stopSteps: [Step](), failsEveryStart: false,
            trigger: AsyncStream<Void>.Continuation?.none
        ))

    init(
        _ name: String, _ dependencies: Dependencies = [], policy: RestartPolicy = .never, log: LineLog,
        gracefulShutdownTimeout: Duration = .seconds(10)
    ) {
        self.name = name
        self.dependencies = dependencies
        self.restartPolicy = policy
        self.log = log
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
    }

    var starts: Int { state.withLock { $0.starts } }
    var stops: Int { state.withLock { $0.stops } }

    /// The next `start()` calls do these steps, one each, in order.
    func nextStarts(_ steps: Step...) { state.withLock { $0.startSteps += steps } }
    /// The next `stop()` calls do these steps, one each, in order.
    func nextStops(_ steps: Step...) { state.withLock { $0.stopSteps += steps } }
    /// Every later `start()` throws (or, with `false`, none does any more).
    func failEveryStart(_ fails: Bool = true) { state.withLock { $0.failsEveryStart = fails } }

    /// The background task of the current life throws `Boom(name:)`.
    func crash() { _ = state.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let (step, failsAlways) = state.withLock { state in
            state.starts += 1
            return (state.startSteps.isEmpty ? nil : state.startSteps.removeFirst(), state.failsEveryStart)
        }
        log.record("start \(name)")
        do {
            try await perform(step)
            if failsAlways { throw Boom(name: name) }
            let (stream, trigger) = AsyncStream<Void>.makeStream()
            state.withLock { $0.trigger = trigger }
            // Throws when the start was abandoned meanwhile (its service is `failed`).
            try addTask { [name] in
                for await _ in stream { throw Boom(name: name) }
            }
        } catch {
            log.record("startThrew \(name)")
            throw error
        }
        log.record("started \(name)")
    }

    func stop() async throws {
        let step = state.withLock { state in
            state.stops += 1
            state.trigger?.finish()
            state.trigger = nil
            return state.stopSteps.isEmpty ? nil : state.stopSteps.removeFirst()
        }
        log.record("stop \(name)")
        defer { log.record("stopped \(name)") }
        try await perform(step)
    }

    private func perform(_ step: Step?) async throws {
        switch step {
        case nil: break
        case .hold(let gate): await gate.wait()
        case .untilCancelled:
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
            throw CancellationError()
        case .fail: throw Boom(name: name)
        case .hook(let body): await body()
        }
    }
}

/// What the lines of a ``Puppet`` log break of DESIGN §3 and §10: a call of a service that is not
/// where that call may begin (two lives overlapping), a start while a dependency is not running, a
/// stop while a dependent is not down, and a service left up at the end. `edges` are
/// `(dependent, dependency)` names.
func lifeViolations(_ lines: [String], edges: [(String, String)]) -> [String] {
    enum Phase { case down, starting, running, stopping }
    var phase: [String: Phase] = [:]
    var violations: [String] = []
    for (position, line) in lines.enumerated() {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        let (call, name) = (parts[0], parts[1])
        let now = phase[name, default: .down]
        func expect(_ wanted: Phase, then next: Phase) {
            if now != wanted { violations.append("line \(position) `\(line)` while \(name) was \(now)") }
            phase[name] = next
        }
        switch call {
        case "start":
            expect(.down, then: .starting)
            for (dependent, dependency) in edges
            where dependent == name && phase[dependency, default: .down] != .running {
                violations.append("line \(position) `\(line)` while its dependency \(dependency) was not running")
            }
        case "started": expect(.starting, then: .running)
        case "startThrew": expect(.starting, then: .down)
        case "stop":
            expect(.running, then: .stopping)
            for (dependent, dependency) in edges where dependency == name && phase[dependent, default: .down] != .down {
                violations.append("line \(position) `\(line)` while its dependent \(dependent) was not down")
            }
        case "stopped": expect(.stopping, then: .down)
        default: break
        }
    }
    for (name, state) in phase where state != .down { violations.append("\(name) ended \(state)") }
    return violations
}
