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

    /// The runner's machine and the tasks and continuations it acts on; only touched under `state`'s lock.
    struct State {
        var machine: RunnerStateMachine
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var lastWaiter = 0
        var startTask: Task<Void, any Error>?
        var stopTask: Task<[any Error], Never>?
        var rollbacks: [Int: Task<[any Error], Never>] = [:]
        var lastRollback = 0
        /// Starts in flight that were cancelled: an escalation abandons them at once.
        var cancelledStarts: [ObjectIdentifier: StartAttempt] = [:]
        /// `add` and `remove` calls in flight: the stop waits for them; a stop request cancels the
        /// adds, an escalation the removes too.
        var changes: [Int: (task: Task<Void, any Error>, isAdd: Bool)] = [:]
        var lastChange = 0
    }

    /// The root of the tree.
    let root: any Service
    /// The root's identity.
    let rootID: ServiceID
    /// The clock of timeouts and event times.
    let clock: LifecycleClock
    /// The signals `run()` turns into a stop.
    let signals: [Int32]
    /// The events' fan-out, and the view of the tree they make (snapshots, failures).
    let hub: EventHub
    /// The stall report, the shutdown deadline and the drain phase (DESIGN §12–§13).
    let shutdown: ShutdownControl
    /// The coordinator that drives this runner's tree: `.shared`, or a test's own.
    let coordinator: Coordinator
    let observers: ObserverTracker
    /// What the runner decides (its machine) and the handles it acts on, under one lock.
    let state: Locked<State>

    /// A runner for the tree under `service`.
    ///
    /// - Parameters:
    ///   - service: the root of the tree.
    ///   - observers: consumers of the events; each is subscribed now, so it sees every event, and
    ///     `run()`/`stop()` return only after each has consumed the last one. Once the stop escalates
    ///     or the waiting task is cancelled, they wait at most ``observerGrace`` more, and
    ///     ``observersStillConsuming`` names the ones left behind.
    ///   - signals: the signals `run()` turns into a graceful stop (a second one escalates); `[]` for none.
    ///   - clock: the clock of `startTimeout`, `gracefulShutdownTimeout`, event times, the stall
    ///     report, the deadline and the drain.
    ///   - stallReportInterval: while the ordered stop has lasted longer than this, an event of kind
    ///     ``LifecycleEvent/Kind/shutdownStalled(stopping:)`` names, every interval, the services whose
    ///     `stop()` still runs; `nil` for none.
    ///   - shutdownDeadline: the time the orchestrator allows between its stop signal and its kill
    ///     (`terminationGracePeriodSeconds`, `TimeoutStopSec`). `start()` refuses a tree whose
    ///     worst-case shutdown plus `drainTimeout` exceeds it, and at 90 % of it after the stop
    ///     request the stop escalates by itself (cause ``StopCause/deadline``). `nil`: no deadline.
    ///   - drainTimeout: above zero, a stop first calls `drain()` on every running service of the
    ///     tree, concurrently, and waits for them at most this long before the ordered stop.
    public convenience init(
        _ service: any Service,
        observers: [any LifecycleObserver] = [],
        signals: [Int32] = Signals.default,
        clock: some Clock<Duration> = ContinuousClock(),
        stallReportInterval: Duration? = .seconds(5),
        shutdownDeadline: Duration? = nil,
        drainTimeout: Duration = .zero
    ) {
        self.init(
            service, observers: observers, signals: signals, clock: clock, coordinator: .shared,
            settings: ShutdownSettings(
                stallReportInterval: stallReportInterval, shutdownDeadline: shutdownDeadline, drainTimeout: drainTimeout
            )
        )
    }

    /// A runner driven by `coordinator` (tests give one their own, to look at it alone).
    init(
        _ service: any Service, observers: [any LifecycleObserver], signals: [Int32], clock: some Clock<Duration>,
        coordinator: Coordinator, settings: ShutdownSettings = ShutdownSettings()
    ) {
        self.coordinator = coordinator
        root = service
        rootID = ServiceTable.shared.identify(service)
        hub = EventHub(view: TreeView(root: service, id: rootID, state: service.state))
        shutdown = ShutdownControl(settings)
        state = Locked(State(machine: RunnerStateMachine(root: rootID)))
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
        // runner alive): the streams end, if they have not already, and a deadline timer with them.
        shutdown.stopEnded()
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
            let startsCancelled = try state.machine.startCalled()
            let task = Task {
                do {
                    try await self.coordinator.start(self)
                    self.state.withLock { state in
                        state.machine.startSucceeded()
                        state.cancelledStarts = [:]
                    }
                } catch {
                    self.startFailed(with: error)
                    throw error
                }
            }
            state.startTask = task
            if startsCancelled { task.cancel() }
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
            throw failure ?? error
        }
    }

    /// Stops the tree: services in reverse order, each `Parallel` stage concurrently, every stop
    /// attempted even when others throw or time out.
    ///
    /// A start in flight is cancelled and rolled back first. Calling it again, or concurrently, waits
    /// for the same stop. Returns after the observers consumed the last event.
    ///
    /// Called from the runner's own work (a service's `start()` or `stop()` in this tree, a
    /// background task of a service it holds, an observer), it requests the stop and returns at
    /// once: waiting there would wait for itself. The stop (or the rollback of a start in flight)
    /// then proceeds by itself.
    ///
    /// - Throws: the first error a `stop()` threw (or ``LifecycleError/stopTimedOut(_:after:)``), after
    ///   every stop ran; ``LifecycleError/notStarted(_:)`` when the runner was never started, and
    ///   then the call has no effect.
    public func stop() async throws {
        if await isOwnWork() {
            let isStarted = state.withLock { $0.machine.phase != .idle }
            guard isStarted else { throw LifecycleError.notStarted(rootID) }
            // Stop without waiting: also a tree nobody runs stops (as after a task failure).
            requestStop()
            stopWithoutWaiting()
            return
        }
        if let first = try await stopTree().first { throw first }
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
        } catch is CancellationError where state.withLock({ $0.machine.isCleanStop }) {
            return
        }
        var waitError: (any Error)?
        do {
            try await withTaskCancellationHandler {
                try await wait()
            } onCancel: {
                self.requestStop(cause: .cancellation)
            }
        } catch {
            waitError = error
        }
        let stopErrors = try await stopTree()
        if let failure = state.withLock({ $0.machine.runOutcome(waitError: waitError, stopErrors: stopErrors) }) {
            throw failure
        }
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
                let action = state.withLock { state in
                    let action = state.machine.waitCalled(token)
                    if case .park = action { state.waiters[token] = continuation }
                    return action
                }
                if case .resume(let result) = action { Self.resume(continuation, with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.machine.waitCancelled(token) ? state.waiters.removeValue(forKey: token) : nil
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
}
