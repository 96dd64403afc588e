import Foundation
import LifecycleObservers

/// An error whose description is its text, so logs can be checked exactly.
struct Boom: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Hand-built identities and events with known times, for exact checks.
enum Fixture {
    static let database = ServiceID(name: "Database", number: 901)
    static let cache = ServiceID(name: "Cache", number: 902)
    static let api = ServiceID(name: "API", number: 903)
    static let queue = ServiceID(name: "Queue", number: 904)

    static func event(
        _ service: ServiceID, _ from: ServiceState, _ to: ServiceState, at milliseconds: Int,
        error: (any Error)? = nil, kind: LifecycleEvent.Kind = .transition
    ) -> LifecycleEvent {
        LifecycleEvent(
            service: service, from: from, to: to, error: error, time: .milliseconds(milliseconds), kind: kind)
    }

    /// API needs Database then Cache. A background task of API fails, the tree stops, and Cache's
    /// stop times out after 10 s.
    static let failingRun: [LifecycleEvent] = [
        event(database, .idle, .starting, at: 0),
        event(database, .starting, .running, at: 40),
        event(cache, .idle, .starting, at: 40),
        event(cache, .starting, .running, at: 60),
        event(api, .idle, .starting, at: 60),
        event(api, .starting, .running, at: 90),
        event(api, .running, .running, at: 500, error: Boom("connection reset"), kind: .taskFailed),
        event(api, .running, .running, at: 501, kind: .stopRequested(.failure)),
        event(api, .running, .stopping, at: 502),
        event(api, .stopping, .stopped, at: 510),
        event(cache, .running, .stopping, at: 510),
        event(cache, .stopping, .failed, at: 10_510, error: LifecycleError.stopTimedOut(cache, after: .seconds(10))),
        event(database, .running, .stopping, at: 10_510),
        event(database, .stopping, .stopped, at: 10_520),
    ]

    /// Queue's start throws; a stop was requested by a signal, then escalated.
    static let failedStart: [LifecycleEvent] = [
        event(queue, .idle, .starting, at: 0),
        event(queue, .idle, .idle, at: 1, kind: .stopRequested(.signal(15))),
        event(queue, .starting, .failed, at: 5, error: Boom("no route to host")),
        event(queue, .failed, .failed, at: 6, kind: .stopRequested(.escalation(2))),
        event(queue, .failed, .failed, at: 7, kind: .stopRequested(.requested)),
        event(queue, .failed, .failed, at: 8, kind: .stopRequested(.cancellation)),
    ]
}

/// A finished stream of the given events, as a runner would deliver them.
func stream(of events: [LifecycleEvent]) -> AsyncStream<LifecycleEvent> {
    AsyncStream { continuation in
        for event in events { continuation.yield(event) }
        continuation.finish()
    }
}

/// Collects lines from a closure sink.
final class Lines: Sendable {
    private let lines = Locked<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// A service whose background task throws shortly after it starts.
final class FlakyWorker: Service {
    let name = "FlakyWorker"
    func start() async throws {
        try addTask {
            try await Task.sleep(for: .milliseconds(20))
            throw Boom("lost connection")
        }
    }
}

/// A service whose dependencies can be set after creation, to build cycles.
final class Rewirable: Service {
    let name: String
    private let next = Locked<[any Service]>([])
    init(_ name: String) { self.name = name }
    func dependOn(_ services: any Service...) { next.withLock { $0 = services } }
    var dependencies: Dependencies { Dependencies(next.withLock { $0 }) }
}

/// The repository's root, found from this file's path (Tests/LifecycleObserversTests/Support/…).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
