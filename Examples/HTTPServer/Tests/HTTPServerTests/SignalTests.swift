import Foundation
import Testing

/// The built `HTTPServer` executable, run as its README runs it, stopped with a real SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SignalTests {
    /// The executable next to this test bundle (`.build/<triple>/debug/HTTPServer`).
    static func executable() throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("HTTPServer")
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isFolder), !isFolder.boolValue {
                return candidate
            }
            folder.deleteLastPathComponent()
        }
        throw NotFound()
    }

    struct NotFound: Error {}

    @Test func sigtermTurnsReadinessFalseDrainsLetsTheRequestInFlightCompleteThenExitsZero() async throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let process = Process()
        process.executableURL = try Self.executable()
        process.environment = [
            "PORT": "0", "DATABASE_PATH": database.path, "SHUTDOWN_GRACE_SECONDS": "0.5", "LOG_LEVEL": "debug",
        ]
        let output = Pipe()
        process.standardOutput = output
        let lines = Lines()
        let reader = Thread {
            var pending = Data()
            while true {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
        }
        try process.run()
        reader.start()
        defer { if process.isRunning { process.terminate() } }

        // The port it chose, from its "listening" log line.
        var port: Int?
        try await eventually {
            port = try lines.objects().first { $0["message"] == "listening" }?["http.port"].flatMap(Int.init)
            return port != nil
        }
        let client = Client(port: try #require(port))
        try await eventually { try await client.get("/health/ready").status == 200 }

        // A request that takes longer than the shutdown grace, in flight when SIGTERM arrives.
        let request = Task { try await client.get("/slow?ms=1500") }
        try await eventually { try lines.index(ofMessage: "slow request began") != nil }
        kill(process.processIdentifier, SIGTERM)
        try await eventually { try await client.get("/health/ready").status == 503 }

        let reply = try await request.value
        #expect(reply.status == 200)
        #expect(reply.body == "done after 1500 ms\n")
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)

        try await eventually { try lines.index(ofMessage: "database: stopping → stopped") != nil }
        let objects = try lines.objects()  // every line is JSON
        // The budget, logged before anything starts.
        let plan = try #require(objects.first { $0["message"]?.hasPrefix("shutdown plan: ") == true })
        #expect(plan["shutdown.worst_case"] == "21s")
        #expect(plan["shutdown.drain"] == "0.5s")
        #expect(plan["shutdown.deadline"] == "30s")
        #expect(
            objects.firstIndex { $0["message"]?.hasPrefix("shutdown plan: ") == true }!
                < (try lines.index(ofMessage: "listening"))!)
        let draining = try #require(objects.firstIndex { $0["lifecycle.event"] == "draining" })
        let signal = try #require(objects.firstIndex { $0["lifecycle.cause"] == "signal 15" })
        let completed = try #require(try lines.index(ofMessage: "slow request completed"))
        let httpStopping = try #require(try lines.index(ofMessage: "http: running → stopping"))
        let httpStopped = try #require(try lines.index(ofMessage: "http: stopping → stopped"))
        #expect(signal < draining)
        #expect(draining < httpStopping)
        #expect(completed < httpStopped)
        #expect(httpStopping < httpStopped)
    }
}
