import Lifecycle
import LifecycleServiceLifecycle
import ServiceLifecycle
import Synchronization
import Testing

/// A swift-service-lifecycle service whose `run()` throws at once.
struct ThrowingService: ServiceLifecycle.Service {
    func run() async throws { throw Boom() }
}

/// A swift-service-lifecycle service that says it is ready (twice), then returns when a gate opens.
struct ReturningService: ServiceLifecycle.Service {
    let ready: @Sendable () -> Void
    let gate: Gate
    func run() async throws {
        ready()
        ready()
        await gate.wait()
    }
}

/// A swift-service-lifecycle service that never says it is ready and runs until cancelled or shut down.
struct SilentService: ServiceLifecycle.Service {
    let journal: Journal
    func run() async throws {
        journal.append("silent run")
        do {
            try await gracefulShutdown()
            journal.append("silent shut down")
        } catch {
            journal.append("silent cancelled")
            throw error
        }
    }
}

/// A swift-service-lifecycle service that says it is ready, ignores its graceful shutdown, and ends
/// only when cancelled.
struct StubbornService: ServiceLifecycle.Service {
    let ready: @Sendable () -> Void
    let journal: Journal
    func run() async throws {
        ready()
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        journal.append("stubborn cancelled")
    }
}

@Suite(.timeLimit(.minutes(1)))
struct HostedServiceTests {
    let journal = Journal()
    let servers = Instances<FakeServer>()

    func http(dependencies: Dependencies) -> HostedService {
        HostedService("http", dependencies: dependencies) { [journal, servers] ready in
            servers.add(FakeServer("http", journal: journal, ready: ready))
        }
    }

