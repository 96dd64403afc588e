/// Why the lifecycle refused or abandoned something; every case names the service.
///
/// A user's own error from `start()`, `stop()` or a background task is never wrapped in this type:
/// it passes through untouched.
public enum LifecycleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The services on a dependency cycle, the first one repeated at the end. Nothing was started.
    case dependencyCycle([ServiceID])
    /// A `Parallel()` with no services in the dependencies of this service.
    case emptyParallel(in: ServiceID)
    /// A timeout of zero or less on this service.
    case invalidTimeout(ServiceID, Duration)
    /// A restart policy with a negative `maxRestarts` or a window of zero or less on this service.
    case invalidRestartPolicy(ServiceID, RestartPolicy)
    /// The service's `start()` did not return within its `startTimeout`; it was cancelled.
    case startTimedOut(ServiceID, after: Duration)
    /// The service's `start()` was cancelled (a stop request, a failed sibling in its `Parallel`
    /// stage) and did not return within its `gracefulShutdownTimeout`, or the stop escalated: the
    /// start was abandoned and the service is failed. Should it return successfully later, its `stop()`
    /// is called at once.
    case startAbandoned(ServiceID)
    /// The service's `stop()` did not return within its `gracefulShutdownTimeout` and was abandoned.
    case stopTimedOut(ServiceID, after: Duration)
    /// A new start of the service waited `after` (its `gracefulShutdownTimeout`) for an earlier
    /// `start()` of it, abandoned, to return (or for the `stop()` of that start's late success),
    /// and it has not. Two lives of one service never overlap, so this start failed instead of
    /// waiting forever.
    case earlierStartStillRunning(ServiceID, after: Duration)
    /// `start()` was called on a runner that was already started; a runner runs its tree once.
    case alreadyStarted(ServiceID)
    /// `stop()` or `wait()` was called on a runner that was never started.
    case notStarted(ServiceID)
    /// `add` or `remove` was called on the runner of this root while its tree does not run (not
    /// started yet, still starting, or stopping).
    case notRunning(ServiceID)
    /// `remove` was called with a service that `add` did not add to that runner's tree.
    case notAdded(ServiceID)
    /// `addTask` was called on a service that is neither starting nor running.
    case taskAddedWhileNotRunning(ServiceID, ServiceState)
    /// The tree's worst-case shutdown (its longest chain of `gracefulShutdownTimeout`s, `path`, root
    /// first, plus the runner's `drainTimeout`) is `worstCase`, longer than the runner's
    /// `shutdownDeadline`: the orchestrator would kill the process mid-stop. Nothing was started.
    case shutdownBudgetExceeded(path: [ServiceID], worstCase: Duration, deadline: Duration)
    /// The transition table refused a move: a defect in the lifecycle, reported instead of hidden.
    case illegalTransition(ServiceID, from: ServiceState, to: ServiceState)

    /// One sentence a user can act on.
    public var description: String {
        switch self {
        case .dependencyCycle(let ids):
            "dependency cycle: \(ids.map(\.name).joined(separator: " → ")); nothing was started. "
                + "Break the cycle so that every service's dependencies are started before it."
        case .emptyParallel(let id):
            "\(id) lists an empty Parallel() in its dependencies; give it at least one service or remove it"
        case .invalidTimeout(let id, let value):
            "\(id) has a timeout of \(value); timeouts must be greater than zero"
        case .invalidRestartPolicy(let id, .onFailure(let maxRestarts, _, _)) where maxRestarts < 0:
            "\(id) has a restart policy with maxRestarts \(maxRestarts); give it zero or more "
                + "(0: no restart, the first failure fails the trees as with .never)"
        case .invalidRestartPolicy(let id, .onFailure(_, let window, _)):
            "\(id) has a restart policy with a window `within` of \(window); give it a window greater than zero, "
                + "such as .seconds(60)"
        case .invalidRestartPolicy(let id, let policy):
            "\(id) has the restart policy \(policy); maxRestarts must be zero or more and the window `within` greater than zero"
        case .startTimedOut(let id, let limit):
            "\(id) did not start within its startTimeout of \(limit) and was cancelled"
        case .startAbandoned(let id):
            "\(id) was cancelled while starting and its start() did not return in time, so it was abandoned; "
                + "make start() honour cancellation (Task.isCancelled, Task.checkCancellation())"
        case .earlierStartStillRunning(let id, let limit):
            "\(id) could not start: its earlier start(), abandoned, was still running after \(limit) (or the stop() "
                + "of its late success was), and two lives of one service never overlap; make start() and stop() "
                + "honour cancellation (Task.isCancelled, Task.checkCancellation()), or start a new instance"
        case .stopTimedOut(let id, let limit):
            "\(id) did not stop within its gracefulShutdownTimeout of \(limit) and was abandoned"
        case .alreadyStarted(let id):
            "the runner of \(id) was already started; a ServiceRunner runs its tree once, make a new one to run it again"
        case .notStarted(let id):
            "the runner of \(id) was never started; call start() or run() first"
        case .notRunning(let id):
            "the tree of \(id) is not running; add and remove services only between start() and the stop request"
        case .notAdded(let id):
            "\(id) was not added with add(_:) to this runner; only services added at run time can be removed, "
                + "once their add(_:) returned, and once per add"
        case .taskAddedWhileNotRunning(let id, let state):
            "addTask was called on \(id) while it is \(state); add background tasks from start() or while it runs"
        case .shutdownBudgetExceeded(let path, let worstCase, let deadline):
            "the worst-case shutdown of \(worstCase) (through \(path.map(\.name).joined(separator: " → ")), drain included) "
                + "exceeds the shutdownDeadline of \(deadline); nothing was started. Lower the gracefulShutdownTimeout "
                + "of the services on that chain, or raise the deadline (terminationGracePeriodSeconds, TimeoutStopSec) "
                + "and the runner's shutdownDeadline with it"
        case .illegalTransition(let id, let from, let to):
            "\(id) cannot go from \(from) to \(to)"
        }
    }
}
