/// One service's life as pure data: a fact in, a transition and a command out.
///
/// No `async`, no clock, no I/O. Each input is a method named for what just happened; it returns
/// what to do, from an enum made for that input alone. ``move(to:)`` is the only writer of ``state``
/// and asks the transition table first, so every state change is legal and becomes an event. The
/// async coordinator and the blocking runner both drive this same machine.
struct StateMachine: Sendable {
    /// What to do when a dependent (or a runner) asks for the service.
    enum AcquireAction: Sendable, Equatable {
        /// First holder: start the dependencies, then report ``dependenciesStarted()``.
        case startDependencies
        /// Already running for another dependent: counted, nothing to start (DESIGN §3).
        case countHolder
        /// Another holder's start is in flight: wait for its outcome, which is this holder's too.
        case waitForStart
        /// The last holder of another tree is stopping it: wait for that stop, then ask again.
        case waitForStop
    }

    /// What to do when a holder lets the service go.
    enum ReleaseAction: Sendable, Equatable {
        /// Other holders remain: nothing to stop.
        case keepRunning
        /// The last holder left: emit the transition, call `stop()`, then cancel the background tasks.
        case callStop(Transition)
    }

    /// What to do when one of the service's background tasks threw.
    enum TaskFailedAction: Sendable, Equatable {
        /// The service starts or runs: every tree holding it fails (DESIGN §4).
        case failTrees
        /// The service is already stopping or down: the failure is reported, nothing more.
        case report
    }

    /// The service this machine drives.
    let service: ServiceID
    /// The current state. Only ``move(to:)`` writes it.
    private(set) var state: ServiceState
    /// How many dependents and runners hold the service (counted from their request on).
    private(set) var holders = 0
    /// Whether dependencies or `start()` are in flight for a first holder.
    private(set) var isAcquiring = false

    /// A machine in `state` (a restarted instance begins in `stopped` or `failed`).
    init(service: ServiceID, state: ServiceState = .idle) {
        self.service = service
        self.state = state
    }

    /// A dependent or runner asks for the service.
    mutating func acquireRequested() -> AcquireAction {
        if isAcquiring {
            holders += 1
            return .waitForStart
        }
        switch state {
        case .running:
            holders += 1
            return .countHolder
        case .idle, .stopped, .failed:
            holders += 1
            isAcquiring = true
            return .startDependencies
        case .starting:
            // Unreachable: `isAcquiring` covers the whole of a start. Kept exhaustive on purpose.
            holders += 1
            return .waitForStart
        case .stopping:
            // Only another tree can meet it here: its last holder let it go. Not counted; the
            // request is asked again once the stop finished, and then starts it afresh.
            return .waitForStop
        }
    }

    /// A holder that waited for another holder's start (``AcquireAction/waitForStart``) was
    /// cancelled: it is no longer counted. The start goes on for the others.
    mutating func waitingHolderLeft() {
        guard isAcquiring, holders > 1 else { return }  // the holder that starts it stays counted
        holders -= 1
    }

    /// The dependencies are running: emit the returned transition and call `start()`.
    mutating func dependenciesStarted() throws(LifecycleError) -> Transition {
        try move(to: .starting)
    }

    /// A dependency failed to start (or the start was cancelled before `start()` was called).
    ///
    /// The service never reached `starting`, so no transition: every waiting holder gets the error.
    mutating func dependenciesFailed() {
        isAcquiring = false
        holders = 0
    }

    /// `start()` returned: the service runs for every holder counted so far.
    mutating func startReturned() throws(LifecycleError) -> Transition {
        isAcquiring = false
        return try move(to: .running)
    }

    /// `start()` threw or passed its `startTimeout`: the service is failed, its `stop()` is not called.
    mutating func startFailed() throws(LifecycleError) -> Transition {
        isAcquiring = false
        holders = 0
        return try move(to: .failed)
    }

    /// A start attempt ended in an error: before `start()` was called (the machine still waits for
    /// its dependencies, nothing to emit) or from `start()` itself (`starting → failed`, returned).
    mutating func startAttemptFailed() throws(LifecycleError) -> Transition? {
        switch state {
        case .starting:
            return try startFailed()
        case .idle, .stopped, .failed:
            // `dependenciesStarted()` refused or never came: no transition happened.
            dependenciesFailed()
            return nil
        case .running, .stopping:
            throw .illegalTransition(service, from: state, to: .failed)
        }
    }

    /// A holder lets the service go (its dependent stopped, or its runner stops).
    mutating func releaseRequested() throws(LifecycleError) -> ReleaseAction {
        guard state == .running, holders > 0 else {
            // Releasing what does not run would drive the count below zero (a facet defect we avoid).
            throw .illegalTransition(service, from: state, to: .stopping)
        }
        holders -= 1
        if holders > 0 { return .keepRunning }
        return .callStop(try move(to: .stopping))
    }

    /// `stop()` returned and the background tasks ended; `failed` when it threw or timed out.
    mutating func stopFinished(failed: Bool) throws(LifecycleError) -> Transition {
        try move(to: failed ? .failed : .stopped)
    }

    /// One of the service's background tasks threw.
    func taskFailed() -> TaskFailedAction {
        switch state {
        case .starting, .running: .failTrees
        // Tasks are cancelled while stopping; a task that throws then, or after, changes nothing.
        case .idle, .stopping, .stopped, .failed: .report
        }
    }

    /// The only writer of `state`; the transition it returns becomes an event.
    private mutating func move(to next: ServiceState) throws(LifecycleError) -> Transition {
        guard state.canMove(to: next) else {
            throw .illegalTransition(service, from: state, to: next)
        }
        defer { state = next }
        return Transition(from: state, to: next)
    }
}
