/// One service's life as pure data: a fact in, a transition, a command and the waiters to wake out.
///
/// No `async`, no clock, no I/O. Each input is a method named for what just happened; it returns
/// what to do, from an enum made for that input alone. ``move(to:)`` is the only writer of the
/// state and asks the transition table first, so every state change is legal and becomes an event.
///
/// The holders that wait for something (another holder's start, another tree's stop, an earlier
/// `start()` still in flight) live in the machine, in the phase they wait for, as `Waiter`s: the
/// async coordinator keeps continuations there, the blocking table tickets. Both drive this machine.
struct StateMachine<Waiter: Sendable>: Sendable {
    /// A waiting holder and the token it can leave by.
    struct Parked: Sendable {
        let token: Int
        let waiter: Waiter
    }

    /// Where the service is in its life, with what each phase holds.
    enum Life: Sendable {
        /// `idle`, `stopped` or `failed`. `earlierLife` holds the waiters while a failed life still
        /// winds down (its abandoned `start()` still runs, or the tasks it added still end): no new
        /// life may begin until it is over; `nil` when there is none.
        case down(ServiceState, earlierLife: [Parked]?)
        /// A first holder starts the dependencies (state `idle`, `stopped` or `failed`), then calls
        /// `start()` (state `starting`). Every holder is counted; the later ones wait for the outcome.
        case acquiring(ServiceState, holders: Int, waiters: [Parked])
        /// `starting`, but a background task the `start()` added threw and the trees holding it
        /// fail (DESIGN §4): the holders counted so far (`waiters` among them) are bound to this
        /// life; `joiners`, who came later, never join it: they wait, uncounted, and ask again
        /// once it is over.
        case failingStart(holders: Int, waiters: [Parked], joiners: [Parked])
        /// Running for `holders` dependents and runners.
        case running(holders: Int)
        /// Running, but a background task threw and the trees holding it fail (DESIGN §4): it runs
        /// for its holders until the last lets it go. New holders never join this life: they wait,
        /// uncounted, and ask again once its stop ended.
        case failing(holders: Int, waiters: [Parked])
        /// The last holder left; `stop()` runs. Holders of other trees wait, uncounted, and ask again.
        case stopping(waiters: [Parked])
        /// A restart (DESIGN §10) stops the service and starts it again while its holders keep
        /// holding it: `stopping`, then `stopped` or `failed` (the backoff), then `starting`. New
        /// holders, and holders letting it go while a call is in flight, wait uncounted and ask again.
        case restarting(ServiceState, holders: Int, waiters: [Parked])
    }

    /// What to do when a dependent (or a runner) asks for the service.
    enum AcquireAction: Sendable, Equatable {
        /// First holder: start the dependencies, then report ``dependenciesStarted()``.
        case startDependencies
        /// Already running for another dependent: counted, nothing to start (DESIGN §3).
        case countHolder
        /// Another holder's start is in flight: counted and parked; its outcome is this holder's too.
        case waitForStart
        /// The last holder of another tree is stopping it, or a restart holds it down: parked, not
        /// counted; ask again when woken.
        case waitForStop
        /// A failed life still winds down: parked, not counted; ask again when woken.
        case waitForEarlierLife
    }

    /// What to do when a holder lets the service go.
    enum ReleaseAction: Sendable {
        /// Other holders remain: nothing to stop.
        case keepRunning
        /// The last holder left: emit the transition, call `stop()`, then cancel the background tasks.
        case callStop(Transition)
        /// A restart's `stop()` or `start()` is in flight and this is its last holder: park with
        /// ``park(token:waiter:)`` and ask again when woken.
        case waitForRestartStep
        /// The last holder left a service a restart holds down: nothing to stop; let its
        /// dependencies go and wake these waiters (they ask again).
        case leaveRestart([Waiter])
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
    /// Where the service is. Only ``move(to:)`` changes the state in it.
    private(set) var life: Life

    /// A machine for a service last seen in `state`, with no holder (a restarted instance begins
    /// in `stopped` or `failed`).
    init(service: ServiceID, state: ServiceState = .idle) {
        self.service = service
        switch state {
        case .idle, .stopped, .failed: life = .down(state, earlierLife: nil)
        case .starting: life = .acquiring(.starting, holders: 0, waiters: [])
        case .running: life = .running(holders: 0)
        case .stopping: life = .stopping(waiters: [])
        }
    }

    /// The state, as events and `service.state` show it.
    var state: ServiceState {
        switch life {
        case .down(let state, _), .acquiring(let state, _, _), .restarting(let state, _, _): state
        case .running, .failing: .running
        case .failingStart: .starting
        case .stopping: .stopping
        }
    }

