import Foundation
import HTTPServerApp
import Lifecycle
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real HTTP request to 127.0.0.1, on a new connection each time.
struct Client {
    let port: Int

    struct Reply: Sendable {
        let status: Int
        let body: String
        let contentType: String?
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        return URLSession(configuration: configuration)
    }()

    func get(_ path: String) async throws -> Reply {
        try await send("GET", path)
    }

    func post(_ path: String, body: String) async throws -> Reply {
        try await send("POST", path, body: Data(body.utf8))
    }

    private func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.setValue("close", forHTTPHeaderField: "Connection")
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        return Reply(
            status: http.statusCode, body: String(decoding: data, as: UTF8.self),
            contentType: http.value(forHTTPHeaderField: "Content-Type"))
    }
}

/// Lines written by a logger or a process, kept for the test to read.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    /// Each line parsed as a JSON object (a line that is not one fails the test through `throws`).
    func objects() throws -> [[String: String]] {
        try all.map { line in
            try JSONDecoder().decode([String: String].self, from: Data(line.utf8))
        }
    }

    /// The index of the first line whose `message` is `message`.
    func index(ofMessage message: String) throws -> Int? {
        try objects().firstIndex { $0["message"] == message }
    }
}

/// A one-shot signal: `wait()` returns once `open()` was called (before or after).
final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
    var isOpen: Bool { state.withLock { $0.isOpen } }
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// Polls `condition` until it holds; the 20 s bound only proves nothing hangs.
func eventually(_ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(20))
    while try await !condition() {
        guard clock.now < deadline else { throw TimedOut() }
        try await Task.sleep(for: .milliseconds(10))
    }
}

struct TimedOut: Error {}

/// A temporary SQLite file, removed with its folder by `remove()`.
struct TemporaryDatabase {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("httpserver-\(UUID().uuidString)")
    var path: String { folder.appendingPathComponent("notes.sqlite").path }
    init() throws { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
    func remove() { try? FileManager.default.removeItem(at: folder) }
}
