/// Runs one tree of blocking services, once: start, stop, and the events of every transition.
///
/// ```swift
/// let runner = BlockingRunner(Worker(), observers: [logger])
/// let events = runner.events()        // subscribe before starting
/// try runner.start()
/// defer { try? runner.stop() }
/// ```
///
/// Dependencies start first, in list order, and stop in reverse; a service shared by several
/// dependents, or by another running tree, starts once and stops with its last dependent. Events
/// are the same ``LifecycleEvent``s as ``ServiceRunner``'s, delivered on `AsyncStream`s that a task
/// can consume while the blocking code runs on its own thread.
///
/// - Important: A runner is not `Sendable`: call it from one thread at a time. Different runners may
///   run on different threads at once, also when their trees share services: a shared service starts
///   exactly once (a second thread waits for the first's `start()` to return) and stops once.
public final class BlockingRunner {
    private enum Phase { case idle, starting, running, stopped }

    private let root: any BlockingService
    private let rootID: ServiceID
    private let clock: LifecycleClock
    private let hub = EventHub()
    /// How many observers have not yet consumed the last event.
    private let observersLeft: ConditionLock<Int>
    private var phase = Phase.idle
    private var plan: BlockingTreePlan?
    /// `stop()` was called from inside the start (a service deciding the tree must not run).
    private var isStopRequestedWhileStarting = false

    /// A runner for the tree under `service`.
    ///
    /// - Parameters:
    ///   - service: the root of the tree.
    ///   - observers: consumers of the events; each gets its own stream, subscribed now, and runs in a
    ///     task of its own. `start()` (when it throws) and `stop()` return only after each has consumed
    ///     the last event.
    ///   - clock: the clock of event times.
    public init(
        _ service: any BlockingService,
        observers: [any LifecycleObserver] = [],
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        root = service
        rootID = BlockingServiceTable.shared.identify(service)
        self.clock = LifecycleClock(clock)
        let observersLeft = ConditionLock(observers.count)
        self.observersLeft = observersLeft
        for observer in observers {
            let stream = hub.subscribe()
            Task {
                await observer.observe(stream)
                observersLeft.withLock { $0 -= 1 }
                observersLeft.wakeAll()
            }
        }
    }

    deinit {
        // A runner dropped without stopping still ends its observers' streams.
        hub.finish()
    }

    /// Starts the tree on the calling thread: dependencies first, in list order.
    ///
    /// On failure, everything this start began is stopped in reverse order (the failed service's
    /// `stop()` is not called), the observers have seen the last event, and the original error is rethrown.
    ///
    /// A ``stop()`` called from inside one of the tree's `start()`s is kept: once the start is
    /// over, everything it started is stopped in reverse order and this throws `CancellationError`.
    ///
    /// - Throws: ``LifecycleError/alreadyStarted(_:)`` on a second call, ``LifecycleError/dependencyCycle(_:)``
    ///   before anything starts, the error of a `start()`, or `CancellationError` after a stop
    ///   requested during the start.
    public func start() throws {
        guard phase == .idle else { throw LifecycleError.alreadyStarted(rootID) }
        phase = .starting
        do {
            let plan = try BlockingTreePlan(root: root)
            try BlockingCoordinator.start(plan, emit: emit)
            self.plan = plan
            phase = .running
        } catch {
            phase = .stopped
            finishEvents()
            throw error
        }
        if isStopRequestedWhileStarting {
            try? stop()
            throw CancellationError()
        }
    }

    /// Stops the tree on the calling thread: services in reverse order, every stop attempted even when
    /// others throw.
    ///
    /// Returns after the observers consumed the last event. Calling it again does nothing. Called from
    /// inside a `start()` of this tree, it returns at once and the start rolls back when it is over.
    ///
    /// - Throws: the first error a `stop()` threw, after every stop ran; ``LifecycleError/notStarted(_:)``
    ///   when the runner was never started.
    public func stop() throws {
        switch phase {
        case .idle:
            throw LifecycleError.notStarted(rootID)
        case .stopped:
            return
        case .starting:
            isStopRequestedWhileStarting = true
            return
        case .running:
            phase = .stopped
        }
        hub.emit(.stopRequested(.requested, root: rootID, state: root.state, time: clock.elapsed()))
        var errors: [any Error] = []
        if let plan {
            errors = BlockingCoordinator.release([(plan, 0)], emit: emit)
        }
        plan = nil
        finishEvents()
        if let first = errors.first { throw first }
    }

    /// The state of a service of this tree (or any blocking service); the same as `service.state`.
    public func state(of service: any BlockingService) -> ServiceState {
        service.state
    }

    /// Makes a new stream of this runner's events, from now until the tree has stopped.
    ///
    /// Each call returns a new stream, so many consumers can follow one runner, from any task or
    /// thread. Subscribe before ``start()`` to see every event. Nothing is dropped unless
    /// `bufferingNewest` limits the buffer; then dropped events are counted in ``droppedEventCount``.
    public func events(bufferingNewest limit: Int? = nil) -> AsyncStream<LifecycleEvent> {
        hub.subscribe(bufferingNewest: limit)
    }

    /// How many events streams with a bounded buffer dropped.
    public var droppedEventCount: Int { hub.droppedCount }

    /// Publishes a transition as an event.
    private func emit(_ transition: Transition, of id: ServiceID, error: (any Error)?) {
        hub.emit(
            LifecycleEvent(service: id, from: transition.from, to: transition.to, error: error, time: clock.elapsed()))
    }

    /// Ends the event streams and blocks until every observer consumed the last event.
    ///
    /// The observers run as tasks on the cooperative pool; this thread sleeps on a condition
    /// variable meanwhile, so it must not be one of that pool's threads (see ``withRunning(_:observers:_:)``).
    private func finishEvents() {
        hub.finish()
        observersLeft.wait(until: { $0 == 0 })
    }
}

/// Starts the tree under a blocking `service`, runs `body` with it, and stops the tree however `body` ends.
///
/// The scoped form, like Python's `with`: everything runs on the calling thread. If `body` throws,
/// the tree is stopped and `body`'s error rethrown; otherwise the first error of a `stop()`, if any.
///
/// ```swift
/// try withRunning(Worker(), observers: [ConsoleLogger()]) { worker in
///     try worker.handle(job)
/// }
/// ```
///
/// - Important: With observers, this blocks the calling thread until every observer (a task) has
///   consumed the last event. Call it from a thread of your own (or the main thread), not from a
///   task on Swift's cooperative pool, whose threads it could otherwise all hold.
public func withRunning<S: BlockingService, T>(
    _ service: S,
    observers: [any LifecycleObserver] = [],
    _ body: (S) throws -> T
) throws -> T {
    let runner = BlockingRunner(service, observers: observers)
    try runner.start()
    let outcome = Result { try body(service) }
    var stopError: (any Error)?
    do { try runner.stop() } catch { stopError = error }
    let value = try outcome.get()
    if let stopError { throw stopError }
    return value
}
