import Foundation
import HTTPServerApp
import Lifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real HTTP/1.1 request to 127.0.0.1 over a plain socket, on a new connection each time
/// (`Connection: close`, read to the end). Blocking socket calls run on a thread of their own.
struct Client {
    let port: Int

    struct Reply: Sendable {
        let status: Int
        let body: String
        let contentType: String?
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func get(_ path: String) async throws -> Reply {
        try await send("GET", path)
    }

    func post(_ path: String, body: String) async throws -> Reply {
        try await send("POST", path, body: body)
    }

    private func send(_ method: String, _ path: String, body: String = "") async throws -> Reply {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if method == "POST" { request += "Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        let port = port
        let bytes = Array(request.utf8)
        let raw = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
            Thread { continuation.resume(with: Result { try Self.exchange(bytes, port: port) }) }.start()
        }
        return try Self.parse(raw, request: "\(method) \(path)")
    }

    /// Connects, writes `request`, reads until the server closes; 30 s at most per read (nothing hangs).
    private static func exchange(_ request: [UInt8], port: Int) throws -> [UInt8] {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to port \(port) failed: errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw Failure(description: "write failed: errno \(errno)") }
            sent += written
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return response }
            guard count > 0 else { throw Failure(description: "read failed or timed out: errno \(errno)") }
            response += buffer[..<count]
        }
    }

    /// The status, the content type and the body (by `Content-Length`, chunks, or to the end).
    private static func parse(_ raw: [UInt8], request: String) throws -> Reply {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = raw.indices.first(where: { raw[$0...].starts(with: separator) }) else {
            throw Failure(description: "\(request): no complete response head in \(raw.count) bytes")
        }
        let head = String(decoding: raw[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "\(request): bad status line \(head[0])")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(raw[(end + separator.count)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = dechunk(body)
        } else if let length = headers["content-length"].flatMap(Int.init), length <= body.count {
            body = Array(body[..<length])
        }
        return Reply(status: status, body: String(decoding: body, as: UTF8.self), contentType: headers["content-type"])
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while let lineEnd = bytes[index...].indices.first(where: { bytes[$0...].starts(with: [13, 10]) }),
            let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16), size > 0
        {
            let start = lineEnd + 2
            result += bytes[start..<min(start + size, bytes.count)]
            index = start + size + 2
            guard index < bytes.count else { break }
        }
        return result
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
    /// Returns once the gate is open; a cancelled waiter (a test over its time limit) opens it, so
    /// that nothing hangs.
    func wait() async {
        await withTaskCancellationHandler {
            await waitIgnoringCancellation()
        } onCancel: {
            open()
        }
    }
    /// Returns once the gate is open, cancelled or not: work that ignores cancellation.
    func waitIgnoringCancellation() async {
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

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: every message it receives, kept.
final class NotifySocket: Sendable {
    let path: String
    let messages = Lines()
    private let fd: Int32

    /// Binds a socket in a new temporary folder and reads from it on a thread of its own until ``close()``.
    init() throws {
        let folder = "/tmp/notify-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/notify.sock"
        #if canImport(Glibc)
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #else
            fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw Client.Failure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw Client.Failure(description: "bind \(path) failed: errno \(errno)") }
        let (reading, messages) = (fd, messages)
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(reading, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return }  // closed
                messages.append(String(decoding: buffer[..<count], as: UTF8.self))
            }
        }.start()
    }

    /// Stops reading and removes the socket's folder.
    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        #if canImport(Glibc)
            Glibc.close(fd)
        #else
            Darwin.close(fd)
        #endif
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}
