import Lifecycle

/// The demo's services, built by ``makeDemoTree(options:)``.
struct DemoTree {
    /// The root: `run()` starts it last and stops it first.
    let root: SimulatedService
    /// Every service, in start order (`cache` and `queue` start together).
    let services: [SimulatedService]
    /// The seed the timings were drawn from.
    let seed: UInt64
}

/// The tree the demo runs: `worker` depends on `[config, database, Parallel(cache, queue), http]`.
///
/// So it starts config, then database, then cache and queue together, then http, then worker;
/// and it stops them in the reverse order. Timings are drawn from `options.seed` (or a random
/// seed); the failure flags pick the service they apply to by name.
func makeDemoTree(options: DemoOptions) -> DemoTree {
    let seed = options.seed ?? UInt64.random(in: 1...99_999)
    var random = SeededGenerator(seed: seed)
    func make(
        _ name: String, _ work: String, start: ClosedRange<Int>, stop: ClosedRange<Int>, dependencies: Dependencies = []
    ) -> SimulatedService {
        var behavior = SimulatedService.Behavior(
            startTime: .milliseconds(Int.random(in: start, using: &random)),
            stopTime: .milliseconds(Int.random(in: stop, using: &random)))
        behavior.failsToStart = options.fail == name
        if options.crash == name {
            behavior.crashesAfter = .milliseconds(Int.random(in: 300...600, using: &random))
            // Crashes in its first life only, so the restart is seen to succeed.
            if options.restart { behavior.restartPolicy = .onFailure(backoff: .constant(.milliseconds(200))) }
        }
        if options.slowStop == name {
            behavior.hangsInStop = true
            behavior.gracefulShutdownTimeout = options.slowStopTimeout
        }
        return SimulatedService(name: name, backgroundWork: work, behavior: behavior, dependencies: dependencies)
    }
    let config = make("config", "watches the config file", start: 10...40, stop: 2...10)
    let database = make("database", "checks pool health", start: 120...280, stop: 40...120)
    let cache = make("cache", "evicts expired entries", start: 40...140, stop: 10...40)
    let queue = make("queue", "consumes messages", start: 60...180, stop: 30...90)
    let http = make("http", "accepts connections", start: 30...90, stop: 60...160)
    let worker = make(
        "worker", "processes jobs", start: 20...60, stop: 20...80,
        dependencies: [config, database, Parallel(cache, queue), http])
    return DemoTree(root: worker, services: [config, database, cache, queue, http, worker], seed: seed)
}