    /// How many dependents and runners hold the service (counted from their request on).
    var holders: Int {
        switch life {
        case .acquiring(_, let holders, _), .running(let holders), .failing(let holders, _),
            .failingStart(let holders, _, _), .restarting(_, let holders, _):
            holders
        case .down, .stopping: 0
        }
    }

    /// Whether nothing is left to remember: down, and no earlier life winding down.
    var isForgettable: Bool {
        if case .down(_, nil) = life { return true }
        return false
    }

    // MARK: Starting

    /// A dependent or runner asks for the service.
    ///
    /// When it need not wait, it is counted now (``AcquireAction/startDependencies``,
    /// ``AcquireAction/countHolder``). When it must wait, nothing changes yet: the caller parks it
    /// with ``park(token:waiter:)`` before anything else reaches the machine.
    mutating func acquireRequested() -> AcquireAction {
        switch life {
        case .down(let state, nil):
            life = .acquiring(state, holders: 1, waiters: [])
            return .startDependencies
        case .down(_, .some):
            return .waitForEarlierLife
        case .acquiring:
            return .waitForStart
        case .running(let holders):
            life = .running(holders: holders + 1)
            return .countHolder
        case .stopping, .restarting, .failing, .failingStart:
            // Only another tree meets it stopping: its last holder let it go. A restart holds it
            // down for its holders; a new one joins once it runs again. A failed life is not joined.
            return .waitForStop
        }
    }

    /// Parks a holder that ``acquireRequested()`` told to wait, under `token`. One waiting for a
    /// start is counted from now on (the outcome is its own); one waiting for a stop or for an
    /// earlier life is not, and asks again when handed back.
    mutating func park(token: Int, waiter: Waiter) {
        let parked = Parked(token: token, waiter: waiter)
        switch life {
        case .down(let state, .some(let waiters)):
            life = .down(state, earlierLife: waiters + [parked])
        case .acquiring(let state, let holders, let waiters):
            life = .acquiring(state, holders: holders + 1, waiters: waiters + [parked])
        case .stopping(let waiters):
            life = .stopping(waiters: waiters + [parked])
        case .failing(let holders, let waiters):
            life = .failing(holders: holders, waiters: waiters + [parked])
        case .failingStart(let holders, let waiters, let joiners):
            life = .failingStart(holders: holders, waiters: waiters, joiners: joiners + [parked])
        case .restarting(let state, let holders, let waiters):
            life = .restarting(state, holders: holders, waiters: waiters + [parked])
        case .down(_, nil), .running:
            // Not a waiting phase: the caller skipped `acquireRequested()`. Nothing to park on.
            break
        }
    }

    /// The parked holder `token` gave up (its task was cancelled): it is no longer counted. Returns
    /// its waiter, to be told, or `nil` when it was not parked any more.
    mutating func waiterLeft(token: Int) -> Waiter? {
        func remove(_ waiters: inout [Parked]) -> Waiter? {
            guard let index = waiters.firstIndex(where: { $0.token == token }) else { return nil }
            return waiters.remove(at: index).waiter
        }
        switch life {
        case .down(let state, .some(var waiters)):
            let left = remove(&waiters)
            life = .down(state, earlierLife: waiters)
            return left
        case .acquiring(let state, let holders, var waiters):
            guard let left = remove(&waiters) else { return nil }
            life = .acquiring(state, holders: holders - 1, waiters: waiters)
            return left
        case .stopping(var waiters):
            let left = remove(&waiters)
            life = .stopping(waiters: waiters)
            return left
        case .failing(let holders, var waiters):
            let left = remove(&waiters)
            life = .failing(holders: holders, waiters: waiters)
            return left
        case .failingStart(let holders, var waiters, var joiners):
            if let left = remove(&waiters) {
                life = .failingStart(holders: holders - 1, waiters: waiters, joiners: joiners)
                return left
            }
            let left = remove(&joiners)
            life = .failingStart(holders: holders, waiters: waiters, joiners: joiners)
            return left
        case .restarting(let state, let holders, var waiters):
            let left = remove(&waiters)
            life = .restarting(state, holders: holders, waiters: waiters)
            return left
        case .down(_, nil), .running:
            return nil
        }
    }

    /// The dependencies are running: emit the returned transition and call `start()`.
    mutating func dependenciesStarted() throws(LifecycleError) -> Transition {
        guard case .acquiring(let state, let holders, let waiters) = life else {
            throw .illegalTransition(service, from: self.state, to: .starting)
        }
        let transition = try move(from: state, to: .starting)
        life = .acquiring(.starting, holders: holders, waiters: waiters)
        return transition
    }

