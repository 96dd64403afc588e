/// Looking at a runner's tree (DESIGN §12): its plan before anything starts, a snapshot at any
/// time, a snapshot with the events after it, the failures the run met, and who a stop waits for.
extension ServiceRunner {
    /// The validated plan of the tree: its services in start order, stages, dependents and
    /// worst-case shutdown. Nothing is started.
    ///
    /// - Throws: exactly what ``start()`` would throw for bad input, before anything starts:
    ///   ``LifecycleError/dependencyCycle(_:)``, ``LifecycleError/emptyParallel(in:)``,
    ///   ``LifecycleError/invalidTimeout(_:_:)``, and with a `shutdownDeadline`,
    ///   ``LifecycleError/shutdownBudgetExceeded(path:worstCase:deadline:)``.
    public func plan() throws -> ServicePlan {
        try shutdown.settings.validate(root: rootID)
        let plan = ServicePlan(try TreePlan(root: root))
        try shutdown.settings.checkBudget(plan)
        return plan
    }

    /// The tree now: every service's state, whether it is ready, why it stops, how many events so far.
    ///
    /// Synchronous and safe from any thread or task (a health endpoint); it takes a lock, so not
    /// from a signal handler itself. The states are the ones the runner's events reported; before
    /// ``start()`` the snapshot knows only the root (a ``plan()`` starts and tracks nothing), from
    /// the start on every service of the tree.
    public func snapshot() -> LifecycleSnapshot {
        hub.withView { $0!.snapshot }
    }

    /// Atomically, a snapshot and a new stream of every event after it: no event is in both, none
    /// is lost. For late subscribers: a health endpoint, a dashboard.
    ///
    /// The stream is like ``events(bufferingNewest:)``'s: it ends when the tree has stopped (at
    /// once when it already has), and with `bufferingNewest` it keeps only the newest events.
    public func subscribe(
        bufferingNewest limit: Int? = nil
    ) -> (snapshot: LifecycleSnapshot, events: AsyncStream<LifecycleEvent>) {
        hub.subscribe(bufferingNewest: limit) { $0!.snapshot }
    }

    /// Every error the run met so far, in order: starts that failed (also the ones rolled back),
    /// stops that threw or timed out (also the ones after the first, which `run()` does not throw),
    /// background tasks that threw.
    public var failures: [ServiceFailure] {
        hub.withView { $0!.failures }
    }

    /// Who the stop waits for now: the services whose `stop()` runs and since when, and for each
    /// service not yet stopping the dependents it waits for. Outside a stop, it says so.
    ///
    /// Dependents are the ones of this tree; a shared service may also wait for another tree.
    public func shutdownStatus() -> ShutdownStatus {
        let isOver = state.withLock { $0.machine.phase == .stopped }
        let time = clock.elapsed()
        return hub.withView { ShutdownStatus($0!, time: time, isOver: isOver) }
    }

    /// The coordinator planned the tree and nothing has started: refuses bad settings and a tree
    /// over its shutdown budget (DESIGN §13), then tracks the plan's services.
    func treePlanned(_ plan: TreePlan) throws(LifecycleError) {
        try shutdown.settings.validate(root: rootID)
        if shutdown.settings.shutdownDeadline != nil { try shutdown.settings.checkBudget(ServicePlan(plan)) }
        track(plan)
    }

    /// Adds the services of `plan` to the tree the runner reports on (snapshots, failures, the
    /// drain, the shutdown status), with their dependency edges. The one place the tree's
    /// membership grows: call it before the first of them starts, so that their events find them.
    func track(_ plan: TreePlan) {
        // Read outside the hub's lock; no event of this runner moves them before they start here.
        let states = plan.nodes.map { ServiceTable.shared.state(of: $0.record) }
        hub.withView { $0?.track(plan, states: states) }
    }
}
