import Foundation
import Hummingbird
import Logging
import Prometheus

/// The routes: health, metrics, notes, and a slow one that shows a request in flight across a stop.
struct Routes: Sendable {
    let database: DatabaseService
    let cache: CacheService
    let jobs: JobsService
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    /// What `/slow?ms=N` waits for: by default `N` milliseconds (tests pass a gate of their own).
    let slowWork: @Sendable (Duration) async -> Void

    func register(on router: Router<BasicRequestContext>) {
        router.get("health/live") { _, _ in
            Self.probe(readiness.isLive, yes: "live\n", no: "not live\n")
        }
        router.get("health/ready") { _, _ in
            Self.probe(readiness.isReady, yes: "ready\n", no: "not ready\n")
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("notes") { _, _ in
            try await cache.notes {
                try await database.query("SELECT id, text, words FROM notes ORDER BY id").compactMap(Note.init(row:))
            }
        }
        router.get("notes/:id") { _, context in
            let id = try context.parameters.require("id", as: Int.self)
            let rows = try await database.query("SELECT id, text, words FROM notes WHERE id = ?", [.integer(id)])
            guard let note = rows.first.flatMap(Note.init(row:)) else { throw HTTPError(.notFound) }
            return note
        }
        router.post("notes") { request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw HTTPError(.badRequest, message: "a note needs some text") }
            let rows = try await database.query(
                "INSERT INTO notes (text) VALUES (?) RETURNING id, text, words", [.text(text)])
            guard let note = rows.first.flatMap(Note.init(row:)) else { throw HTTPError(.internalServerError) }
            cache.invalidate()
            jobs.enqueueWordCount(of: note.id)
            return EditedResponse(status: .created, response: note)
        }
        router.get("slow") { request, _ in
            let milliseconds = min(request.uri.queryParameters.get("ms", as: Int.self) ?? 1000, Self.slowestRequest)
            logger.info("slow request began", metadata: ["slow.ms": "\(milliseconds)"])
            await slowWork(.milliseconds(milliseconds))
            logger.info("slow request completed", metadata: ["slow.ms": "\(milliseconds)"])
            return "done after \(milliseconds) ms\n"
        }
    }

    /// The longest `/slow` request, in milliseconds: it fits in `http`'s `gracefulShutdownTimeout`.
    static let slowestRequest = 8_000

    /// 200 with `yes`, or 503 with `no`.
    private static func probe(_ answer: Bool, yes: String, no: String) -> Response {
        Response(
            status: answer ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: answer ? yes : no)))
    }
}
