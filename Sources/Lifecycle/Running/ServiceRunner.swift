/// Runs one tree of services, once: start, wait, stop, and the events of every transition.
///
/// ```swift
/// let runner = ServiceRunner(API())
/// let events = runner.events()        // subscribe before starting
/// try await runner.run()
/// ```
///
/// All methods are safe to call from any task or thread. A runner starts its tree once; to run the
/// same services again, make a new runner (a stopped service may be started again).
///
/// A started tree keeps its runner alive until the tree has stopped: dropping the last reference
/// to a runner whose tree runs neither stops the tree nor ends its event streams. The tree stops
/// when someone calls ``stop()`` (or ``requestStop()`` with someone in ``run()``), or by itself when
/// a background task fails; then its streams end and the runner is released.
public final class ServiceRunner: Sendable {
    /// The runner whose own work the current task does (a service's `start()` or `stop()`, a
    /// background task added during a `start()`, an observer): ``stop()`` there must not wait for
    /// the stop that waits for it.
    @TaskLocal static var currentRunner: ObjectIdentifier?

    private enum Phase { case idle, starting, running, stopping, stopped }

    private struct State {
        var phase = Phase.idle
        var stopCause: StopCause?
        var failure: (any Error)?
        /// The error the start ended with, unless a stop request ended it: `wait()` throws it.
        var startFailure: (any Error)?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var cancelledWaiters: Set<Int> = []
        var lastWaiter = 0
        var startTask: Task<Void, any Error>?
        var stopTask: Task<[any Error], Never>?
        /// A signal arrived while stopping: the stop task is cancelled, now or as soon as it exists.
        var isEscalated = false
        var rollbacks: [Int: Task<[any Error], Never>] = [:]
        var lastRollback = 0
        /// Starts in flight that were cancelled: an escalation abandons them at once.
        var cancelledStarts: [ObjectIdentifier: StartAttempt] = [:]
    }

    /// The root of the tree.
    let root: any Service
    /// The root's identity.
    let rootID: ServiceID
    /// The clock of timeouts and event times.
    let clock: LifecycleClock
    /// The signals `run()` turns into a stop.
    let signals: [Int32]
    private let hub = EventHub()
    private let observers: ObserverTracker
    private let state = Locked(State())

    /// A runner for the tree under `service`.
    ///
    /// - Parameters:
    ///   - observers: consumers of the events; each is subscribed now, so it sees every event, and
    ///     `run()`/`stop()` return only after each has consumed the last one. Once the stop escalates
    ///     or the waiting task is cancelled, they wait at most ``observerGrace`` more, and
    ///     ``observersStillConsuming`` names the ones left behind.
    ///   - signals: the signals `run()` turns into a graceful stop (a second one escalates); `[]` for none.
    ///   - clock: the clock of `startTimeout`, `gracefulShutdownTimeout` and event times.
    public init(
        _ service: any Service,
        observers: [any LifecycleObserver] = [],
        signals: [Int32] = Signals.default,
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        root = service
        rootID = ServiceTable.shared.identify(service)
        self.clock = LifecycleClock(clock)
        self.signals = signals
        let tracker = ObserverTracker(names: observers.map { String(describing: type(of: $0)) })
        self.observers = tracker
        for (index, observer) in observers.enumerated() {
            let stream = hub.subscribe()
            Task { [id = ObjectIdentifier(self)] in
                // An observer that calls `stop()` must not wait for the stop that waits for it.
                await Self.$currentRunner.withValue(id) { await observer.observe(stream) }
                tracker.finished(index)
            }
        }
    }

    deinit {
        // Reached by a runner never started, or after its tree stopped (a running tree keeps its
        // runner alive): the streams end, if they have not already.
        hub.finish()
    }

    /// How long observers may still take to consume the last events once the stop escalated or the
    /// waiting task was cancelled, on the runner's clock.
    public static let observerGrace = Duration.seconds(1)

    /// The observers (their type names) that had not consumed the last event when the runner
    /// stopped waiting for them, after an escalation or a cancellation; empty after a normal stop.
    public var observersStillConsuming: [String] { observers.stillConsuming }

    // MARK: Starting and stopping