    /// A dependency failed to start (or the start was cancelled before `start()` was called).
    ///
    /// The service never reached `starting`, so no transition: the returned waiters get the error.
    mutating func dependenciesFailed() -> [Waiter] {
        if case .failingStart(_, let waiters, let joiners) = life {
            life = .down(.failed, earlierLife: nil)
            return (waiters + joiners).map(\.waiter)  // a refused fact: nobody waits forever
        }
        guard case .acquiring(let state, _, let waiters) = life else { return [] }
        life = .down(state == .starting ? .failed : state, earlierLife: nil)
        return waiters.map(\.waiter)
    }

    /// `start()` returned: the service runs for every holder counted so far; the returned waiters
    /// learn it.
    mutating func startReturned() throws(LifecycleError) -> (Transition, [Waiter]) {
        if case .failingStart(let holders, let waiters, let joiners) = life {
            let transition = try move(from: .starting, to: .running)
            life = .failing(holders: holders, waiters: joiners)
            return (transition, waiters.map(\.waiter))
        }
        guard case .acquiring(.starting, let holders, let waiters) = life else {
            throw .illegalTransition(service, from: state, to: .running)
        }
        let transition = try move(from: .starting, to: .running)
        life = .running(holders: holders)
        return (transition, waiters.map(\.waiter))
    }

    /// `start()` threw, passed its `startTimeout` or was abandoned: the service is failed, its
    /// `stop()` is not called, the returned waiters get the error. `earlierLifeWindsDown`: its
    /// `start()` is still in flight or its tasks still end, so no new life begins until
    /// ``earlierLifeEnded()``.
    mutating func startFailed(earlierLifeWindsDown: Bool = false) throws(LifecycleError) -> (Transition, [Waiter]) {
        let (waiters, joiners): ([Parked], [Parked])
        switch life {
        case .acquiring(.starting, _, let parked): (waiters, joiners) = (parked, [])
        case .failingStart(_, let parked, let later): (waiters, joiners) = (parked, later)
        case .down, .acquiring, .running, .failing, .stopping, .restarting:
            throw .illegalTransition(service, from: state, to: .failed)
        }
        let transition = try move(from: .starting, to: .failed)
        guard earlierLifeWindsDown else {
            life = .down(.failed, earlierLife: nil)
            return (transition, (waiters + joiners).map(\.waiter))  // not reached: starts wind down
        }
        // The joiners of the failed life ask again once it wound down, as later holders do.
        life = .down(.failed, earlierLife: joiners)
        return (transition, waiters.map(\.waiter))
    }

    /// A start attempt ended in an error: before `start()` was called (no transition) or from
    /// `start()` itself (`starting → failed`). The returned waiters get the error.
    mutating func startAttemptFailed(earlierLifeWindsDown: Bool = false) throws(LifecycleError) -> (
        Transition?, [Waiter]
    ) {
        switch life {
        case .acquiring(.starting, _, _), .failingStart:
            let (transition, waiters) = try startFailed(earlierLifeWindsDown: earlierLifeWindsDown)
            return (transition, waiters)
        case .acquiring:
            // `dependenciesStarted()` refused or never came: no transition happened.
            return (nil, dependenciesFailed())
        case .down, .running, .failing, .stopping, .restarting:
            throw .illegalTransition(service, from: state, to: .failed)
        }
    }

    /// The failed life is over (its `start()` returned, stopped if it succeeded late; its tasks ended): the
    /// returned waiters ask again.
    mutating func earlierLifeEnded() -> [Waiter] {
        guard case .down(let state, .some(let waiters)) = life else { return [] }
        life = .down(state, earlierLife: nil)
        return waiters.map(\.waiter)
    }

    /// A restart's `start()` that failed still runs once the last holder let the service go: new
    /// lives wait until it is over (``earlierLifeEnded()``), as for a first start's (DESIGN §4).
    mutating func holdBackNewLives() {
        guard case .down(let state, nil) = life else { return }
        life = .down(state, earlierLife: [])
    }

    // MARK: Stopping