    @Test func aHostedServiceStartsAfterItsDependencyAndStopsBeforeIt() async throws {
        let database = Recorded("database", journal: journal)
        let http = http(dependencies: [database])
        let runner = ServiceRunner(http, signals: Signals.none)
        try await runner.start()
        #expect(http.isRunning)
        #expect(journal.all == ["database started", "http run"])
        try await runner.stop()
        #expect(
            journal.all == [
                "database started", "http run", "http shutting down", "http run returned", "database stopping",
                "database stopped",
            ])
        #expect(http.state == .stopped)
    }

    @Test func aRequestInFlightCompletesBeforeTheStopReturnsAndBeforeTheDependencyStops() async throws {
        let database = Recorded("database", journal: journal)
        let runner = ServiceRunner(http(dependencies: [database]), signals: Signals.none)
        try await runner.start()
        let server = try #require(servers.last)
        let release = Gate()
        let request = Task { await server.handle(release: release) }
        try await eventually { journal.all.contains("http request began") }

        let stop = Task { try await runner.stop() }
        try await eventually { server.isShuttingDown }
        // Give a wrong implementation (one that returns from stop() at once) the time to show it.
        try await Task.sleep(for: .milliseconds(50))
        #expect(!journal.all.contains("database stopping"))

        release.open()
        #expect(await request.value == "ok")
        try await stop.value
        let entries = journal.all
        let completed = try #require(entries.firstIndex(of: "http request completed"))
        let returned = try #require(entries.firstIndex(of: "http run returned"))
        let databaseStops = try #require(entries.firstIndex(of: "database stopping"))
        #expect(completed < returned && returned < databaseStops)
    }

    @Test func everyStartBuildsAFreshInstance() async throws {
        let http = http(dependencies: [])
        for _ in 1...2 {
            let runner = ServiceRunner(http, signals: Signals.none)
            try await runner.start()
            try await runner.stop()
        }
        #expect(servers.all.count == 2)
        #expect(servers.all.first !== servers.all.last)
    }

    @Test func aRunThatThrowsBeforeItIsReadyFailsTheStartWithItsError() async throws {
        let database = Recorded("database", journal: journal)
        let http = HostedService("http", dependencies: [database]) { _ in ThrowingService() }
        let runner = ServiceRunner(http, signals: Signals.none)
        do {
            try await runner.start()
            Issue.record("the start succeeded")
        } catch let HostedServiceError.endedBeforeReady(service, error) {
            #expect(service == "http")
            #expect(error is Boom)
        }
        #expect(http.state == .failed)
        #expect(journal.all == ["database started", "database stopping", "database stopped"])
    }

    @Test func aRunThatReturnsWhileRunningFailsTheTreeOnce() async throws {
        let database = Recorded("database", journal: journal)
        let gate = Gate()
        let http = HostedService("http", dependencies: [database]) { ready in ReturningService(ready: ready, gate: gate)
        }
        let runner = ServiceRunner(http, signals: Signals.none)
        let events = runner.events()
        let run = Task { try await runner.run() }
        try await eventually { http.isRunning }
        gate.open()
        do {
            try await run.value
            Issue.record("the tree did not fail")
        } catch let HostedServiceError.endedWhileRunning(service, error) {
            #expect(service == "http")
            #expect(error == nil)
        }
        var taskFailures = 0
        for await event in events where event.kind == .taskFailed { taskFailures += 1 }
        #expect(taskFailures == 1)
        #expect(journal.all == ["database started", "database stopping", "database stopped"])
        #expect(
            String(describing: HostedServiceError.endedWhileRunning(service: "http", error: nil))
                == "http: run() returned while the service was running and no stop was requested")
    }

    @Test func readinessImmediatelyCountsTheServiceUpOnceItsRunBegan() async throws {
        let http = HostedService("silent", readiness: .immediately) { [journal] _ in SilentService(journal: journal) }
        try await withRunning(http) { _ in }
        #expect(journal.all == ["silent run", "silent shut down"])
    }

    @Test func aServiceThatNeverSaysReadyTimesOutAndItsRunIsCancelled() async throws {
        let database = Recorded("database", journal: journal)
        let http = HostedService("silent", dependencies: [database], startTimeout: .milliseconds(100)) {
            [journal] _ in SilentService(journal: journal)
        }
        let runner = ServiceRunner(http, signals: Signals.none)
        await #expect(throws: LifecycleError.startTimedOut(http.serviceID, after: .milliseconds(100))) {
            try await runner.start()
        }
        // The runner does not wait for a start that passed its timeout; the run is cancelled all the same.
        try await eventually { journal.all.contains("silent cancelled") }
        #expect(journal.all.filter { $0.hasPrefix("silent") } == ["silent run", "silent cancelled"])
        #expect(journal.all.contains("database stopped"))
    }

    @Test func aStopRequestedWhileItStartsCancelsTheRunAndStopsTheDependency() async throws {
        let database = Recorded("database", journal: journal)
        let http = HostedService("silent", dependencies: [database]) { [journal] _ in SilentService(journal: journal) }
        let runner = ServiceRunner(http, signals: Signals.none)
        let run = Task { try await runner.run() }
        try await eventually { journal.all.contains("silent run") }
        runner.requestStop()
        try await run.value
        #expect(
            journal.all == [
                "database started", "silent run", "silent cancelled", "database stopping", "database stopped",
            ])
        #expect(http.state == .failed)
    }

    @Test func aMakeServiceThatThrowsFailsTheStart() async throws {
        let http = HostedService("http") { _ in throw Boom() }
        await #expect(throws: Boom.self) { try await withRunning(http) { _ in } }
    }

    @Test func aServiceIgnoringItsShutdownIsCancelledAfterTheGracefulShutdownTimeout() async throws {
        let database = Recorded("database", journal: journal)
        let http = HostedService("stubborn", dependencies: [database], gracefulShutdownTimeout: .milliseconds(100)) {
            [journal] ready in StubbornService(ready: ready, journal: journal)
        }
        let runner = ServiceRunner(http, signals: Signals.none)
        try await runner.start()
        await #expect(throws: LifecycleError.stopTimedOut(http.serviceID, after: .milliseconds(100))) {
            try await runner.stop()
        }
        try await eventually { journal.all.contains("stubborn cancelled") }
        #expect(journal.all.contains("database stopped"))
        #expect(http.state == .failed)
    }

    @Test func aReadyCalledInsideMakeServiceCountsAndStopStillShutsDown() async throws {
        let http = HostedService("eager") { [journal] ready in
            ready()
            return SilentService(journal: journal)
        }
        try await withRunning(http) { _ in }
        #expect(journal.all == ["silent run", "silent shut down"])
    }

    @Test func aReadyCallbackKeptFromAnEarlierStartDoesNotMakeALaterStartReady() async throws {
        let kept = KeptCallback()
        let http = HostedService("http", startTimeout: .milliseconds(200)) { [journal] ready in
            guard kept.keep(ready) else { return SilentService(journal: journal) }  // later starts: never ready
            return FakeServer("http", journal: journal, ready: ready)
        }
        let first = ServiceRunner(http, signals: Signals.none)
        try await first.start()
        try await first.stop()
        let second = ServiceRunner(http, signals: Signals.none)
        let start = Task { try await second.start() }
        try await eventually { journal.all.contains("silent run") }
        kept.call()  // the first start's callback, called during the second start
        await #expect(throws: LifecycleError.startTimedOut(http.serviceID, after: .milliseconds(200))) {
            try await start.value
        }
    }
}

/// The ready callback of the first start, kept to be called later.
final class KeptCallback: Sendable {
    private let callback = Mutex<(@Sendable () -> Void)?>(nil)
    /// Keeps `ready` if none is kept yet; whether it did.
    func keep(_ ready: @escaping @Sendable () -> Void) -> Bool {
        callback.withLock { kept in
            guard kept == nil else { return false }
            kept = ready
            return true
        }
    }
    func call() { callback.withLock { $0 }?() }
}
