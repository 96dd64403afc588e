/// One runner's life as pure data: its phase, why it stops, how it failed, and who waits.
///
/// No `async`, no task, no clock. ``ServiceRunner`` keeps it under its lock, tells it what just
/// happened (`startCalled`, `stopRequested`, `signalArrived`, `waitCalled`, …) and performs what it
/// returns: resume these waiters with this result, cancel the start, emit this cause, make or join
/// the stop task. Waiters are tokens; the runner keeps their continuations.
struct RunnerStateMachine: Sendable {
    /// Where the runner's tree is.
    enum Phase: Sendable, Equatable {
        /// Made, never started.
        case idle
        /// `start()` is walking the tree.
        case starting
        /// The tree runs.
        case running
        /// The stop is walking the tree.
        case stopping
        /// The tree is down: stopped, or its start failed or was cancelled.
        case stopped
    }

    /// How a waiter of ``ServiceRunner/wait()`` ends.
    enum WaitResult: Sendable {
        /// `wait()` returns.
        case returned
        /// `wait()` throws.
        case threw(any Error)
    }

    /// The first request to stop: emit its cause on the root (before anything else of the stop),
    /// cancel the start in flight when there is one, then resume the waiters.
    struct StopBegun: Sendable {
        let cause: StopCause
        let cancelsStart: Bool
        let wakes: [Int]
        let result: WaitResult
    }

    /// What `stop()` does with the stop task.
    enum StopTaskAction: Sendable, Equatable {
        /// Make the one stop task; cancel it at once when the runner has escalated already.
        case create(cancelled: Bool)
        /// A stop task exists: await it.
        case join
    }

    /// What a `wait()` call does.
    enum WaitAction: Sendable {
        /// Return or throw at once.
        case resume(WaitResult)
        /// Park until a stop request, a failed start or the waiter's cancellation.
        case park
    }

    /// What a signal does.
    enum SignalAction: Sendable {
        /// The first request to stop.
        case stop(StopBegun)
        /// The tree already stops: hurry (DESIGN §2). `isFirst` is false for a third signal.
        case escalate(isFirst: Bool)
    }

    /// The root, for errors.
    let root: ServiceID
    /// Where the tree is.
    private(set) var phase = Phase.idle
    /// Why the tree stops; the first cause wins.
    private(set) var stopCause: StopCause?
    /// The first background-task failure.
    private(set) var failure: (any Error)?
    /// The error the start ended with, unless a stop request ended it.
    private(set) var startFailure: (any Error)?
    /// A signal came while stopping (or ``escalated()``): stops in flight are cancelled.
    private(set) var isEscalated = false
    /// Whether the stop task was made.
    private(set) var hasStopTask = false
    private var waiters: [Int] = []
    private var cancelledWaiters: Set<Int> = []

    /// A machine for the runner of `root`, idle.
    init(root: ServiceID) {
        self.root = root
    }

    // MARK: Starting

    /// `start()` was called: the tree starts. Returns whether the start must begin cancelled (a stop
    /// was requested before it).
    mutating func startCalled() throws(LifecycleError) -> Bool {
        guard phase == .idle else { throw .alreadyStarted(root) }
        phase = .starting
        return stopCause != nil
    }

    /// The whole tree started.
    mutating func startSucceeded() {
        if phase == .starting { phase = .running }
    }

    /// The start ended in `error`: the tree is down. Waiters learn the failure, unless a stop
    /// request caused it (then they were resumed by the request already).
    mutating func startFailed(_ error: any Error) -> (wakes: [Int], result: WaitResult) {
        phase = .stopped
        let isStopRequest = error is CancellationError && stopCause != nil
        if !isStopRequest { startFailure = failure ?? error }
        defer { waiters = [] }
        return (waiters, .threw(failure ?? error))
    }

    // MARK: Stopping

    /// Someone asked the tree to stop (a request, a failure, a cancellation). The failure is kept
    /// even when a cause came first; `nil` unless this is the first request.
    mutating func stopRequested(_ cause: StopCause, failure: (any Error)? = nil) -> StopBegun? {
        if let failure, self.failure == nil { self.failure = failure }
        guard stopCause == nil else { return nil }
        stopCause = cause
        defer { waiters = [] }
        let result = failure.map(WaitResult.threw) ?? .returned
        return StopBegun(cause: cause, cancelsStart: phase == .starting, wakes: waiters, result: result)
    }

