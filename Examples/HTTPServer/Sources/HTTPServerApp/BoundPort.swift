import Synchronization

/// The port the HTTP server listens on, once it does (with `PORT=0` the system picks it).
final class BoundPort: Sendable {
    private let port = Mutex<Int?>(nil)
    var value: Int? { port.withLock { $0 } }
    func set(_ value: Int?) { port.withLock { $0 = value } }
}
