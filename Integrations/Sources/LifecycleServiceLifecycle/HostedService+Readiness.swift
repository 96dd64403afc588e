extension HostedService {
    /// When a hosted service counts as started.
    public enum Readiness: Sendable, Hashable {
        /// Up when the `ready` callback given to `makeService` is called: the service's own hook,
        /// such as Hummingbird's `onServerRunning` (which fires after `beforeServerStarts` work) or
        /// gRPC's `listeningAddress`.
        case signalled
        /// Up as soon as its `run()` began, for services that have no such hook.
        case immediately
    }
}
