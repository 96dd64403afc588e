import Lifecycle
import Synchronization

/// Whether the server should get traffic: the one place `/health/ready` asks.
///
/// Ready when the root of the tree is running and no stop was requested: false while starting,
/// false from the moment a stop is requested (SIGTERM, `requestStop()`, a failure), so a load
/// balancer stops sending requests while the server still serves the ones in flight.
///
/// Today it is an observer that follows the root's transitions and the stop's cause on the event
/// stream. DESIGN §12's `runner.snapshot().isReady` says the same thing synchronously; once it is
/// available, ``isReady`` becomes `runner.snapshot().isReady` and this observer goes away.
public final class Readiness: LifecycleObserver {
    private struct State {
        var root: ServiceID?
        var isRootRunning = false
        var isStopRequested = false
    }

    private let state = Mutex(State())

    /// Not ready, until ``watch(root:)`` names the root and the events show it running.
    public init() {}

    /// Names the root whose state decides.
    public func watch(root: ServiceID) {
        state.withLock { $0.root = root }
    }

    /// Whether the root runs and no stop was requested.
    public var isReady: Bool {
        state.withLock { $0.isRootRunning && !$0.isStopRequested }
    }

    /// Follows the events until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        for await event in events {
            state.withLock { state in
                if event.stopCause != nil { state.isStopRequested = true }
                if event.isTransition, event.service == state.root { state.isRootRunning = event.to == .running }
            }
        }
    }
}