    /// Starts the tree: dependencies first, stages in order, each `Parallel` stage concurrently.
    ///
    /// On failure, everything this start began is stopped in reverse order, the observers have seen
    /// the last event, and the original error is rethrown. A stop requested meanwhile makes it throw
    /// `CancellationError` after that rollback.
    ///
    /// - Throws: ``LifecycleError/alreadyStarted(_:)`` on a second call, ``LifecycleError/dependencyCycle(_:)``
    ///   and other bad-input errors before anything starts, or the first error of a `start()`.
    public func start() async throws {
        let task: Task<Void, any Error> = try state.withLock { state throws(LifecycleError) in
            guard state.phase == .idle else { throw .alreadyStarted(rootID) }
            state.phase = .starting
            let task = Task {
                do {
                    try await Coordinator.shared.start(self)
                    self.state.withLock { state in
                        state.phase = .running
                        state.cancelledStarts = [:]
                    }
                } catch {
                    self.startEnded(with: error)
                    throw error
                }
            }
            state.startTask = task
            if state.stopCause != nil { task.cancel() }
            return task
        }
        do {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                self.requestStop(cause: .cancellation)
            }
        } catch {
            await finishEvents()
            throw state.withLock { $0.failure } ?? error
        }
    }

    /// Stops the tree: services in reverse order, each `Parallel` stage concurrently, every stop
    /// attempted even when others throw or time out.
    ///
    /// A start in flight is cancelled and rolled back first. Calling it again, or concurrently, waits
    /// for the same stop. Returns after the observers consumed the last event.
    ///
    /// Called from the runner's own work (a service's `start()` or `stop()` in this tree, a
    /// background task added during a `start()`, an observer), it requests the stop and returns at
    /// once: waiting there would wait for itself. The stop (or the rollback of a start in flight)
    /// then proceeds as for ``requestStop()``.
    ///
    /// - Throws: the first error a `stop()` threw (or ``LifecycleError/stopTimedOut(_:after:)``), after
    ///   every stop ran; ``LifecycleError/notStarted(_:)`` when the runner was never started, and
    ///   then the call has no effect.
    public func stop() async throws {
        if await isOwnWork() {
            let isStarted = state.withLock { $0.phase != .idle }
            guard isStarted else { throw LifecycleError.notStarted(rootID) }
            // Stop without waiting: also a tree nobody runs stops (as after a task failure).
            requestStop()
            Task { _ = try? await self.stopTree() }
            return
        }
        if let first = try await stopTree().first { throw first }
    }

    /// Whether the calling task is work this runner's stop waits for: a `start()` or `stop()` of its
    /// tree, an observer, or a background task of a service its tree holds.
    private func isOwnWork() async -> Bool {
        if Self.currentRunner == ObjectIdentifier(self) { return true }
        guard let owner = ServiceTable.currentTaskOwner else { return false }
        return await Coordinator.shared.runner(self, holds: owner)
    }

    /// Performs (or joins) the stop and returns every error the stops threw.
    ///
    /// The request and the stop task are made under one lock, after the phase was checked: a refused
    /// call records nothing, and the cause is emitted before the stop task exists (DESIGN §6).
    private func stopTree() async throws(LifecycleError) -> [any Error] {
        let (task, woken): (Task<[any Error], Never>, Woken?) = try state.withLock {
            state throws(LifecycleError) in
            guard state.phase != .idle else { throw .notStarted(rootID) }
            let woken = recordStop(cause: .requested, failure: nil, in: &state)
            if let task = state.stopTask { return (task, woken) }
            let startTask = state.startTask
            let task = Task {
                _ = await startTask?.result
                let isRunning = self.state.withLock { state in
                    guard state.phase == .running else { return false }
                    state.phase = .stopping
                    return true
                }
                var errors: [any Error] = []
                if isRunning {
                    errors = await Coordinator.shared.stop(self)
                    self.state.withLock { $0.phase = .stopped }
                }
                await self.finishEvents()
                return errors
            }
            state.stopTask = task
            // An escalation that came before the stop task existed still cancels it.
            if state.isEscalated { task.cancel() }
            return (task, woken)
        }
        woken?.resume()
        // Cancelling the caller does not cancel the stop, but bounds its wait for observers (DESIGN §6).
        return await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            giveUpOnObservers(after: Self.observerGrace)
        }
    }

    /// Starts the tree, waits until a stop is requested or the tree fails, stops it, and rethrows
    /// the failure if there was one.
    ///
    /// The runner's signals (SIGINT and SIGTERM by default) request the stop; a second one while
    /// stopping escalates. A stop requested during the start, by a signal or `requestStop()`, makes
    /// `run()` return normally after the rollback, unless a `start()` ignored the cancellation and was
    /// abandoned: then it throws ``LifecycleError/startAbandoned(_:)``, since that service may still
    /// be running its start.
    public func run() async throws {
        let signalHandling = SignalHandling(signals, runner: self)
        defer { signalHandling.restore() }
        do {
            try await start()
        } catch is CancellationError where isCleanStop {
            return
        }
        var failure: (any Error)?
        do {
            try await withTaskCancellationHandler {
                try await wait()
            } onCancel: {
                self.requestStop(cause: .cancellation)
            }
        } catch {
            failure = error
        }
        let stopErrors = try await stopTree()
        // After an escalation a stop that ended in CancellationError did what was asked of it: the
        // stop stays clean (DESIGN §2). A timeout or a stop's own error still fails the run.
        let isEscalated = state.withLock { $0.isEscalated }
        if failure == nil {
            failure = stopErrors.first { !(isEscalated && $0 is CancellationError) }
        }
        // A background task that failed after the stop was requested is still loud (DESIGN §4).
        if let failure = failure ?? self.failure { throw failure }
    }

    /// Waits until a stop is requested or the tree fails.
    ///
    /// Returns at once when a stop was already requested or the tree has stopped.
    ///
    /// - Throws: the failure that ended the tree (a background task's error, or the error its start
    ///   failed with, also when the start fails while this waits), `CancellationError` when the
    ///   waiting task is cancelled, ``LifecycleError/notStarted(_:)`` before `start()`.
    public func wait() async throws {
        let token = state.withLock { state in
            state.lastWaiter += 1
            return state.lastWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelledWaiters.remove(token) != nil { return .failure(CancellationError()) }
                    if let failure = state.failure { return .failure(failure) }
                    if state.phase == .idle { return .failure(LifecycleError.notStarted(rootID)) }
                    if let failure = state.startFailure { return .failure(failure) }
                    if state.stopCause != nil || state.phase == .stopped { return .success(()) }
                    state.waiters[token] = continuation
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: token) else {
                    state.cancelledWaiters.insert(token)
                    return nil as CheckedContinuation<Void, any Error>?
                }
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Asks the tree to stop, and returns at once.
    ///
    /// Safe from any thread or task, including a signal handler's. Calling it again does nothing;
    /// ``wait()`` returns and ``stop()`` performs the stop.
    ///
    /// - Important: Services still starting are cancelled; running ones stop in reverse order.
    public func requestStop() {
        requestStop(cause: .requested)
    }

    // MARK: Observing

    /// The state of a service of this tree (or any service); the same as `service.state`.
    public func state(of service: any Service) -> ServiceState {
        service.state
    }

    /// Makes a new stream of this runner's events, from now until the tree has stopped.
    ///
    /// Each call returns a new stream, so many consumers can follow one runner. Subscribe before
    /// `start()` to see every event. Nothing is dropped unless `bufferingNewest` limits the buffer;
    /// then dropped events are counted in ``droppedEventCount``.
    public func events(bufferingNewest limit: Int? = nil) -> AsyncStream<LifecycleEvent> {
        hub.subscribe(bufferingNewest: limit)
    }

    /// How many events streams with a bounded buffer dropped.
    public var droppedEventCount: Int { hub.droppedCount }

    // MARK: For the coordinator and the signal handling

    /// Delivers an event to every subscriber; the event is made only when someone subscribed.
    func emit(_ event: @autoclosure () -> LifecycleEvent) {
        hub.emit(event())
    }

    /// The tree failed (a background task threw): record the failure, request the stop, wake `wait()`
    /// with it, and stop the tree even when nobody is in `run()` (DESIGN §4); a later `stop()` joins.
    func fail(_ error: any Error) {
        requestStop(cause: .failure, failure: error)
        Task { _ = try? await self.stopTree() }
    }

    /// Records why the tree stops (first cause wins), emits it, cancels a start in flight, wakes `wait()`.
    ///
    /// Returns whether this call was the first request; a signal that was not escalates.
    @discardableResult
    func requestStop(cause: StopCause, failure: (any Error)? = nil) -> Bool {
        guard let woken = state.withLock({ recordStop(cause: cause, failure: failure, in: &$0) }) else { return false }
        woken.resume()
        return true
    }

    /// What a first stop request must wake once the lock is released.
    private struct Woken {
        let waiters: [CheckedContinuation<Void, any Error>]
        let start: Task<Void, any Error>?
        let failure: (any Error)?

        func resume() {
            start?.cancel()
            for waiter in waiters {
                if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
            }
        }
    }

    /// Records a stop request inside the lock: the failure and the cause are set, and the cause is
    /// emitted, under one lock, so no `stop()` on another thread can emit `running → stopping` (or
    /// wake a waiter) before the cause (DESIGN §6). `nil` when a cause was recorded before.
    private func recordStop(cause: StopCause, failure: (any Error)?, in state: inout State) -> Woken? {
        if let failure, state.failure == nil { state.failure = failure }
        guard state.stopCause == nil else { return nil }
        state.stopCause = cause
        emit(.stopRequested(cause, root: rootID, state: root.state, time: clock.elapsed()))
        defer { state.waiters = [:] }
        return Woken(waiters: Array(state.waiters.values), start: state.startTask, failure: failure)
    }

    /// The start ended in an error: record it for `wait()` (unless a stop request caused it) and hand it
    /// to the waiters, so none waits for a tree that never ran.
    private func startEnded(with error: any Error) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.phase = .stopped
            state.cancelledStarts = [:]
            let isStopRequest = error is CancellationError && state.stopCause != nil
            if !isStopRequest { state.startFailure = state.failure ?? error }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        let failure = self.failure ?? error
        for waiter in waiters { waiter.resume(throwing: failure) }
    }

    /// A start in flight was cancelled: it gets its grace time, or is abandoned at once after an escalation.
    func startCancelled(_ attempt: StartAttempt, grace: Duration) {
        let isEscalated = state.withLock { state in
            if !state.isEscalated { state.cancelledStarts[ObjectIdentifier(attempt)] = attempt }
            return state.isEscalated
        }
        if isEscalated {
            attempt.finish(.abandoned)
        } else {
            attempt.cancelled(grace: grace, clock: clock)
        }
    }

    /// Runs `operation` in a task of its own, untouched by the cancellation of the caller's task.
    ///
    /// For the stops of a rollback: a stop request cancels the start, yet the services it already
    /// started must stop gracefully. An escalation, before or during, cancels them as it does every stop.
    func runUncancelled(_ operation: @escaping @Sendable () async -> [any Error]) async -> [any Error] {
        let task = Task { await operation() }
        let token: Int? = state.withLock { state in
            if state.isEscalated { return nil }
            state.lastRollback += 1
            state.rollbacks[state.lastRollback] = task
            return state.lastRollback
        }
        guard let token else {
            task.cancel()
            return await task.value
        }
        let errors = await task.value
        _ = state.withLock { $0.rollbacks.removeValue(forKey: token) }
        return errors
    }

    /// A signal while stopping: cancel the stops in flight so the rest run already cancelled.
    ///
    /// Also cancels the stop task created after this call, and makes `run()` count the stops'
    /// `CancellationError`s as the escalation's doing rather than as failures.
    func escalate(signal: Int32) {
        let (stopTask, startTask, rollbacks, starts) = state.withLock { state in
            state.isEscalated = true
            defer { state.cancelledStarts = [:] }
            return (state.stopTask, state.startTask, Array(state.rollbacks.values), Array(state.cancelledStarts.values))
        }
        for rollback in rollbacks { rollback.cancel() }
        emit(.stopRequested(.escalation(signal), root: rootID, state: root.state, time: clock.elapsed()))
        stopTask?.cancel()
        startTask?.cancel()
        for start in starts { start.finish(.abandoned) }
        giveUpOnObservers(after: Self.observerGrace)
    }

    /// Bounds the wait for the observers: after `grace` on the runner's clock, stop waiting for them.
    private func giveUpOnObservers(after grace: Duration) {
        let observers = self.observers
        let clock = self.clock
        Task {
            try? await clock.sleep(grace)
            observers.giveUp()
        }
    }

    /// The failure recorded for the tree (a background task's error), if any; `withRunning` throws it
    /// as `run()` does.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Whether the stop so far was asked for (a request or a signal) rather than caused by a failure.
    private var isCleanStop: Bool {
        state.withLock { state in
            guard state.failure == nil, let cause = state.stopCause else { return false }
            switch cause {
            case .requested, .signal, .escalation: return true
            case .failure, .cancellation: return false
            }
        }
    }

    /// Ends the event streams and waits until every observer consumed the last event, or, after an
    /// escalation or a cancellation of the waiting task, at most ``observerGrace`` more.
    private func finishEvents() async {
        hub.finish()
        await withTaskCancellationHandler {
            await observers.waitForAll()
        } onCancel: {
            giveUpOnObservers(after: Self.observerGrace)
        }
    }
}
