/// Why a hosted swift-service-lifecycle service failed, in a sentence that names it.
public enum HostedServiceError: Error, Sendable, CustomStringConvertible {
    /// Its `run()` returned or threw before the service signalled it was ready; the start failed.
    ///
    /// `error` is what `run()` threw, `nil` when it returned.
    case endedBeforeReady(service: String, error: (any Error)?)
    /// Its `run()` returned or threw while it was running and nobody had asked it to stop; the
    /// tree holding it fails and stops.
    case endedWhileRunning(service: String, error: (any Error)?)

    /// One sentence a user can act on.
    public var description: String {
        switch self {
        case .endedBeforeReady(let service, let error):
            "\(service): run() \(Self.ending(error)) before the service was ready; "
                + "makeService must build a fresh instance that keeps running until its graceful shutdown"
        case .endedWhileRunning(let service, let error):
            "\(service): run() \(Self.ending(error)) while the service was running and no stop was requested"
        }
    }

    private static func ending(_ error: (any Error)?) -> String {
        guard let error else { return "returned" }
        return "threw \(error)"
    }
}
