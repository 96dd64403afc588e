import Lifecycle
import Logging

/// Writes one log record per lifecycle event to a swift-log `Logger`.
///
/// ```swift
/// let runner = ServiceRunner(api, observers: [LoggingObserver(logger: logger, root: api)])
/// ```
///
/// As swift-log asks of libraries, routine records stay at `.debug` and `.info` by default:
/// transitions at ``Levels-swift.struct/transition`` (`.debug`); the cause of a stop and "all
/// running" at ``Levels-swift.struct/milestone`` (`.info`); failures (`starting → failed`,
/// `stopping → failed`, a failed background task) at ``Levels-swift.struct/failure`` (`.info`),
/// with the error passed as the record's `error:`. An application raises them as it likes.
///
/// Metadata keys: `lifecycle.event` (`transition`, `stopRequested`, `taskFailed`, `allRunning`, or
/// the name of another kind of event), `lifecycle.service` (the name), `lifecycle.service.id` (the
/// instance number, which tells apart two services of one name), `lifecycle.from`, `lifecycle.to`,
/// `lifecycle.cause` (a stop's cause, such as `signal 15`), and `lifecycle.duration` (seconds, as
/// text: on a transition, how long the service was in its previous state; on "all running", how long
/// the start took).
public struct LoggingObserver: LifecycleObserver {
    /// The levels of the three kinds of record.
    public struct Levels: Sendable, Hashable {
        /// A state change that is not a failure. Default `.debug`.
        public var transition: Logger.Level
        /// The cause of a stop, and "all running". Default `.info`.
        public var milestone: Logger.Level
        /// A failed start or stop, a failed background task. Default `.info`.
        public var failure: Logger.Level

        /// The levels; the defaults follow swift-log's guidance for libraries.
        public init(transition: Logger.Level = .debug, milestone: Logger.Level = .info, failure: Logger.Level = .info) {
            self.transition = transition
            self.milestone = milestone
            self.failure = failure
        }
    }

    /// Where the records go.
    public let logger: Logger
    /// The level of each kind of record.
    public let levels: Levels
    /// The root of the tree, whose `starting → running` is logged as "all running" too.
    private let rootID: ServiceID?

    /// An observer logging to `logger`.
    ///
    /// - Parameters:
    ///   - logger: where the records go.
    ///   - root: the tree's root; when given, its reaching `running` is also logged as "all running",
    ///     with the time the start took.
    ///   - levels: the level of each kind of record.
    public init(logger: Logger, root: (any Lifecycle.Service)? = nil, levels: Levels = Levels()) {
        self.logger = logger
        self.levels = levels
        self.rootID = root?.serviceID
    }

    /// Logs every event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        var records = LogRecords(levels: levels, rootID: rootID)
        for await event in events {
            for record in records.records(for: event) {
                logger.log(level: record.level, "\(record.message)", error: record.error, metadata: record.metadata)
            }
        }
    }
}
