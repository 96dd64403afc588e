/// The runner's side of DESIGN §12–§13 around a stop: the deadline's escalation, the drain phase
/// and the stall reports. The machine decides (``RunnerStateMachine/deadlineReached()``,
/// ``RunnerStateMachine/drainsBeforeStopping(drainTimeout:)``); these carry it out on the runner's clock.
extension ServiceRunner {
    /// At the first stop request (inside the runner's lock): with a `shutdownDeadline`, sleeps 90 % of
    /// it on the runner's clock, then escalates unless the stop is over.
    func armShutdownDeadline() {
        guard let delay = shutdown.settings.escalationDelay else { return }
        let clock = self.clock
        // Weak: a timer must not keep a runner alive once its tree is down.
        let timer = Task { [weak self] in
            do { try await clock.sleep(delay) } catch { return }  // cancelled: the stop is over
            self?.shutdownDeadlineReached()
        }
        shutdown.setDeadlineTimer(timer)
    }

    /// 90 % of the deadline passed: escalate as a second signal would, with cause `.deadline`, so
    /// every started service still gets its `stop()` (already cancelled) before the kill.
    func shutdownDeadlineReached() {
        let escalation = state.withLock { state -> Escalation? in
            guard state.machine.deadlineReached() else { return nil }
            return takeEscalation(in: &state)
        }
        if let escalation { perform(escalation, cause: .deadline) }
    }

    /// The drain phase, when the machine asks for it: emits `.draining`, calls `drain()` on every
    /// running service of the tree concurrently, and returns when all returned, when `drainTimeout`
    /// passed on the runner's clock, or when the stop escalates (it cancels the stop task); the
    /// drains still running are then cancelled and left behind.
    func drainIfAsked() async {
        let settings = shutdown.settings
        let limit = settings.drainTimeout
        guard state.withLock({ $0.machine.drainsBeforeStopping(drainTimeout: limit) }) else { return }
        let clock = self.clock
        var services: [any Service] = []
        hub.emit { view in
            services =
                view.map { view in
                    let all = view.services
                    return view.members(in: .running).compactMap { all[$0] }
                } ?? []
            let rootState = view?.entries[rootID]?.state ?? root.state
            return LifecycleEvent(
                service: rootID, from: rootState, to: rootState, time: clock.elapsed(), kind: .draining)
        }
        let gate = StartAttempt()
        let remaining = Locked(services.count)
        if services.isEmpty { gate.finish(.returned) }
        let runnerID = ObjectIdentifier(self)
        let drains = services.map { service in
            Task {
                // A drain that calls stop() is the runner's own work: it must not wait for itself.
                await Self.$currentRunner.withValue(runnerID) { await service.drain() }
                if remaining.withLock({ count in
                    count -= 1
                    return count == 0
                }) {
                    gate.finish(.returned)
                }
            }
        }
        let timer = Task {
            do { try await clock.sleep(settings.drainSleep) } catch { return }  // cancelled: the drains ended first
            gate.finish(.timedOut)
        }
        await withTaskCancellationHandler {
            _ = await gate.outcome()
        } onCancel: {
            gate.finish(.abandoned)  // the stop escalated
        }
        timer.cancel()
        for drain in drains { drain.cancel() }
    }

    /// While the ordered stop runs: every `stallReportInterval` on the runner's clock, an event of
    /// kind `.shutdownStalled` on the root names the services whose `stop()` still runs (none: no
    /// event). Returns the reporter, to cancel when the stop is over; `nil` without an interval.
    func reportStalls() -> Task<Void, Never>? {
        guard let interval = shutdown.settings.stallSleep else { return nil }
        let (clock, hub, rootID) = (self.clock, self.hub, self.rootID)
        return Task {
            while true {
                do { try await clock.sleep(interval) } catch { return }  // cancelled: the stop is over
                hub.emit { view in
                    guard let view, let rootState = view.entries[rootID]?.state else { return nil }
                    let stopping = view.stopping
                    guard !stopping.isEmpty else { return nil }
                    return LifecycleEvent(
                        service: rootID, from: rootState, to: rootState, time: clock.elapsed(),
                        kind: .shutdownStalled(stopping: stopping))
                }
            }
        }
    }
}
