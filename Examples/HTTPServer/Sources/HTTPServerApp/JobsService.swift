import Lifecycle
import Logging
import Synchronization

/// A queue of jobs run one at a time by a background task: counting the words of new notes.
///
/// `stop()` takes no new job, finishes the queued ones, then returns: the database they write to
/// stops after it.
public final class JobsService: Service {
    /// `jobs`.
    public let name = "jobs"
    /// Five seconds to finish the queued jobs.
    public let gracefulShutdownTimeout = Duration.seconds(5)
    private let database: DatabaseService
    private let cache: CacheService
    private let logger: Logger
    private let queue = Mutex<(jobs: AsyncStream<Int>.Continuation, drained: AsyncStream<Never>)?>(nil)

    /// A queue whose jobs write to `database` and invalidate `cache`.
    public init(database: DatabaseService, cache: CacheService, logger: Logger) {
        self.database = database
        self.cache = cache
        self.logger = logger
    }

    /// Starts the background task that runs the jobs.
    public func start() async throws {
        let (jobs, continuation) = AsyncStream.makeStream(of: Int.self)
        let (drained, finishDrained) = AsyncStream.makeStream(of: Never.self)
        queue.withLock { $0 = (continuation, drained) }
        try addTask { [self] in
            defer { finishDrained.finish() }
            for await note in jobs {
                await countWords(of: note)
            }
        }
    }

    /// Takes no new job and returns once the queued ones ran.
    public func stop() async throws {
        guard let queue = queue.withLock({ $0.take() }) else { return }
        queue.jobs.finish()
        for await _ in queue.drained {}
    }

    /// Queues the word count of note `id`; `false` when the queue is not running.
    @discardableResult
    public func enqueueWordCount(of id: Int) -> Bool {
        guard let queue = queue.withLock({ $0 }) else { return false }
        if case .enqueued = queue.jobs.yield(id) { return true }
        return false
    }

    private func countWords(of id: Int) async {
        do {
            let rows = try await database.query("SELECT text FROM notes WHERE id = ?", [.integer(id)])
            guard let text = rows.first?.column("text")?.string else { return }
            let words = text.split(whereSeparator: { $0.isWhitespace }).count
            _ = try await database.query("UPDATE notes SET words = ? WHERE id = ?", [.integer(words), .integer(id)])
            cache.invalidate()
            logger.debug("words counted", metadata: ["note.id": "\(id)", "note.words": "\(words)"])
        } catch {
            logger.info("word count failed", error: error, metadata: ["note.id": "\(id)"])
        }
    }
}
