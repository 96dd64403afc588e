/// Calling a service's `start()`: in a task of its own, against its `startTimeout`, abandoned when
/// a cancelled start outlives its grace time, and the waits for the background tasks of a start that
/// failed.
extension Coordinator {
    /// Calls `start()` in a task of its own and waits for its outcome, against its `startTimeout`
    /// when it has one.
    ///
    /// The walk waits for the outcome, never for the task: cancelling the caller cancels the
    /// `start()`, and one that ignores it is abandoned after the service's `gracefulShutdownTimeout`,
    /// or at once when the runner escalates (DESIGN §4). `life` is the life the start begins (see
    /// ``ServiceTable/Record/life``): a start that returns after it was abandoned stops that life.
    ///
    /// A restart's start (`restarting`) runs as the work of every tree holding the service: a
    /// `stop()` of one of them from inside it does not wait for the stop that waits for it.
    nonisolated static func callStart(
        _ node: TreePlan.Node, life: Int, attempt: StartAttempt, for runner: ServiceRunner, restarting: Bool = false
    ) async throws {
        let service = node.service
        let runnerID = ObjectIdentifier(runner)
        // Read before the task exists: a caller cancelled already must not let a quick start run as
        // if it were not (the cancellation handler below reaches the task only after it began).
        let startsCancelled = Task.isCancelled
        // A task of its own, even for a start() that never suspends: one that blocks its thread (a
        // synchronous connect) must still meet its startTimeout and be abandoned on escalation
        // (`Task.immediate` was measured cheaper, but ran such a start on the walk's own thread).
        let work = Task {
            if startsCancelled { withUnsafeCurrentTask { $0?.cancel() } }
            do {
                try await ServiceRunner.$currentRunner.withValue(runnerID) {
                    try await ServiceTable.$currentTaskOwner.withValue(
                        restarting ? node.id : ServiceTable.currentTaskOwner
                    ) {
                        try await service.start()
                    }
                }
                if !attempt.finish(.returned) { await stopLateStart(of: node, life: life) }
            } catch {
                attempt.finish(.threw(error))
            }
            attempt.workEnded()
        }
        let clock = runner.clock
        let timer = node.startTimeout.map { limit in
            Task {
                do { try await clock.sleep(limit) } catch { return }  // cancelled: the start ended first
                attempt.finish(.timedOut)
            }
        }
        let outcome = await withTaskCancellationHandler {
            await attempt.outcome()
        } onCancel: {
            work.cancel()
            runner.startCancelled(attempt, grace: node.gracefulShutdownTimeout)
        }
        timer?.cancel()
        switch outcome {
        case .returned:
            return
        case .threw(let error):
            throw error
        case .timedOut:
            work.cancel()
            throw LifecycleError.startTimedOut(node.id, after: node.startTimeout ?? .zero)
        case .abandoned:
            throw LifecycleError.startAbandoned(node.id)
        }
    }

    /// A `start()` returned after it was abandoned: its service is `failed` and no tree holds it, so
    /// it is stopped at once, with its background tasks, unless a later life has begun meanwhile.
    private nonisolated static func stopLateStart(of node: TreePlan.Node, life: Int) async {
        guard ServiceTable.shared.life(of: node.record) == life else { return }
        try? await node.service.stop()
        let tasks = ServiceTable.shared.takeTasks(of: node.record, life: life)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    /// Waits for the cancelled background tasks of failed starts (DESIGN §4) for at most `limit`,
    /// no longer once the runner escalates; once they ended or `limit` passed, reports the
    /// wind-down of `ids` (``failedLifePartEnded(_:)``). Without tasks there is nothing to wait
    /// for and no part to report (``windDown(_:attempt:hasTasks:)`` counted none).
    ///
    /// The escalation ends only this walk's wait: the next lives of `ids` still wait until the
    /// tasks ended or `limit` passed, so that escalating the failed tree never lets another tree's
    /// new life meet them.
    func awaitFailedLifeTasks(
        _ tasks: [Task<Void, Never>], windingDown ids: [ServiceID], limit: Duration, for runner: ServiceRunner
    ) async {
        guard !tasks.isEmpty else { return }
        let ended = StartAttempt()  // the tasks ended, or `limit` passed; never an escalation
        let waiting = Task {
            for task in tasks { await task.value }
            ended.finish(.returned)
        }
        ended.cancelled(grace: limit, clock: runner.clock)
        let walkWait = StartAttempt()  // the report below, or the runner escalated
        Task {  // on the actor: without an escalation, the report comes before the walk goes on
            _ = await ended.outcome()
            waiting.cancel()
            for id in ids { failedLifePartEnded(id) }
            walkWait.finish(.returned)
        }
        runner.startCancelled(walkWait, grace: .practicallyNever)
        _ = await walkWait.outcome()
    }
}
