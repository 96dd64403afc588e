import Foundation
import LifecycleObservers
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A service that does nothing, with a name.
private final class Plain: Service {
    let name: String
    let dependencies: Dependencies
    let failsToStop: Bool
    init(_ name: String, dependencies: Dependencies = [], failsToStop: Bool = false) {
        self.name = name
        self.dependencies = dependencies
        self.failsToStop = failsToStop
    }
    func stop() async throws { if failsToStop { throw Boom("disk full") } }
}

/// DESIGN §13: `SystemdNotifier` over a real AF_UNIX datagram socket bound by the test.
@Suite(.timeLimit(.minutes(1))) struct SystemdNotifierTests {
    /// Runs a tree with a notifier on `socket`, start then stop, and returns the datagrams.
    private static func messages(
        on socket: NotifySocket, root: any Service, environment extra: [String: String] = [:],
        whileRunning: @Sendable () async -> Void = {}
    ) async throws -> [String] {
        let notifier = SystemdNotifier(root: root, environment: socket.environment.merging(extra) { $1 })
        #expect(notifier.isEnabled)
        // No stall reports: a stop slowed past 5 s by a loaded machine would add a STATUS= line.
        let runner = ServiceRunner(root, observers: [notifier], signals: [], stallReportInterval: nil)
        let listening = socket.listen()
        try await runner.start()
        await whileRunning()
        try? await runner.stop()  // returns after the notifier consumed the last event
        listening.cancel()
        let messages = await listening.value
        #expect(notifier.failedMessages == 0)
        return messages
    }

    @Test(arguments: [false, true])
    func readyThenStoppingWithStatusLines(abstract: Bool) async throws {
        let socket = NotifySocket(abstract: abstract)
        let database = Plain("database")
        let api = Plain("api", dependencies: [database])
        let messages = try await Self.messages(on: socket, root: api)
        #expect(
            messages == [
                "STATUS=api starting",
                "READY=1\nSTATUS=api running",
                "STOPPING=1\nSTATUS=stopping (requested)",
                "STATUS=api stopping",
                "STATUS=api stopped",
            ])
    }

    @Test func failuresAreStatusLinesOnOneLine() async throws {
        let socket = NotifySocket(abstract: true)
        let disk = Plain("disk\nwriter", failsToStop: true)
        let api = Plain("api", dependencies: [disk])
        let messages = try await Self.messages(on: socket, root: api)
        #expect(messages.contains(#"STATUS=disk\nwriter failed: disk full"#))
        // Every assignment is one line: only READY/STOPPING add a second one.
        for message in messages {
            for line in message.split(separator: "\n") { #expect(line.contains("=")) }
        }
    }

    @Test func theWatchdogPingsEveryHalfIntervalWhileRunningOnly() async throws {
        let socket = NotifySocket(abstract: false)
        let api = Plain("api")
        let messages = try await Self.messages(on: socket, root: api, environment: ["WATCHDOG_USEC": "20000"]) {
            try? await Task.sleep(for: .milliseconds(300))  // ~30 pings at 10 ms; only a few are required
        }
        let ready = messages.firstIndex { $0.hasPrefix("READY=1") }!
        let stopping = messages.firstIndex { $0.hasPrefix("STOPPING=1") }!
        let pings = messages.indices.filter { messages[$0] == "WATCHDOG=1" }
        #expect(pings.count >= 3)
        #expect(pings.allSatisfy { $0 > ready && $0 < stopping })
        try await Task.sleep(for: .milliseconds(50))
        #expect(socket.drain().isEmpty)  // no ping after the stream ended
    }

    @Test func theWatchdogOfAnotherProcessIsNotOurs() async throws {
        let socket = NotifySocket(abstract: true)
        let environment = ["WATCHDOG_USEC": "20000", "WATCHDOG_PID": String(getpid() + 1)]
        let messages = try await Self.messages(on: socket, root: Plain("api"), environment: environment) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        #expect(!messages.contains("WATCHDOG=1"))
        #expect(messages.contains { $0.hasPrefix("READY=1") })
    }

    @Test func theWatchdogOfThisProcessIsOurs() async throws {
        let socket = NotifySocket(abstract: true)
        let environment = ["WATCHDOG_USEC": "20000", "WATCHDOG_PID": String(getpid())]
        let messages = try await Self.messages(on: socket, root: Plain("api"), environment: environment) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        #expect(messages.contains("WATCHDOG=1"))
    }

    @Test(arguments: [
        [:], ["NOTIFY_SOCKET": ""], ["NOTIFY_SOCKET": "vsock:2:1234"], ["NOTIFY_SOCKET": "relative/path"],
    ])
    func withoutAUsableNotifySocketNothingIsSentAndNothingBreaks(environment: [String: String]) async throws {
        let api = Plain("api")
        let notifier = SystemdNotifier(root: api, environment: environment)
        #expect(!notifier.isEnabled)
        let runner = ServiceRunner(api, observers: [notifier], signals: [])
        try await runner.start()
        try await runner.stop()
        #expect(notifier.failedMessages == 0)
        #expect(api.state == .stopped)
    }

    @Test func aPathLongerThanASocketAddressHoldsIsNotUsed() {
        let long = "/" + String(repeating: "x", count: 200)
        #expect(!SystemdNotifier(root: Plain("api"), environment: ["NOTIFY_SOCKET": long]).isEnabled)
    }

    @Test func aSocketNobodyListensOnCountsFailuresAndTheTreeRunsOn() async throws {
        let api = Plain("api")
        let notifier = SystemdNotifier(
            root: api, environment: ["NOTIFY_SOCKET": NSTemporaryDirectory() + "nobody-\(getpid()).sock"])
        #expect(notifier.isEnabled)
        let runner = ServiceRunner(api, observers: [notifier], signals: [])
        try await runner.start()
        try await runner.stop()
        #expect(notifier.failedMessages > 0)
        #expect(api.state == .stopped)
    }

    @Test func theDrainAndStallReportsAreStatusLines() async throws {
        let socket = NotifySocket(abstract: true)
        let api = Plain("api")
        let notifier = SystemdNotifier(root: api, environment: socket.environment)
        let events: [LifecycleEvent] = [
            LifecycleEvent(service: api.serviceID, from: .running, to: .running, time: .zero, kind: .draining),
            LifecycleEvent(
                service: api.serviceID, from: .stopped, to: .stopped, time: .zero,
                kind: .shutdownStalled(stopping: [ServiceID(name: "database", number: 5)])),
        ]
        await notifier.observe(stream(of: events))
        #expect(socket.drain() == ["STATUS=draining", "STATUS=shutdown stalled, still stopping: database"])
    }
}
