import Lifecycle
import Synchronization

/// The list of notes, kept in memory between writes; empty at each start and dropped at each stop.
public final class CacheService: Service {
    /// `cache`.
    public let name = "cache"
    /// One second: it only forgets what it holds.
    public let gracefulShutdownTimeout = Duration.seconds(1)
    private let notes = Mutex<[Note]?>(nil)

    /// An empty cache.
    public init() {}

    /// Starts empty.
    public func start() async throws { invalidate() }
    /// Drops what it holds.
    public func stop() async throws { invalidate() }

    /// The cached list, or the one `load` gives (then cached).
    public func notes(orLoad load: () async throws -> [Note]) async throws -> [Note] {
        if let cached = notes.withLock({ $0 }) { return cached }
        let loaded = try await load()
        notes.withLock { $0 = loaded }
        return loaded
    }

    /// Forgets the list, after a write.
    public func invalidate() {
        notes.withLock { $0 = nil }
    }
}
