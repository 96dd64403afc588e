import Lifecycle

/// A service that does what its script says and logs every call, for testing trees and runners.
///
/// ```swift
/// let clock = ManualClock(), log = ProbeLog()
/// let database = ProbeService("database", log: log, clock: clock, stop: .sleep(.seconds(3)))
/// let api = ProbeService("api", log: log, clock: clock, dependencies: [database], task: .throwAfter(.seconds(1)))
/// ```
///
/// - `start` runs in `start()`; when it succeeds and `task` is set, the probe adds one background
///   task (``Service/addTask(_:)``) that runs `task`, after logging that its start returned (so
///   the log never shows a task before the start that added it; if adding it is refused, `start()`
///   throws that ``LifecycleError`` though the log says it returned).
/// - `stop` runs in `stop()`.
/// - Sleeps are on `clock` (real time when it is `nil`), so a ``ManualClock`` decides when they end.
///
/// Every call is logged in `log` as it begins and as it ends (``ProbeCall``), numbered in one
/// sequence across all the probes sharing the log, with the life (which start) it belongs to;
/// ``InvariantChecker`` reads it. A ``ProbeBehavior/hang`` ignores cancellation until
/// ``releaseHangs()``; release them at the end of a test so no task is left waiting.
public final class ProbeService: Service {
    /// The probe's name, as given.
    public let name: String
    /// The probe's dependencies, as given.
    public let dependencies: Dependencies
    /// Its `gracefulShutdownTimeout`, as given (10 s by default, like any service's).
    public let gracefulShutdownTimeout: Duration
    /// Its `startTimeout`, as given (none by default).
    public let startTimeout: Duration?
    /// What `start()` does.
    public let startBehavior: ProbeBehavior
    /// What `stop()` does.
    public let stopBehavior: ProbeBehavior
    /// What the background task added by a successful start does; `nil`: no task.
    public let taskBehavior: ProbeBehavior?
    /// The log every call goes to.
    public let log: ProbeLog

    private let sleep: @Sendable (Duration) async throws -> Void
    private let hangs = HangGate()
    private let lives = Locked(0)

    /// A probe.
    ///
    /// - Parameters:
    ///   - name: its name in events and in the log.
    ///   - log: the log of its calls; share one between the probes of a tree.
    ///   - clock: the clock its sleeps use; `nil` for real time.
    ///   - dependencies: its dependencies, like any service's.
    ///   - start: what `start()` does (returns at once by default).
    ///   - stop: what `stop()` does (returns at once by default).
    ///   - task: what the background task it adds after a successful start does; `nil` (the
    ///     default) adds none.
    ///   - gracefulShutdownTimeout: its graceful shutdown timeout.
    ///   - startTimeout: its start timeout.
    public init<C: Clock<Duration>>(
        _ name: String, log: ProbeLog, clock: C?, dependencies: Dependencies = [], start: ProbeBehavior = .instant,
        stop: ProbeBehavior = .instant, task: ProbeBehavior? = nil, gracefulShutdownTimeout: Duration = .seconds(10),
        startTimeout: Duration? = nil
    ) {
        self.name = name
        self.log = log
        self.dependencies = dependencies
        self.startBehavior = start
        self.stopBehavior = stop
        self.taskBehavior = task
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
        self.startTimeout = startTimeout
        if let clock {
            sleep = { duration in try await clock.sleep(for: duration) }
        } else {
            sleep = { duration in try await Task.sleep(for: duration) }
        }
    }

    /// A probe whose sleeps take real time.
    public convenience init(
        _ name: String, log: ProbeLog, dependencies: Dependencies = [], start: ProbeBehavior = .instant,
        stop: ProbeBehavior = .instant, task: ProbeBehavior? = nil, gracefulShutdownTimeout: Duration = .seconds(10),
        startTimeout: Duration? = nil
    ) {
        self.init(
            name, log: log, clock: nil as ContinuousClock?, dependencies: dependencies, start: start, stop: stop,
            task: task, gracefulShutdownTimeout: gracefulShutdownTimeout, startTimeout: startTimeout)
    }

    /// How many times `start()` was called.
    public var startCount: Int { lives.withLock { $0 } }

    /// How many times `stop()` was called.
    public var stopCount: Int { log.calls(of: serviceID).count { $0.phase == .stop && $0.kind == .began } }

    /// Lets every ``ProbeBehavior/hang`` of this probe return, now and from now on.
    public func releaseHangs() { hangs.open() }

    /// Runs the start script; adds the background task when it succeeds.
    public func start() async throws {
        let life = lives.withLock { lives in
            lives += 1
            return lives
        }
        try await logged(.start, life: life) { try await perform(startBehavior, phase: .start) }
        if let taskBehavior {
            let id = serviceID
            try addTask { [self] in
                try await logged(.task, life: life, id: id) { try await perform(taskBehavior, phase: .task) }
            }
        }
    }

    /// Runs the stop script.
    public func stop() async throws {
        let life = lives.withLock { $0 }
        try await logged(.stop, life: life) { try await perform(stopBehavior, phase: .stop) }
    }

    /// Logs the beginning and the end of `body`.
    private func logged(
        _ phase: ProbeCall.Phase, life: Int, id: ServiceID? = nil, _ body: () async throws -> Void
    ) async throws {
        let id = id ?? serviceID
        log.record(id, life: life, phase, .began)
        do {
            try await body()
            log.record(id, life: life, phase, .returned)
        } catch {
            log.record(id, life: life, phase, .threw(cancelled: error is CancellationError))
            throw error
        }
    }

    private func perform(_ behavior: ProbeBehavior, phase: ProbeCall.Phase) async throws {
        switch behavior {
        case .instant:
            return
        case .sleep(let duration):
            try await sleep(duration)
        case .throw:
            throw ProbeError(service: name, phase: phase)
        case .throwAfter(let duration):
            try await sleep(duration)
            throw ProbeError(service: name, phase: phase)
        case .untilCancelled:
            try await waitUntilCancelled()
        case .hang:
            await hangs.wait()
        }
    }
}

/// Suspends until the current task is cancelled, then throws `CancellationError`; no polling.
func waitUntilCancelled() async throws {
    let waiter = CancellationWaiter()
    await withTaskCancellationHandler {
        await waiter.wait()
    } onCancel: {
        waiter.cancel()
    }
    throw CancellationError()
}

/// A continuation resumed once, by cancellation; safe when the cancellation comes first.
private final class CancellationWaiter: Sendable {
    private let state = Locked((cancelled: false, continuation: CheckedContinuation<Void, Never>?.none))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let cancelled = state.withLock { state in
                if !state.cancelled { state.continuation = continuation }
                return state.cancelled
            }
            if cancelled { continuation.resume() }
        }
    }

    func cancel() {
        let continuation = state.withLock { state in
            state.cancelled = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }
}

/// A one-shot latch that ignores cancellation: `open()` releases every `wait()`, now and later.
final class HangGate: Sendable {
    private let state = Locked((isOpen: false, waiters: [CheckedContinuation<Void, Never>]()))

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

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
