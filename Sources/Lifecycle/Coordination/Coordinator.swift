/// The actor that carries out what the state machines decide: calls `start`/`stop`, sleeps on the
/// clock, cancels, and emits every transition as an event.
///
/// There is one coordinator per process, so a service shared by two separately running trees has
/// one machine and one count of holders (DESIGN §3). It asks the machine again after every `await`:
/// other requests may have run meanwhile.
actor Coordinator {
    /// The coordinator of the process; every runner uses it unless a test gives one its own.
    static let shared = Coordinator()

    /// A service this coordinator is starting, runs, or is stopping.
    ///
    /// A class, so that the hot paths look it up once and mutate it in place; it never leaves the actor.
    final class Held {
        var machine: Machine
        /// The plan and node the service was started from: its stop releases that node's stages.
        var plan: TreePlan
        var index: Int
        var node: TreePlan.Node { plan.nodes[index] }

        init(machine: Machine, plan: TreePlan, index: Int) {
            self.machine = machine
            self.plan = plan
            self.index = index
        }
    }

    /// A service's machine here: its waiting holders are continuations, resumed exactly once as
    /// the machine hands them back (so unchecked ones suffice).
    typealias Machine = StateMachine<Waiter>
    /// A holder parked in a machine: resumed normally (its start happened, or it asks again) or
    /// with the error that ended the start it waited for.
    typealias Waiter = UnsafeContinuation<Void, any Error>

    var held: [ServiceID: Held] = [:]
    /// Failed lives still winding down, by service: how many of their parts (the `start()` still in
    /// flight, the tasks it added) have not ended yet.
    var windingDown: [ServiceID: Int] = [:]
    /// The failed lives among them whose `start()` (abandoned) has not returned yet, or whose late
    /// success is still being stopped: a new start waits for it at most its gracefulShutdownTimeout.
    /// Keyed by service, the attempt whose work is awaited: the bound reads the attempt itself, so a
    /// `start()` that returned a moment before the coordinator heard of it is not taken for running.
    var startsStillRunning: [ServiceID: StartAttempt] = [:]
    var runners: [ObjectIdentifier: RunningTree] = [:]
    /// Restarts in progress (see `Coordinator+Restart.swift`), the restart each member belongs to,
    /// and when each service was restarted, for its policy's window.
    var restarts: [Int: Restart] = [:]
    var restartOf: [ServiceID: Int] = [:]
    var restartHistories: [ServiceID: TimedHistory] = [:]
    /// A service's restarts, on the clock of the runner that timed its first one: one sliding
    /// window per service, whichever tree's runner times a later restart (runners made at
    /// different times count elapsed time from different origins).
    struct TimedHistory {
        let clock: LifecycleClock
        var history = RestartPlan.History()
    }

    /// Why the failed lives still running failed (see ``StateMachine/lifeFailed()``), by service.
    var lifeFailures: [ServiceID: any Error] = [:]
    /// Services whose restart's `start()` failed and whose failed life still winds down.
    var restartWindingDown: Set<ServiceID> = []
    /// Restarts waiting for a start in flight of a service they take to end.
    var settleWaiters: [ServiceID: [CheckedContinuation<Void, Never>]] = [:]
    /// The releases in progress and their strands (see `Coordinator+Release.swift`).
    var walks: [Int: Walk] = [:]
    var strands: [Int: Strand] = [:]
    private var lastNumber = 0

    /// A number not handed out before, for walks, strands, drivers and claims.
    func nextNumber() -> Int {
        lastNumber += 1
        return lastNumber
    }

    // MARK: Trees

    /// Plans the runner's tree and starts it; on failure everything this start began is stopped.
    func start(_ runner: ServiceRunner) async throws {
        let plan = try TreePlan(root: runner.root)
        try runner.treePlanned(plan)  // the shutdown budget, and the services snapshots report (DESIGN §12–§13)
        runners[ObjectIdentifier(runner)] = RunningTree(runner: runner, plan: plan)
        do {
            try await acquireTree(0, of: plan, for: runner)
        } catch {
            runners[ObjectIdentifier(runner)] = nil
            throw error
        }
    }

    /// Stops the runner's tree and returns every error its stops threw, in the order they happened.
    func stop(_ runner: ServiceRunner) async -> [any Error] {
        guard let tree = runners[ObjectIdentifier(runner)] else { return [] }
        // The root first, then the added services, newest first, then the root's stages (DESIGN §11).
        let added = tree.added.map { ReleaseStep.release(0, $0) }
        let errors = await walkRelease([.releaseRoot(0, tree.plan, then: added)], for: runner)
        runners[ObjectIdentifier(runner)] = nil
        return errors
    }

    /// A runner whose tree holds the service, for `service.wait()`.
    func runner(holding id: ServiceID) -> ServiceRunner? {
        runners.values.first { $0.node(of: id) != nil }?.runner
    }

    /// Whether the runner's tree holds the service now (for ``ServiceRunner/stop()`` called from a
    /// background task of that service).
    func runner(_ runner: ServiceRunner, holds id: ServiceID) -> Bool {
        runners[ObjectIdentifier(runner)]?.node(of: id) != nil && held[id] != nil
    }

    /// Whether the coordinator keeps nothing at all: no record, no runner, no walk in progress.
    var isIdle: Bool {
        held.isEmpty && runners.isEmpty && walks.isEmpty && strands.isEmpty && windingDown.isEmpty
            && startsStillRunning.isEmpty
            && restarts.isEmpty && restartOf.isEmpty && restartHistories.isEmpty && restartWindingDown.isEmpty
            && settleWaiters.isEmpty && lifeFailures.isEmpty
    }

    /// Whether the coordinator still keeps anything of the service (a record, or a runner holding it).
    func isTracking(_ id: ServiceID) -> Bool {
        held[id] != nil
            || runners.values.contains { $0.node(of: id) != nil }
    }

    /// A background task of the service threw: it restarts when its policy allows (DESIGN §10),
    /// else every tree holding the service fails (DESIGN §4).
    ///
    /// A task of an earlier life of the service (one that outlived a failed start or an abandoned
    /// stop) is ignored: it must never fail the trees of a later life.
    func backgroundTaskFailed(_ id: ServiceID, life: Int, _ error: any Error) {
        let planned = runners.values.filter { $0.node(of: id) != nil }
        guard let record = held[id]?.node.record ?? planned.first?.node(of: id)?.record,
            ServiceTable.shared.life(of: record) == life
        else { return }
        let action = restartWindingDown.contains(id) ? .report : held[id]?.machine.taskFailed() ?? .report
        let state = held[id]?.machine.state ?? .stopped
        // The trees holding the service hear of it and fail (DESIGN §4); a tree whose start has not
        // reached it yet goes on, and starts it afresh once this life is over (it does not join
        // it). A life no tree holds any more (a failed start winding down) is reported to the
        // trees whose plan has it.
        let holding = treesHolding(id)
        let told = (holding.isEmpty ? planned : holding).map(\.runner)
        for runner in told {
            runner.emit(
                LifecycleEvent(
                    service: id, from: state, to: state, error: error, time: runner.clock.elapsed(), kind: .taskFailed))
        }
        guard action == .failTrees, !restartIfAllowed(id, after: error) else { return }
        // No new holder joins this life, nor that of a service running on it (it would hold this
        // one up while waiting for it to end): they all go down with the trees told, which hold
        // every one of them.
        if !holding.isEmpty {
            for service in servicesHolding(id) {
                if held[service]?.machine.lifeFailed() == true { lifeFailures[service] = error }
            }
        }
        for runner in told { runner.fail(error) }
    }

    /// The runners whose trees hold the service now (see ``treesHolding(_:)``).
    func runnersHolding(_ id: ServiceID) -> [ServiceRunner] {
        treesHolding(id).map(\.runner)
    }

    /// The trees holding the service now: a tree holds what its walks hold (its root, the services
    /// it added, what a start or a stop of it has in hand, see ``RunningTree/holds``) and, through
    /// each of those that holds its dependencies, everything below it. A running service that a
    /// tree counted (another tree started it) holds its dependencies for that tree too; a service a
    /// tree let go, or has not reached yet, is not held by it.
    func treesHolding(_ id: ServiceID) -> [RunningTree] {
        let planned = runners.values.filter { $0.node(of: id) != nil }
        // One tree has it in its plan and it has holders: nobody else can hold it.
        if planned.count == 1, let machine = held[id]?.machine, machine.holders > 0 { return planned }
        guard !planned.isEmpty, held[id] != nil else { return [] }
        let holders = servicesHolding(id)
        return planned.filter { tree in tree.holds.keys.contains(where: holders.contains) }
    }

    /// The service and every service held here that has it in hand through its dependencies,
    /// transitively (those that hold their dependencies: they start, run, stop or restart).
    private func servicesHolding(_ id: ServiceID) -> Set<ServiceID> {
        var dependents: [ServiceID: [ServiceID]] = [:]
        for (service, entry) in held where entry.machine.holdsItsDependencies {
            for index in entry.node.stages.joined() {
                dependents[entry.plan.nodes[index].id, default: []].append(service)
            }
        }
        var found: Set<ServiceID> = [id]
        var queue = [id]
        while let next = queue.popLast() {
            for dependent in dependents[next, default: []] where found.insert(dependent).inserted {
                queue.append(dependent)
            }
        }
        return found
    }

    /// A parked holder's task was cancelled: it leaves the machine (no longer counted) and is told.
    func waiterCancelled(_ id: ServiceID, token: Int) {
        held[id]?.machine.waiterLeft(token: token)?.resume(throwing: CancellationError())
    }

    /// Resumes parked holders: normally, or with the error that ended the start they waited for.
    func resume(_ waiters: [Waiter], with error: (any Error)?) {
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    /// Drops the record of a service nobody holds, starts or waits for; its state stays in the table.
    ///
    /// Checked, never assumed: during the awaits of a stop or a rollback another tree may have
    /// begun to start the same service again, and its record must survive.
    func forgetIfUnused(_ id: ServiceID) {
        guard let machine = held[id]?.machine, machine.isForgettable else { return }
        held[id] = nil
        lifeFailures[id] = nil
        restartHistories[id] = nil
    }

    /// Stops, in reverse, what a failed or cancelled start had already started.
    ///
    /// The stops run gracefully even when the start was cancelled by a stop request: only an
    /// escalation cancels them (DESIGN §2). Their errors are visible as events; the start's own
    /// error is what the caller throws.
    func rollBack(_ steps: [ReleaseStep], for runner: ServiceRunner) async {
        guard !steps.isEmpty else { return }
        _ = await runner.runUncancelled { await self.walkRelease(steps, for: runner) }
    }

    // MARK: Events

    /// Publishes a transition: the synchronous state first, then the event. Returns the service's
    /// life (a new one on `→ starting`).
    @discardableResult
    func emit(
        _ transition: Transition, of node: TreePlan.Node, for runner: ServiceRunner, error: (any Error)? = nil
    ) -> Int {
        let life = ServiceTable.shared.setState(transition.to, of: node.record, by: self)
        runner.emit(
            LifecycleEvent(
                service: node.id, from: transition.from, to: transition.to, error: error, time: runner.clock.elapsed()))
        return life
    }

    /// Publishes a transition a restart made to every tree holding the service (DESIGN §10).
    @discardableResult
    func emitToHolders(_ transition: Transition, of node: TreePlan.Node, error: (any Error)? = nil) -> Int {
        let life = ServiceTable.shared.setState(transition.to, of: node.record, by: self)
        for runner in runnersHolding(node.id) {
            runner.emit(
                LifecycleEvent(
                    service: node.id, from: transition.from, to: transition.to, error: error,
                    time: runner.clock.elapsed()))
        }
        return life
    }
}
