import Lifecycle
import ServiceLifecycle
import Synchronization

/// What happened, in order, across services and tasks.
final class Journal: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    /// Whether `first` was written, and before `second` when that was written too.
    func index(of entry: String) -> Int? { all.firstIndex(of: entry) }
}

/// A one-shot signal: `wait()` returns once `open()` was called (before or after).
final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            return state.waiters.take()
        }
        for waiter in waiters { waiter.resume() }
    }
    var isOpen: Bool { state.withLock { $0.isOpen } }
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}

extension Array {
    fileprivate mutating func take() -> Self {
        defer { self = [] }
        return self
    }
}

/// A swift-service-lifecycle service shaped like an HTTP server: ready once `run()` began, it
/// serves "requests" until its graceful shutdown, then finishes the requests in flight and returns.
final class FakeServer: ServiceLifecycle.Service {
    let name: String
    let journal: Journal
    let ready: @Sendable () -> Void
    private let inFlight = Mutex(0)
    private let idle = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let shutDown = Gate()

    init(_ name: String, journal: Journal, ready: @escaping @Sendable () -> Void) {
        self.name = name
        self.journal = journal
        self.ready = ready
    }

    func run() async throws {
        journal.append("\(name) run")
        ready()
        // Waits for the graceful shutdown of the group running this instance (throws if cancelled).
        try await gracefulShutdown()
        journal.append("\(name) shutting down")
        shutDown.open()
        await waitUntilNoRequest()
        journal.append("\(name) run returned")
    }

    /// Whether the graceful shutdown has reached this instance.
    var isShuttingDown: Bool { shutDown.isOpen }

    /// A request: counted in flight until `release` opens; refused once shutting down.
    func handle(release: Gate) async -> String {
        inFlight.withLock { $0 += 1 }
        journal.append("\(name) request began")
        await release.wait()
        journal.append("\(name) request completed")
        let waiters = inFlight.withLock { count in
            count -= 1
            return count == 0 ? idle.withLock { $0.take() } : []
        }
        for waiter in waiters { waiter.resume() }
        return "ok"
    }

    private func waitUntilNoRequest() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isIdle = inFlight.withLock { count in
                if count > 0 { idle.withLock { $0.append(continuation) } }
                return count == 0
            }
            if isIdle { continuation.resume() }
        }
    }
}

/// Holds the instances a `makeService` built, so a test can reach them.
final class Instances<T: Sendable>: Sendable {
    private let built = Mutex<[T]>([])
    func add(_ instance: T) -> T {
        built.withLock { $0.append(instance) }
        return instance
    }
    var all: [T] { built.withLock { $0 } }
    var last: T? { all.last }
}

/// A Lifecycle service that writes its start and stop, and may hold its stop until a gate opens.
final class Recorded: Lifecycle.Service {
    let name: String
    let journal: Journal
    let dependencies: Dependencies
    let holdStop: Gate?

    init(_ name: String, journal: Journal, dependencies: Dependencies = [], holdStop: Gate? = nil) {
        self.name = name
        self.journal = journal
        self.dependencies = dependencies
        self.holdStop = holdStop
    }

    func start() async throws { journal.append("\(name) started") }
    func stop() async throws {
        journal.append("\(name) stopping")
        await holdStop?.wait()
        journal.append("\(name) stopped")
    }
}

/// Polls `condition` until it holds (a bound of 10 s only proves nothing hangs).
func eventually(_ condition: @Sendable () -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(10))
    while !condition() {
        guard clock.now < deadline else { throw Timeout() }
        try await Task.sleep(for: .milliseconds(5))
    }
}

struct Timeout: Error {}
struct Boom: Error, Equatable {}

/// An observer that notes when a stop was requested.
final class StopWatcher: LifecycleObserver {
    private let seen = Mutex(false)
    var isStopRequested: Bool { seen.withLock { $0 } }
    func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events where event.stopCause != nil {
            seen.withLock { $0 = true }
        }
    }
}
