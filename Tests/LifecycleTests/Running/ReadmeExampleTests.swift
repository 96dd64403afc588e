import Lifecycle
import Testing

// The README's quick start, compiled and run, so it cannot rot. Only the stubs are new.

final class Database: Service {
    func start() async throws {}  // open the pool
    func stop() async throws {}  // drain and close
}

final class Cache: Service {}
final class Queue: Service {}

final class HTTPServer: Service {
    func handle(_ request: String) async throws -> String { "handled \(request)" }
}

final class API: Service {
    let database = Database()
    let cache = Cache()
    let queue = Queue()
    let server = HTTPServer()

    // stages start one after another; the services of a Parallel stage start together
    var dependencies: Dependencies { [database, Parallel(cache, queue), server] }
    var gracefulShutdownTimeout: Duration { .seconds(30) }

    func start() async throws {
        try addTask { try await self.refreshLoop() }  // a background task bound to this service
    }

    func refreshLoop() async throws {
        while true { try await Task.sleep(for: .seconds(60)) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ReadmeExampleTests {
    @Test func theQuickStartRuns() async throws {
        let request = "GET /"
        let response = try await withRunning(API()) { api in  // scoped, like `async with`
            try await api.server.handle(request)
        }
        #expect(response == "handled GET /")

        let runner = ServiceRunner(API(), signals: [])  // the explicit form, for observing
        let events = runner.events()  // subscribe before starting
        let run = Task { try await runner.run() }
        var seen: [String] = []
        for await event in events where event.isTransition {
            seen.append("\(event.service.name) \(event.to)")
            if seen.last == "API running" { runner.requestStop() }
        }
        try await run.value
        #expect(seen.prefix(2) == ["Database starting", "Database running"])
        #expect(seen.last == "Database stopped")
    }
}

// The README's supervision example (and the Supervision article's), compiled and run: the
// consumer's task throws once, and it restarts while the queue keeps running.
final class Consumer: Service {
    let queue: Queue
    let attempts = Locked(0)
    let crashesOnce: Bool
    init(queue: Queue, crashesOnce: Bool = true) {
        self.queue = queue
        self.crashesOnce = crashesOnce
    }
    var dependencies: Dependencies { [queue] }
    var restartPolicy: RestartPolicy {
        .onFailure(
            maxRestarts: 5, within: .seconds(60),
            backoff: .exponential(initial: .milliseconds(100), maximum: .seconds(5)))
    }
    func start() async throws { try addTask { try await self.consume() } }

    func consume() async throws {
        let attempt = attempts.withLock { attempt in
            attempt += 1
            return attempt
        }
        if crashesOnce, attempt == 1 {
            // Crash once it runs (a task failing during the first start() fails the tree instead).
            while !isRunning { try await Task.sleep(for: .milliseconds(1)) }
            throw ConsumerCrash()
        }
        while true { try await Task.sleep(for: .seconds(60)) }
    }
}

struct ConsumerCrash: Error {}

@Suite(.timeLimit(.minutes(1))) struct ReadmeSupervisionExampleTests {
    @Test func theConsumerRestartsAndTheQueueKeepsRunning() async throws {
        let queue = Queue()
        let consumer = Consumer(queue: queue)
        let runner = ServiceRunner(consumer, signals: [])
        let events = runner.events()
        try await runner.start()
        var restarted = false
        var queueStopped = false
        for await event in events {
            if event.service == queue.serviceID, event.to == .stopping { queueStopped = true }
            if event.service == consumer.serviceID, event.from == .stopped, event.to == .starting { restarted = true }
            if restarted, event.service == consumer.serviceID, event.to == .running { break }
        }
        #expect(restarted && consumer.isRunning && queue.isRunning && !queueStopped)
        #expect(consumer.attempts.withLock { $0 } == 2)
        try await runner.stop()
    }
}

// The README's "a running tree can also grow and shrink" example, compiled and run.
@Suite(.timeLimit(.minutes(1))) struct ReadmeChangeExampleTests {
    @Test func anAddedConsumerStartsItsQueueAndItsRemovalStopsBothInReverse() async throws {
        let runner = ServiceRunner(Database(), signals: [])
        let events = runner.events()
        try await runner.start()
        let queue = Queue()
        let consumer = Consumer(queue: queue, crashesOnce: false)
        try await runner.add(consumer)  // starts it and what it needs that is not running yet
        #expect(queue.isRunning && consumer.isRunning)
        try await runner.remove(consumer)  // stops it, and what only it needed, in reverse order
        #expect(consumer.state == .stopped && queue.state == .stopped)
        try await runner.stop()
        var seen: [String] = []
        for await event in events where event.isTransition { seen.append("\(event.service.name) \(event.to)") }
        #expect(
            seen == [
                "Database starting", "Database running", "Queue starting", "Queue running", "Consumer starting",
                "Consumer running", "Consumer stopping", "Consumer stopped", "Queue stopping", "Queue stopped",
                "Database stopping", "Database stopped",
            ])
    }

    @Test func removingTheConsumerKeepsAQueueAnotherServiceNeeds() async throws {
        let queue = Queue()
        let runner = ServiceRunner(ClosureService(name: "api", dependencies: [queue]), signals: [])
        try await runner.start()
        let consumer = Consumer(queue: queue, crashesOnce: false)
        try await runner.add(consumer)
        try await runner.remove(consumer)
        #expect(consumer.state == .stopped && queue.isRunning)  // api still needs it
        try await runner.stop()
        #expect(queue.state == .stopped)
    }
}
