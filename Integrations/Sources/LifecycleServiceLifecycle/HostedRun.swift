import Logging
import ServiceLifecycle
import Synchronization

/// One run of one hosted instance: the group of its own it runs in, the detached task running that
/// group, and the machine that says what each fact means.
///
/// A new `HostedRun` is made on every start, before the instance (its ready callback points here).
final class HostedRun: Sendable {
    /// How the hosted `run()` ended, and what that end meant when it happened.
    struct Outcome: Sendable {
        /// What `run()` threw; `nil` when it returned.
        let error: (any Error)?
        /// The machine's reading of that end.
        let action: HostedRunMachine.RunEndedAction
    }

    /// The machine and the start waiting on it, under one lock.
    private struct State {
        var machine = HostedRunMachine()
        var startWaiter: CheckedContinuation<Void, any Error>?
        /// The waiting start was cancelled (a `startTimeout`, or the tree stopping while it started).
        var isStartCancelled = false
        /// Set when `run()` ended before the ready signal: what the start throws.
        var startFailure: HostedServiceError?
    }

    /// The group and the task running it, set once by ``launch(_:logger:readiness:)``.
    private struct Launch: Sendable {
        let group: ServiceGroup
        let task: Task<Outcome, Never>
    }

    let name: String
    private let state = Mutex(State())
    private let launched = Mutex<Launch?>(nil)

    init(name: String) {
        self.name = name
    }

    // MARK: Starting

    /// Runs `service` in a single-service group of its own, in a detached task.
    ///
    /// Detached, so that no task-local of the caller reaches it: an outer `ServiceGroup`'s
    /// graceful-shutdown manager would shut it down out of order (DESIGN §14). The group handles no
    /// signals, and `logger` is bound as the task-local logger for everything the service does. A
    /// `run()` that returns ends the group without an error of the group's own, so what ``monitor()``
    /// reports says "returned" rather than the group's "finished unexpectedly".
    func launch(_ service: any ServiceLifecycle.Service, logger: Logger, readiness: HostedService.Readiness) {
        let hosted = ServiceGroupConfiguration.ServiceConfiguration(
            service: service, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: name)
        let group = ServiceGroup(configuration: .init(services: [hosted], logger: logger))
        let task = Task.detached { [self] () -> Outcome in
            var failure: (any Error)?
            do {
                try await withLogger(logger) { _ in
                    if readiness == .immediately { self.readySignalled() }
                    try await group.run()
                }
            } catch {
                failure = error
            }
            return Outcome(error: failure, action: ended(with: failure))
        }
        launched.withLock { $0 = Launch(group: group, task: task) }
    }

    /// The hosted service is ready: the ready callback, safe to call any number of times from anywhere.
    func readySignalled() {
        let waiter = state.withLock { state in
            state.machine.readySignalled() == .resumeStart ? state.startWaiter.take() : nil
        }
        waiter?.resume()
    }

    /// Returns once the service is ready; throws when its `run()` ended first, or when cancelled.
    func waitUntilReady() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let verdict: Result<Void, any Error>? = state.withLock { state in
                    if let failure = state.startFailure { return .failure(failure) }
                    if state.isStartCancelled { return .failure(CancellationError()) }
                    switch state.machine.phase {
                    case .starting:
                        state.startWaiter = continuation
                        return nil
                    // Ready already; an end after the signal is the monitor's to report.
                    case .up, .ended:
                        return .success(())
                    // Only a stop of our own moves a run to stopping, and none runs before the start returned.
                    case .stopping:
                        return .failure(CancellationError())
                    }
                }
                if let verdict { continuation.resume(with: verdict) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.isStartCancelled = true
                return state.startWaiter.take()
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// After a failed or cancelled start: cancels the run (a start rolled back is not stopped
    /// gracefully: it may be stuck in work that ignores a shutdown) and waits for it to end.
    func abandon() async {
        _ = state.withLock { $0.machine.stopRequested() }
        guard let launch = launched.withLock({ $0 }) else { return }
        launch.task.cancel()
        _ = await launch.task.value
    }

    // MARK: Running and stopping

    /// The background task of a started run: throws when `run()` ends while up and not asked to stop.
    ///
    /// Cancelled (after our `stop()` returned, or when that stop was abandoned), it cancels the run.
    func monitor() async throws {
        guard let launch = launched.withLock({ $0 }) else { return }
        let outcome = await withTaskCancellationHandler {
            await launch.task.value
        } onCancel: {
            launch.task.cancel()
        }
        if outcome.action == .failTree {
            throw HostedServiceError.endedWhileRunning(service: name, error: outcome.error)
        }
    }

    /// Triggers the group's graceful shutdown and waits until `run()` ended: a request in flight completes.
    ///
    /// Cancelled (the Lifecycle `gracefulShutdownTimeout` passed, or the stop escalated), it cancels the
    /// run. Throws what `run()` threw while stopping.
    func stop() async throws {
        let action = state.withLock { $0.machine.stopRequested() }
        guard let launch = launched.withLock({ $0 }) else { return }
        switch action {
        case .shutDownGracefully:
            await launch.group.triggerGracefulShutdown()
        case .awaitEnd:
            break
        case .nothing:
            // Ended already: the monitor reported that failure; there is nothing left to stop.
            return
        }
        let outcome = await withTaskCancellationHandler {
            await launch.task.value
        } onCancel: {
            launch.task.cancel()
        }
        if outcome.action == .finishStop, let error = outcome.error { throw error }
    }

    /// Records the end of `run()`; a start still waiting fails with it.
    private func ended(with error: (any Error)?) -> HostedRunMachine.RunEndedAction {
        let failure = HostedServiceError.endedBeforeReady(service: name, error: error)
        let (action, waiter) = state.withLock { state in
            let action = state.machine.runEnded()
            guard action == .failStart else { return (action, nil as CheckedContinuation<Void, any Error>?) }
            state.startFailure = failure
            return (action, state.startWaiter.take())
        }
        waiter?.resume(throwing: failure)
        return action
    }
}
