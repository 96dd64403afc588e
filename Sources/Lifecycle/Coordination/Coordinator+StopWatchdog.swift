/// The release walk's watchdog: one task per walk sleeping on the runner's clock until the
/// earliest deadline of its stops in flight; a stop past its `gracefulShutdownTimeout` is abandoned
/// and a new driver takes the rest of its strand (DESIGN §4).
extension Coordinator {
    /// Makes sure the watchdog wakes no later than `deadline`.
    ///
    /// Deadlines only grow while stops of one timeout follow each other, so the watchdog is armed once
    /// per walk and re-armed only when a shorter timeout comes after a longer one.
    func armWatchdog(of walk: Int, until deadline: Duration) {
        let state = walks[walk]!
        if state.watchdog != nil, state.watchdogWake <= deadline { return }
        state.watchdog?.cancel()
        let claim = nextNumber()
        let clock = state.runner.clock
        let delay = max(.zero, deadline - clock.elapsed())
        state.watchdogWake = deadline
        state.watchdogClaim = claim
        state.watchdog = Task {
            do { try await clock.sleep(delay) } catch { return }  // cancelled: the walk ended or re-armed
            self.deadlinePassed(in: walk, claim: claim)
        }
    }

    /// The watchdog woke: abandon every stop past its deadline, then re-arm for the next one.
    private func deadlinePassed(in walk: Int, claim: Int) {
        guard walks[walk]?.watchdogClaim == claim else { return }
        walks[walk]!.watchdog = nil
        let now = walks[walk]!.runner.clock.elapsed()
        // Only the strands of this walk that await a stop: as many as stops run in parallel.
        let waiting = strands.filter { $0.value.walk == walk && $0.value.inFlight != nil }
        for (strand, state) in waiting where state.inFlight!.deadline <= now {
            abandon(state.inFlight!, in: strand)
        }
        if let next = waiting.values.compactMap(\.inFlight?.deadline).filter({ $0 > now }).min() {
            armWatchdog(of: walk, until: next)
        }
    }

    /// A stop ran past its graceful timeout: cancel its driver, fail the service, go on with a new driver.
    private func abandon(_ stop: StopInFlight, in strand: Int) {
        let walk = strands[strand]!.walk
        strands[strand]!.inFlight = nil
        walks[walk]!.drivers.removeValue(forKey: stop.driver)?.cancel()
        for task in ServiceTable.shared.takeTasks(of: stop.node.record, life: stop.life) { task.cancel() }
        let error = LifecycleError.stopTimedOut(stop.node.id, after: stop.node.gracefulShutdownTimeout)
        stopEnded(stop, in: strand, error: error)
        spawnDriver(for: strand, in: walk)
    }
}
