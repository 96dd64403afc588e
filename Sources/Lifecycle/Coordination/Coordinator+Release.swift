/// The stopping half of the coordinator: an iterative walk that stops services inline, with one
/// watchdog per walk instead of two tasks per stop.
///
/// A walk is a set of *strands*, each a stack of steps. A strand is driven by one task at a time
/// (its *driver*), which awaits each `stop()` directly: no task per stop. A `Parallel` stage forks
/// one strand per member (the first driven by the current task, the others by a task each) and its
/// parent strand goes on when the last member strand ends. Nothing recurses, so a chain 100,000
/// deep stops on a flat stack.
///
/// The guarantee of DESIGN §4 (a hung `stop()` is abandoned after its `gracefulShutdownTimeout` and
/// the shutdown goes on) is kept by a watchdog: one task per walk sleeping on the user's clock until
/// the earliest deadline of the stops in flight. When a deadline passes, the stop's driver is
/// cancelled and left behind, the service ends `failed` with ``LifecycleError/stopTimedOut(_:after:)``,
/// and a new driver takes the rest of the strand. A driver whose stop returns after it was abandoned
/// sees its claim gone and ends without touching anything.
extension Coordinator {
    /// One thing a strand has left to do.
    enum ReleaseStep: Sendable {
        /// One holder lets the node go; the last one stops it.
        case release(Int, TreePlan)
        /// Let a stage go: a lone service in this strand, a parallel group in a strand per member.
        case stage([Int], TreePlan)
        /// The node and its dependencies are down: forget it and wake the trees waiting for its stop.
        case forget(ServiceID, waiters: [Waiter])
        /// A restart stops the service and keeps its holders; its dependencies are not let go (DESIGN §10).
        /// The restart made the `running → stopping` of `life` already, before the walk: nothing
        /// else may take the service between its decision and the stop.
        case suspend(ServiceID, life: Int)
        /// A runner's root: released as `.release`, but `then` (the services added at run time) is
        /// let go after the root and before the root's own stages (DESIGN §11).
        case releaseRoot(Int, TreePlan, then: [ReleaseStep])
    }

    /// A sequence of steps driven by one task at a time.
    ///
    /// Classes here (and for ``Walk``) are looked up once and mutated in place; they never leave the actor.
    final class Strand {
        let walk: Int
        var steps: [ReleaseStep]
        /// The strand that waits for this one (with its siblings) to end.
        let parent: Int?
        /// How many member strands of a parallel stage this strand still waits for.
        var pendingChildren = 0
        /// The stop this strand's driver awaits, if any; the watchdog looks here.
        var inFlight: StopInFlight?

        init(walk: Int, steps: [ReleaseStep], parent: Int?) {
            self.walk = walk
            self.steps = steps
            self.parent = parent
        }
    }

    /// A stop in flight, claimed by the driver that awaits it.
    struct StopInFlight {
        let node: TreePlan.Node
        let plan: TreePlan
        /// The life of the service this stop ends: its tasks, and no later life's, are cancelled.
        let life: Int
        /// On the walk's clock (time since the runner was made).
        let deadline: Duration
        let claim: Int
        let driver: Int
        /// A restart's stop: the service stays held, its dependencies are not let go.
        var suspends = false
        /// Steps that come after the stop and before the node's stages (see ``ReleaseStep/releaseRoot(_:_:then:)``).
        var then: [ReleaseStep] = []
    }

    /// One release of a tree (its stop, or the rollback of a failed start).
    final class Walk {
        let runner: ServiceRunner
        var errors: [any Error] = []
        var completion: CheckedContinuation<[any Error], Never>?
        var isCancelled: Bool
        var drivers: [Int: Task<Void, Never>] = [:]
        var watchdog: Task<Void, Never>?
        var watchdogWake: Duration = .zero
        var watchdogClaim = 0

        init(runner: ServiceRunner, isCancelled: Bool) {
            self.runner = runner
            self.isCancelled = isCancelled
        }
    }

    // MARK: Walking

