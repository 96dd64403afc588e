import Lifecycle
import Synchronization

/// What `/health/ready` and `/health/live` answer: the one place they ask, a thin holder of the
/// tree's runner that reads `runner.snapshot()` (synchronous, from any thread) on every request.
///
/// - Ready (``isReady``): the snapshot's `isReady`. The root runs and no stop was requested: false
///   while starting, false from the moment a stop is requested (SIGTERM, `requestStop()`, a failure)
///   and through the drain, so a load balancer stops sending requests while the server still
///   serves the ones it gets.
/// - Live (``isLive``): the tree has not failed. Starting, running, draining and stopping after a
///   signal are all live, so a liveness probe never kills a server that shuts down gracefully;
///   a service in state `failed`, or a stop caused by a failure, is not: the process is going down
///   on its own error.
///
/// Neither before ``attach(_:)`` nor once the runner is gone (it is held weakly: the runner holds
/// the tree, the tree holds this).
public final class Readiness: Sendable {
    private struct Holder {
        weak var runner: ServiceRunner?
    }

    private let holder = Mutex(Holder())

    /// Neither ready nor live until ``attach(_:)``.
    public init() {}

    /// The runner whose snapshots answer from now on.
    public func attach(_ runner: ServiceRunner) {
        holder.withLock { $0.runner = runner }
    }

    /// The current snapshot of the attached runner; `nil` before ``attach(_:)`` or once it is gone.
    public var snapshot: LifecycleSnapshot? {
        holder.withLock { $0.runner }?.snapshot()
    }

    /// Whether the server should get traffic: the snapshot's `isReady`.
    public var isReady: Bool { snapshot?.isReady ?? false }

    /// Whether the server is healthy enough not to be restarted: see ``isLive(_:)``.
    public var isLive: Bool { snapshot.map(Self.isLive) ?? false }

    /// Live unless the tree failed: no service is `failed` and the stop, if any, was not caused by
    /// a failure.
    public static func isLive(_ snapshot: LifecycleSnapshot) -> Bool {
        snapshot.stopCause != .failure && !snapshot.states.values.contains(.failed)
    }
}
