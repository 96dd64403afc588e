import Lifecycle
import Synchronization

/// One service of the demo: it pretends to work by sleeping for plausible, slightly random times.
///
/// What it simulates (opening a pool, warming a cache, …) is only its name and its timings; the
/// lifecycle cannot tell the difference, which is the point of the demo.
final class SimulatedService: Service {
    /// How one simulated service behaves; drawn once, so a seed reproduces a run.
    struct Behavior: Sendable {
        /// How long `start()` takes.
        var startTime: Duration
        /// How long `stop()` takes.
        var stopTime: Duration
        /// `start()` throws after `startTime` (`--fail`).
        var failsToStart = false
        /// The background task throws this long after the start (`--crash`).
        var crashesAfter: Duration?
        /// `stop()` hangs until cancelled (`--slow-stop`).
        var hangsInStop = false
        /// The graceful shutdown timeout.
        var gracefulShutdownTimeout: Duration = .seconds(10)
        /// `--restart`: restarts instead of failing the tree when its task throws, and the crash
        /// happens in the first life only.
        var restartPolicy: RestartPolicy = .never
    }

    let name: String
    let dependencies: Dependencies
    let behavior: Behavior
    /// What its background task stands for, as the demo's text says it.
    let backgroundWork: String
    /// How many times `start()` was called.
    private let starts = Mutex(0)

    init(name: String, backgroundWork: String, behavior: Behavior, dependencies: Dependencies = []) {
        self.name = name
        self.backgroundWork = backgroundWork
        self.behavior = behavior
        self.dependencies = dependencies
    }

    var gracefulShutdownTimeout: Duration { behavior.gracefulShutdownTimeout }
    var restartPolicy: RestartPolicy { behavior.restartPolicy }

    func start() async throws {
        let life = starts.withLock { starts in
            starts += 1
            return starts
        }
        try await Task.sleep(for: behavior.startTime)
        if behavior.failsToStart { throw DemoError.startFailed(name) }
        let restarts = behavior.restartPolicy != .never
        let crashesAfter = restarts && life > 1 ? nil : behavior.crashesAfter
        let name = name
        try addTask {
            // The service's work (a health check, a consumer, an accept loop): idle ticks here.
            let clock = ContinuousClock()
            let started = clock.now
            while true {
                try await Task.sleep(for: .milliseconds(50))
                if let crashesAfter, started.duration(to: clock.now) >= crashesAfter {
                    throw DemoError.crashed(name)
                }
            }
        }
    }

    /// Stops taking new work (`--drain`): http closes its listener and lets requests in flight
    /// finish, which takes a moment; the others have nothing to drain.
    func drain() async {
        guard name == "http" else { return }
        try? await Task.sleep(for: .milliseconds(200))
    }

    func stop() async throws {
        if behavior.hangsInStop {
            // A drain that never finishes; cancellation (the timeout, or a second Ctrl-C) ends it.
            try? await Task.sleep(for: .seconds(3600))
        }
        // Stopped after an escalation (a second Ctrl-C): skip the graceful drain and close at once.
        guard !Task.isCancelled else { return }
        try? await Task.sleep(for: behavior.stopTime)
    }
}

/// The failures the demo's flags inject.
enum DemoError: Error, CustomStringConvertible {
    /// `--fail`: the service's `start()` threw.
    case startFailed(String)
    /// `--crash`: the service's background task threw.
    case crashed(String)

    var description: String {
        switch self {
        case .startFailed(let name): "\(name) failed to start (--fail \(name))"
        case .crashed(let name): "\(name)'s background task crashed (--crash \(name))"
        }
    }
}

/// A small seeded generator (SplitMix64), so `--seed` reproduces the timings on every platform.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