    /// Performs `steps` (the last first) and returns every error the stops threw, in the order they happened.
    ///
    /// Never throws and never skips a stop. Cancelling the caller cancels the stops in flight and
    /// makes the remaining ones run already cancelled (the escalation of DESIGN §2).
    func walkRelease(_ steps: [ReleaseStep], for runner: ServiceRunner) async -> [any Error] {
        guard !steps.isEmpty else { return [] }
        let walk = nextNumber()
        walks[walk] = Walk(runner: runner, isCancelled: Task.isCancelled)
        let strand = nextNumber()
        strands[strand] = Strand(walk: walk, steps: steps, parent: nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                walks[walk]!.completion = continuation
                spawnDriver(for: strand, in: walk)
            }
        } onCancel: {
            Task { await self.cancelWalk(walk) }
        }
    }

    /// Starts a task that drives `strand`; it starts cancelled when the walk is.
    func spawnDriver(for strand: Int, in walk: Int) {
        let driver = nextNumber()
        let runner = ObjectIdentifier(walks[walk]!.runner)
        // The stops run as the runner's own work: a `stop()` of this runner called from one of them
        // must not wait for the walk that waits for it (see ``ServiceRunner/stop()``).
        let task = Task {
            await ServiceRunner.$currentRunner.withValue(runner) { await self.drive(strand, as: driver) }
        }
        walks[walk]!.drivers[driver] = task
        if walks[walk]!.isCancelled { task.cancel() }
    }

    /// What a driver does next.
    private enum DriverStep {
        /// Await this service's `stop()`, then report it with the claim. A restart's stop runs as
        /// the work of every tree holding the service (`restarting`: its id).
        case awaitStop(any Service, ServiceTable.Record, life: Int, claim: Int, restarting: ServiceID?)
        /// A restart's call on this service is in flight: wait for it, then ask again.
        case awaitRestartStep(ServiceID, token: Int)
        /// The strand waits for others, was taken over, or the walk is over: the driver ends.
        case end
    }

    /// Runs strands until the current one waits for others or the walk is over.
    ///
    /// Across the one `await` the driver holds nothing but the service it stops: a `stop()` that
    /// never returns keeps only its own service alive, never the rest of the tree.
    private func drive(_ first: Int, as driver: Int) async {
        var current = first
        while true {
            switch advance(&current, as: driver) {
            case .awaitStop(let service, let record, let life, let claim, let restarting):
                let stopError = await ServiceTable.$currentTaskOwner.withValue(
                    restarting ?? ServiceTable.currentTaskOwner
                ) {
                    await Self.performStop(of: service, record: record, life: life)
                }
                guard stopReturned(in: current, claim: claim, error: stopError) else { return }  // abandoned
            case .awaitRestartStep(let id, let token):
                await awaitRestartStep(of: id, token: token)
            case .end:
                return
            }
        }
    }

    /// Parks this driver in the machine of a service whose restart has a call in flight, until the
    /// call ended; the release is then asked again. A tree that lets a restarting service go
    /// cancels the restart's `start()` (the stop wins, DESIGN §10).
    private func awaitRestartStep(of id: ServiceID, token: Int) async {
        guard let entry = held[id] else { return }
        if entry.machine.isLastHolderOfARestartingStart { cancelRestart(holding: id) }
        if Task.isCancelled {
            // An escalated walk (this is the service's last holder): the restart's call on it is
            // cut short as this walk's own call would be, whichever runner tracks the restart, and
            // the driver waits for it to end without asking again in a loop.
            escalateRestartStep(of: id)
            _ = try? await withUnsafeThrowingContinuation { (continuation: Waiter) in
                parkReleaser(continuation, token: token, in: entry)
            }
            return
        }
        _ = try? await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: Waiter) in
                parkReleaser(continuation, token: token, in: entry)
            }
        } onCancel: {
            Task { await self.waiterCancelled(id, token: token) }
        }
    }

    private func parkReleaser(_ continuation: Waiter, token: Int, in entry: Held) {
        entry.machine.park(token: token, waiter: continuation)
    }

    /// Performs the steps of the strand that need no `await`, up to the next stop to await.
    private func advance(_ current: inout Int, as driver: Int) -> DriverStep {
        let walk = strands[current]!.walk
        while true {
            // A strand with nothing left ends; the last member of a stage resumes its parent.
            while strands[current]!.steps.isEmpty {
                let ended = strands.removeValue(forKey: current)!
                guard let parent = ended.parent else {
                    finishWalk(walk)
                    return .end
                }
                strands[parent]!.pendingChildren -= 1
                guard strands[parent]!.pendingChildren == 0 else {
                    walks[walk]?.drivers[driver] = nil
                    return .end
                }
                current = parent
            }
            let strand = strands[current]!
            switch strand.steps.popLast()! {
            case .release(let index, let plan):
                if let step = beginStop(index, of: plan, in: current, as: driver) { return step }
            case .releaseRoot(let index, let plan, let then):
                if let step = beginStop(index, of: plan, in: current, as: driver, then: then) { return step }
            case .suspend(let id, let life):
                if let owner = held[id] {
                    return claimStop(of: owner, life: life, in: current, as: driver, suspends: true)
                }
            case .stage(let members, let plan):
                guard members.count > 1 else {
                    strand.steps.append(.release(members[0], plan))
                    continue
                }
                strand.pendingChildren = members.count
                let children = members.map { member in
                    let child = nextNumber()
                    strands[child] = Strand(walk: walk, steps: [.release(member, plan)], parent: current)
                    return child
                }
                for child in children.dropFirst() { spawnDriver(for: child, in: walk) }
                current = children[0]
            case .forget(let id, let waiters):
                forgetIfUnused(id)
                resume(waiters, with: nil)
            }
        }
    }

    /// The release of one node: when this is its last holder, emits `running → stopping`, claims the
    /// stop for this driver and arms the watchdog, and returns the service whose `stop()` to await.
    private func beginStop(
        _ index: Int, of plan: TreePlan, in strand: Int, as driver: Int, then: [ReleaseStep] = []
    ) -> DriverStep? {
        let walkNumber = strands[strand]!.walk
        let walk = walks[walkNumber]!
        let id = plan.nodes[index].id
        let current = strands[strand]!
        guard let owner = held[id] else {
            let state = ServiceTable.shared.state(of: plan.nodes[index].service)
            walk.errors.append(LifecycleError.illegalTransition(id, from: state, to: .stopping))
            current.steps += then
            return nil
        }
        let transition: Transition
        do {
            // The walk's hold goes with the release, or once its own stop ended (see `stopEnded`);
            // while a restart's step is in flight it asks again and keeps it.
            switch try owner.machine.releaseRequested() {
            case .keepRunning:
                holdReleased(id, for: walk.runner)
                current.steps += then
                return nil
            case .callStop(let stopping):
                transition = stopping
            case .waitForRestartStep:
                current.steps.append(then.isEmpty ? .release(index, plan) : .releaseRoot(index, plan, then: then))
                return .awaitRestartStep(id, token: nextNumber())
            case .leaveRestart(let waiters):
                // Down already (a restart's backoff): nothing to stop; its dependencies go. A failed
                // restart's life still winding down holds back the next life (see `startMembers`).
                holdReleased(id, for: walk.runner)
                restartLeft(id)
                if windingDown[id] != nil { owner.machine.holdBackNewLives() }
                current.steps.append(.forget(id, waiters: waiters))
                takeBackDependencies(of: owner.node, in: owner.plan, for: walk.runner)
                for stage in owner.node.stages { current.steps.append(.stage(stage, owner.plan)) }
                current.steps += then
                return nil
            }
        } catch {
            walk.errors.append(error)
            current.steps += then
            return nil
        }
        // The node as it was started, possibly by another tree: its stages are what it holds.
        let node = owner.node
        let life = emit(transition, of: node, for: walk.runner)
        let step = claimStop(of: owner, life: life, in: strand, as: driver, suspends: false)
        current.inFlight?.then = then
        return step
    }

    /// Claims the stop for this driver, arms the watchdog, and returns the `stop()` to await.
    private func claimStop(of owner: Held, life: Int, in strand: Int, as driver: Int, suspends: Bool) -> DriverStep {
        let walkNumber = strands[strand]!.walk
        let node = owner.node
        let claim = nextNumber()
        let deadline = walks[walkNumber]!.runner.clock.elapsed() + node.gracefulShutdownTimeout
        strands[strand]!.inFlight = StopInFlight(
            node: node, plan: owner.plan, life: life, deadline: deadline, claim: claim, driver: driver,
            suspends: suspends)
        armWatchdog(of: walkNumber, until: deadline)
        return .awaitStop(node.service, node.record, life: life, claim: claim, restarting: suspends ? node.id : nil)
    }

    /// A `stop()` returned: report it, unless it was abandoned meanwhile (the watchdog took the strand).
    ///
    /// - Returns: `false` when the stop was abandoned: another driver has the strand now.
    private func stopReturned(in strand: Int, claim: Int, error: (any Error)?) -> Bool {
        guard let current = strands[strand], let stop = current.inFlight, stop.claim == claim else { return false }
        current.inFlight = nil
        stopEnded(stop, in: strand, error: error)
        return true
    }

    /// Calls `stop()`, then cancels and awaits the background tasks of that life (DESIGN §3); returns
    /// the stop's error.
    ///
    /// A stop abandoned at its timeout that returns late finds no task to take: the abandonment took
    /// them, and a later life's tasks are not its own.
    private nonisolated static func performStop(
        of service: any Service, record: ServiceTable.Record, life: Int
    ) async -> (any Error)? {
        var stopError: (any Error)?
        do { try await service.stop() } catch { stopError = error }
        let tasks = ServiceTable.shared.takeTasks(of: record, life: life)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        return stopError
    }

    /// Emits the end of a stop and queues the release of the node's stages, the last stage first
    /// (a restart's stop keeps them).
    func stopEnded(_ stop: StopInFlight, in strand: Int, error: (any Error)?) {
        let (node, plan) = (stop.node, stop.plan)
        let current = strands[strand]!
        let walk = walks[current.walk]!
        if let error { walk.errors.append(error) }
        if stop.suspends {
            do {
                let (ended, waiters) = try held[node.id]!.machine.restartStopFinished(failed: error != nil)
                emitToHolders(ended, of: node, error: error)
                resume(waiters, with: nil)
            } catch {
                walk.errors.append(error)
            }
            return
        }
        var waiters: [Waiter] = []
        do {
            let (ended, parked) = try held[node.id]!.machine.stopFinished(failed: error != nil)
            emit(ended, of: node, for: walk.runner, error: error)
            waiters = parked
        } catch {
            walk.errors.append(error)
        }
        holdReleased(node.id, for: walk.runner)
        takeBackDependencies(of: node, in: plan, for: walk.runner)
        // The trees waiting for this stop ask again once its dependencies are down too.
        current.steps.append(.forget(node.id, waiters: waiters))
        for stage in node.stages { current.steps.append(.stage(stage, plan)) }
        current.steps += stop.then
    }

    /// A service is down and its dependencies are about to be let go: the holds it had on them are
    /// the releasing walk's tree's again, until each release (see ``RunningTree/holds``).
    private func takeBackDependencies(of node: TreePlan.Node, in plan: TreePlan, for runner: ServiceRunner) {
        for index in node.stages.joined() { holdCounted(plan.nodes[index].id, for: runner) }
    }

    /// Hands the errors to the caller and stops the watchdog.
    private func finishWalk(_ walk: Int) {
        guard let finished = walks.removeValue(forKey: walk) else { return }
        finished.watchdog?.cancel()
        finished.completion?.resume(returning: finished.errors)
    }

    /// A second signal (or a cancelled caller): the stops in flight are cancelled, later ones start cancelled.
    func cancelWalk(_ walk: Int) {
        guard walks[walk] != nil else { return }
        walks[walk]!.isCancelled = true
        for driver in walks[walk]!.drivers.values { driver.cancel() }
    }
}
