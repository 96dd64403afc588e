import Lifecycle
import LifecycleObservers
import Testing

/// The "Getting started" article's services, as written there (only the stubs are new), run the
/// three ways it shows; the logger's lines have the shape the article prints.
enum GettingStarted {
    final class Database: Service {
        func start() async throws {}  // open the pool
        func stop() async throws {}  // close it
    }

    final class HTTPServer: Service {
        let database = Database()
        var dependencies: Dependencies { [database] }  // starts first, stops last

        func start() async throws {
            // bind the socket, then hand the accept loop to the lifecycle:
            try addTask { try await self.acceptLoop() }
        }
        func stop() async throws {}  // stop accepting, finish requests in flight

        func acceptLoop() async throws {
            while true { try await Task.sleep(for: .seconds(60)) }
        }
        func handle(_ request: String) async throws -> String { "handled \(request)" }
    }
}

@Suite(.timeLimit(.minutes(1))) struct GettingStartedExampleTests {
    @Test func theArticlesServicesRunScopedAndObserved() async throws {
        let request = "GET /"
        let response = try await withRunning(GettingStarted.HTTPServer()) { server in
            try await server.handle(request)
        }
        #expect(response == "handled GET /")

        let lines = Lines()
        let server = GettingStarted.HTTPServer()
        let runner = ServiceRunner(server, observers: [ConsoleLogger { lines.append($0) }], signals: [])
        let run = Task { try await runner.run() }
        while !server.isRunning { try await Task.sleep(for: .milliseconds(1)) }
        runner.requestStop()
        try await run.value
        // `   0.041s  Database  starting → running  (starting 41.2ms)`, times aside.
        let shown = lines.all.prefix(4).map { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst() }
        #expect(
            shown.map { $0.prefix(4).joined(separator: " ") } == [
                "Database idle → starting", "Database starting → running", "HTTPServer idle → starting",
                "HTTPServer starting → running",
            ])
        #expect(lines.all[1].contains("(starting ") && lines.all[3].contains("(starting "))
        #expect(server.database.state == .stopped)
    }
}