    /// A holder lets the service go (its dependent stopped, or its runner stops).
    mutating func releaseRequested() throws(LifecycleError) -> ReleaseAction {
        if case .restarting(let state, let holders, let waiters) = life {
            return try releaseRestarting(state, holders: holders, waiters: waiters)
        }
        let (holders, waiters): (Int, [Parked]?)
        switch life {
        case .running(let count): (holders, waiters) = (count, nil)
        case .failing(let count, let parked): (holders, waiters) = (count, parked)
        case .down, .acquiring, .failingStart, .stopping, .restarting: (holders, waiters) = (0, nil)
        }
        guard holders > 0 else {
            // Releasing what does not run would drive the count below zero (a facet defect we avoid).
            throw .illegalTransition(service, from: state, to: .stopping)
        }
        if holders > 1 {
            life = waiters.map { .failing(holders: holders - 1, waiters: $0) } ?? .running(holders: holders - 1)
            return .keepRunning
        }
        let transition = try move(from: .running, to: .stopping)
        // The holders waiting for a failed life to end wait for this stop.
        life = .stopping(waiters: waiters ?? [])
        return .callStop(transition)
    }

    /// `stop()` returned and the background tasks ended (`failed` when it threw or timed out); the
    /// returned waiters (holders of other trees) ask again.
    mutating func stopFinished(failed: Bool) throws(LifecycleError) -> (Transition, [Waiter]) {
        guard case .stopping(let waiters) = life else {
            throw .illegalTransition(service, from: state, to: failed ? .failed : .stopped)
        }
        let next: ServiceState = failed ? .failed : .stopped
        let transition = try move(from: .stopping, to: next)
        life = .down(next, earlierLife: nil)
        return (transition, waiters.map(\.waiter))
    }

    /// A holder lets go of a service a restart holds.
    private mutating func releaseRestarting(
        _ state: ServiceState, holders: Int, waiters: [Parked]
    ) throws(LifecycleError) -> ReleaseAction {
        switch state {
        case .stopping, .starting:
            // Another holder keeps it: counted out now, the restart goes on for the rest (a tree
            // stopping, or escalated, never waits for a restart it does not end).
            if holders > 1 {
                life = .restarting(state, holders: holders - 1, waiters: waiters)
                return .keepRunning
            }
            return .waitForRestartStep
        case .stopped, .failed, .idle:
            guard holders > 0 else { throw .illegalTransition(service, from: state, to: .stopping) }
            if holders > 1 {
                life = .restarting(state, holders: holders - 1, waiters: waiters)
                return .keepRunning
            }
            life = .down(state, earlierLife: nil)
            return .leaveRestart(waiters.map(\.waiter))
        case .running:
            throw .illegalTransition(service, from: state, to: .stopping)
        }
    }

    // MARK: Restarting (DESIGN §10)

    /// Whether a restart may take the service: it runs for at least one holder (a failed life
    /// too: a restart of a dependency stops it first, and starts a new life for its holders).
    var isRestartable: Bool {
        switch life {
        case .running(let holders), .failing(let holders, _): holders > 0
        case .down, .acquiring, .failingStart, .stopping, .restarting: false
        }
    }

    /// Whether a task of the current life failed its trees (``lifeFailed()``): no new holder joins it.
    var isFailedLife: Bool {
        switch life {
        case .failing, .failingStart: true
        case .down, .acquiring, .running, .stopping, .restarting: false
        }
    }

    /// Whether the service holds its dependencies: its `start()` was called (it starts, runs,
    /// fails or stops) or a restart holds it. A first holder still starting its dependencies holds
    /// only those its walk reached, and that walk's tree counts them.
    var holdsItsDependencies: Bool {
        switch life {
        case .acquiring(.starting, _, _), .failingStart, .running, .failing, .stopping, .restarting: true
        case .down, .acquiring: false
        }
    }

    /// Whether a holder's call of `start()` is in flight (its dependencies run).
    var isCallingStart: Bool {
        switch life {
        case .acquiring(.starting, _, _), .failingStart: true
        case .down, .acquiring, .running, .failing, .stopping, .restarting: false
        }
    }

    /// Whether a restart holds the service (stopping, down in its backoff, or starting again).
    var isRestarting: Bool {
        if case .restarting = life { return true }
        return false
    }

    /// Whether a `stop()` (a tree's or a restart's) or a restart's `start()` is in flight: a restart
    /// that would take the service waits for it to end (parked with ``park(token:waiter:)``), so two
    /// lives never overlap.
    var hasStepInFlight: Bool {
        switch life {
        case .stopping, .restarting(.stopping, _, _), .restarting(.starting, _, _): true
        case .down, .acquiring, .failingStart, .running, .failing, .restarting: false
        }
    }

    /// Whether a restart's `start()` of the service is in flight.
    var isCallingRestartStart: Bool {
        if case .restarting(.starting, _, _) = life { return true }
        return false
    }

    /// Whether letting the service go now leaves a restart's `start()` in flight without any holder:
    /// that start is then cancelled (the stop wins, DESIGN §10). Holders of other trees keep it.
    var isLastHolderOfARestartingStart: Bool {
        if case .restarting(.starting, let holders, _) = life { return holders <= 1 }
        return false
    }

