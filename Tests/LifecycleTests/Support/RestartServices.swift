@testable import Lifecycle

/// A service whose background task throws when the test says `crash()`, with a restart policy, and
/// whose later starts can be told to throw. Logs `start name` and `stop name` to a shared log.
final class Crashable: Service, Sendable {
    let name: String
    let dependencies: Dependencies
    let restartPolicy: RestartPolicy
    let gracefulShutdownTimeout: Duration
    let log: LineLog
    private let state = Locked(
        (starts: 0, stops: 0, failingStarts: 0, trigger: AsyncStream<Void>.Continuation?.none))

    init(
        _ name: String, dependencies: Dependencies = [], policy: RestartPolicy = .never, log: LineLog,
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

    /// The next `count` starts throw `Boom(name:)`.
    func failNextStarts(_ count: Int) { state.withLock { $0.failingStarts = count } }

    /// The current life's background task throws `Boom(name:)`.
    func crash() { _ = state.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let fails = state.withLock { state in
            state.starts += 1
            guard state.failingStarts > 0 else { return false }
            state.failingStarts -= 1
            return true
        }
        log.record("start \(name)")
        if fails { throw Boom(name: name) }
        let (stream, trigger) = AsyncStream<Void>.makeStream()
        state.withLock { $0.trigger = trigger }
        try addTask { [name] in
            for await _ in stream { throw Boom(name: name) }
        }
    }

    func stop() async throws {
        state.withLock { state in
            state.stops += 1
            state.trigger?.finish()
            state.trigger = nil
        }
        log.record("stop \(name)")
    }
}

/// A policy for tests: `maxRestarts` within a minute, a constant `delay`.
func restarting(_ maxRestarts: Int = 3, delay: Duration = .seconds(1), within: Duration = .seconds(60))
    -> RestartPolicy
{
    .onFailure(maxRestarts: maxRestarts, within: within, backoff: .constant(delay))
}