    /// `stop()` was called from outside the tree's own work.
    ///
    /// - Throws: ``LifecycleError/notStarted(_:)`` before `start()`, and then nothing is recorded.
    mutating func stopCalled() throws(LifecycleError) -> (request: StopBegun?, task: StopTaskAction) {
        guard phase != .idle else { throw .notStarted(root) }
        let request = stopRequested(.requested)
        if hasStopTask { return (request, .join) }
        hasStopTask = true
        return (request, .create(cancelled: isEscalated))
    }

    /// The stop task is past the start: whether the tree runs and must be stopped now.
    mutating func stopTaskBegan() -> Bool {
        guard phase == .running else { return false }
        phase = .stopping
        return true
    }

    /// The stop walked the whole tree.
    mutating func stopTaskEnded() {
        phase = .stopped
    }

    /// A signal arrived: the first request stops the tree, any later one escalates.
    mutating func signalArrived(_ number: Int32) -> SignalAction {
        if let begun = stopRequested(.signal(number)) { return .stop(begun) }
        return .escalate(isFirst: escalated())
    }

    /// The stop escalates: stops and starts in flight are cancelled, later ones begin cancelled.
    /// Returns whether this was the first escalation.
    mutating func escalated() -> Bool {
        defer { isEscalated = true }
        return !isEscalated
    }

    // MARK: Changing the running tree (DESIGN §11)

    /// `add` or `remove` was called: allowed only while the tree runs and no stop was requested.
    func changeRequested() throws(LifecycleError) {
        guard phase == .running, stopCause == nil else { throw .notRunning(root) }
    }

    // MARK: Orchestrators (DESIGN §13)

    /// The stop task is past the start and the tree runs: whether it drains before the ordered stop.
    /// Only with a drain timeout above zero, and never once the stop escalated (it must hurry).
    func drainsBeforeStopping(drainTimeout: Duration) -> Bool {
        drainTimeout > .zero && phase == .stopping && !isEscalated
    }

    /// 90 % of the shutdown deadline passed since the first stop request. Returns whether the stop
    /// escalates now (cause ``StopCause/deadline``): not when the tree is down or escalated already.
    mutating func deadlineReached() -> Bool {
        guard stopCause != nil, phase != .stopped, !isEscalated else { return false }
        isEscalated = true
        return true
    }

    // MARK: Waiting

    /// `wait()` was called with `token`.
    mutating func waitCalled(_ token: Int) -> WaitAction {
        if cancelledWaiters.remove(token) != nil { return .resume(.threw(CancellationError())) }
        if let failure { return .resume(.threw(failure)) }
        switch phase {
        case .idle:
            return .resume(.threw(LifecycleError.notStarted(root)))
        case .starting, .running, .stopping, .stopped:
            if let startFailure { return .resume(.threw(startFailure)) }
            if stopCause != nil || phase == .stopped { return .resume(.returned) }
            waiters.append(token)
            return .park
        }
    }

    /// The task waiting with `token` was cancelled. Returns whether that waiter was parked and must
    /// be resumed with `CancellationError` now; otherwise its `wait()` throws it when it arrives.
    mutating func waitCancelled(_ token: Int) -> Bool {
        if let index = waiters.firstIndex(of: token) {
            waiters.remove(at: index)
            return true
        }
        cancelledWaiters.insert(token)
        return false
    }

    // MARK: Outcomes

    /// Whether the stop so far was asked for (a request or a signal) rather than caused by a failure.
    var isCleanStop: Bool {
        guard failure == nil, let stopCause else { return false }
        switch stopCause {
        case .requested, .signal, .escalation, .deadline: return true
        case .failure, .cancellation: return false
        }
    }

    /// What `run()` throws after its stop: the failure `wait()` threw, else the first stop error
    /// (after an escalation a stop's `CancellationError` is what was asked, not a failure), else a
    /// background-task failure recorded while stopping (DESIGN §4); `nil` for a clean run.
    func runOutcome(waitError: (any Error)?, stopErrors: [any Error]) -> (any Error)? {
        if let waitError { return waitError }
        if let stopError = stopErrors.first(where: { !(isEscalated && $0 is CancellationError) }) { return stopError }
        return failure
    }
}