    /// A restart stops the service (it, or one of its dependencies, failed): emit the transition and
    /// call `stop()`; the holders stay counted.
    mutating func restartStopBegan() throws(LifecycleError) -> Transition {
        let (holders, waiters): (Int, [Parked])
        switch life {
        case .running(let count): (holders, waiters) = (count, [])
        case .failing(let count, let parked): (holders, waiters) = (count, parked)
        case .down, .acquiring, .failingStart, .stopping, .restarting: (holders, waiters) = (0, [])
        }
        guard holders > 0 else { throw .illegalTransition(service, from: state, to: .stopping) }
        let transition = try move(from: .running, to: .stopping)
        // Holders waiting for a failed life to end wait for the restart's stop.
        life = .restarting(.stopping, holders: holders, waiters: waiters)
        return transition
    }

    /// The restart's `stop()` returned (`failed` when it threw or timed out): the service waits for
    /// its start; the returned waiters ask again.
    mutating func restartStopFinished(failed: Bool) throws(LifecycleError) -> (Transition, [Waiter]) {
        guard case .restarting(.stopping, let holders, let waiters) = life else {
            throw .illegalTransition(service, from: state, to: failed ? .failed : .stopped)
        }
        let next: ServiceState = failed ? .failed : .stopped
        let transition = try move(from: .stopping, to: next)
        life = .restarting(next, holders: holders, waiters: [])
        return (transition, waiters.map(\.waiter))
    }

    /// The restart starts the service again: emit the transition and call `start()`.
    mutating func restartStartBegan() throws(LifecycleError) -> Transition {
        guard case .restarting(let state, let holders, let waiters) = life, state == .stopped || state == .failed
        else { throw .illegalTransition(service, from: self.state, to: .starting) }
        let transition = try move(from: state, to: .starting)
        life = .restarting(.starting, holders: holders, waiters: waiters)
        return transition
    }

    /// The restart's `start()` returned: the service runs for its holders again; the returned
    /// waiters ask again (and are counted then).
    mutating func restartStartReturned() throws(LifecycleError) -> (Transition, [Waiter]) {
        guard case .restarting(.starting, let holders, let waiters) = life else {
            throw .illegalTransition(service, from: state, to: .running)
        }
        let transition = try move(from: .starting, to: .running)
        life = .running(holders: holders)
        return (transition, waiters.map(\.waiter))
    }

    /// The restart's `start()` threw, timed out or was abandoned: `failed`, still held by the
    /// restart (it may try again); the returned waiters ask again.
    mutating func restartStartFailed() throws(LifecycleError) -> (Transition, [Waiter]) {
        guard case .restarting(.starting, let holders, let waiters) = life else {
            throw .illegalTransition(service, from: state, to: .failed)
        }
        let transition = try move(from: .starting, to: .failed)
        life = .restarting(.failed, holders: holders, waiters: [])
        return (transition, waiters.map(\.waiter))
    }

    /// A background task of the starting or running service threw and no restart was made: the
    /// trees holding it fail, and no new holder joins this life (they wait until it is over, then
    /// start a new one).
    ///
    /// - Returns: whether this call marked the life failed (it was starting or running, and not
    ///   failed already).
    @discardableResult
    mutating func lifeFailed() -> Bool {
        switch life {
        case .running(let holders): life = .failing(holders: holders, waiters: [])
        case .acquiring(.starting, let holders, let waiters):
            life = .failingStart(holders: holders, waiters: waiters, joiners: [])
        case .down, .acquiring, .failing, .failingStart, .stopping, .restarting: return false
        }
        return true
    }

    /// One of the service's background tasks threw.
    func taskFailed() -> TaskFailedAction {
        // A restart holds it down or stops it: the restart decides what comes next. A task its
        // restarting `start()` added fails that life, as in a first start (DESIGN §4).
        if isRestarting { return state == .starting ? .failTrees : .report }
        return switch state {
        case .starting, .running: .failTrees
        // Tasks are cancelled while stopping; a task that throws then, or after, changes nothing.
        case .idle, .stopping, .stopped, .failed: .report
        }
    }

    /// The only place a state change is checked: the transition it returns becomes an event.
    private func move(from state: ServiceState, to next: ServiceState) throws(LifecycleError) -> Transition {
        guard state.canMove(to: next) else {
            throw .illegalTransition(service, from: state, to: next)
        }
        return Transition(from: state, to: next)
    }
}

extension StateMachine.ReleaseAction: Equatable where Waiter: Equatable {}
