import LifecycleTesting
import Testing

@testable import Lifecycle

/// The claims of the README's "Supervision" section and of the Supervision article that no other
/// test pins down, checked as written there.
@Suite(.timeLimit(.minutes(1))) struct SupervisionDocumentationTests {
    /// "A dependent's `start()` that throws counts against the dependent's own policy (without one,
    /// the trees fail, as they would for its task)."
    @Test func aDependentWithoutAPolicyWhoseStartThrowsDuringARestartFailsTheTree() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(3, delay: .seconds(1)), log: log)
        let api = Crashable("api", dependencies: [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.failNextStarts(1)
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && cache.state == .stopped })
        clock.advance(by: .seconds(1))
        await #expect(throws: Boom(name: "api")) { try await running.value }
        await events.finished()
        #expect(events.restarts == ["cache 1"])
        #expect(api.state == .failed && cache.state == .stopped)
        #expect(cache.starts == 2 && cache.stops == 2)
        expectLegal(events.all)
    }

    @Test func aDependentWithAPolicyWhoseStartThrowsDuringARestartRestartsAfterItsOwnBackoff() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(3, delay: .seconds(1)), log: log)
        let api = Crashable("api", dependencies: [cache], policy: restarting(3, delay: .seconds(5)), log: log)
        let runner = ServiceRunner(api, signals: [], clock: clock)
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.failNextStarts(1)
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && cache.state == .stopped })
        clock.advance(by: .seconds(1))
        #expect(
            await eventually { events.restarts == ["cache 1", "api 1"] && clock.hasSleeper(wakingIn: .seconds(5)) })
        #expect(cache.state == .running && api.state == .failed)
        clock.advance(by: .seconds(5))
        #expect(await eventually { api.state == .running })
        #expect(cache.starts == 2 && api.starts == 3)
        runner.requestStop()
        try await running.value
        await events.finished()
        // The article: a retry shows as `starting → failed`, `restartScheduled`, `failed → starting`.
        let retry = events.all.filter { $0.service == api.serviceID }.map { event in
            event.isTransition ? "\(event.from) → \(event.to)" : "\(event.kind)"
        }
        #expect(
            retry == [
                "idle → starting", "starting → running", "running → stopping", "stopping → stopped",
                "stopped → starting", "starting → failed", "restartScheduled(attempt: 1, delay: 5.0 seconds)",
                "failed → starting", "starting → running", "stopRequested(requested)", "running → stopping",
                "stopping → stopped",
            ])
        expectLegal(events.all)
    }

    /// "A restart's `stop()` that throws is reported (a `failed` transition, `runner.failures`) and
    /// the service starts again."
    @Test func aRestartsStopThatThrowsIsReportedAndTheServiceStartsAgain() async throws {
        let log = LineLog()
        let cache = Puppet("cache", policy: .onFailure(backoff: .none), log: log)
        let api = Puppet("api", [cache], log: log)
        let runner = ServiceRunner(api, signals: [], clock: ManualClock())
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { api.state == .running })
        api.nextStops(.fail)
        cache.crash()
        #expect(await eventually { api.starts == 2 && api.state == .running })
        let stopFailures = runner.failures.filter { $0.phase == .stop }
        #expect(stopFailures.map(\.service) == [api.serviceID])
        #expect(stopFailures.first?.error as? Boom == Boom(name: "api"))
        runner.requestStop()
        try await running.value
        await events.finished()
        #expect(events.lines.contains("api: stopping → failed") && events.lines.contains("api: failed → starting"))
    }

    /// "… `restartPolicy` … the trees stay up and `wait()` / `run()` do not return."
    @Test func waitDoesNotReturnDuringARestart() async throws {
        let log = LineLog()
        let clock = ManualClock()
        let cache = Crashable("cache", policy: restarting(3, delay: .seconds(1)), log: log)
        let runner = ServiceRunner(cache, signals: [], clock: clock)
        try await runner.start()
        let returned = Locked(false)
        let waiting = Task {
            try await runner.wait()
            returned.withLock { $0 = true }
        }
        cache.crash()
        #expect(await eventually { clock.hasSleeper(wakingIn: .seconds(1)) && cache.state == .stopped })
        #expect(!returned.withLock { $0 })
        clock.advance(by: .seconds(1))
        #expect(await eventually { cache.starts == 2 && cache.state == .running })
        #expect(!returned.withLock { $0 })
        try await runner.stop()
        try await waiting.value
        #expect(returned.withLock { $0 })
    }

    /// "Both throw `LifecycleError.notRunning` unless the tree runs": also while it still starts.
    @Test func addAndRemoveWhileTheTreeStartsAreRefused() async throws {
        let log = LineLog()
        let gate = Gate()
        let root = Puppet("root", log: log)
        root.nextStarts(.hold(gate))
        let runner = ServiceRunner(root, signals: [])
        let starting = Task { try await runner.start() }
        #expect(await eventually { root.starts == 1 })
        let extra = Puppet("extra", log: log)
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.add(extra) }
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.remove(extra) }
        gate.open()
        try await starting.value
        try await runner.add(extra)
        try await runner.stop()
        #expect(extra.starts == 1 && extra.stops == 1)
    }

    /// A policy of zero restarts is valid (the error message offers it) and fails fast at once.
    @Test func zeroRestartsFailsAtTheFirstFailureWithoutScheduling() async throws {
        let log = LineLog()
        let cache = Crashable("cache", policy: restarting(0, delay: .zero), log: log)
        let runner = ServiceRunner(cache, signals: [])
        let events = EventLog(runner.events())
        let running = Task { try await runner.run() }
        #expect(await eventually { cache.state == .running })
        cache.crash()
        await #expect(throws: Boom(name: "cache")) { try await running.value }
        await events.finished()
        #expect(events.restarts.isEmpty)
        #expect(cache.starts == 1 && cache.stops == 1)
    }

    /// The messages of the mistakes a user makes with restart policies and `remove` say what to do.
    @Test func theMessagesOfPolicyAndRemoveMistakesSayWhatToDo() async throws {
        let log = LineLog()
        let negative = Crashable("consumer", policy: .onFailure(maxRestarts: -1), log: log)
        do {
            try await ServiceRunner(negative, signals: []).start()
            Issue.record("a negative maxRestarts was accepted")
        } catch {
            #expect(
                "\(error)"
                    == "consumer has a restart policy with maxRestarts -1; give it zero or more "
                    + "(0: no restart, the first failure fails the trees as with .never)")
        }
        let noWindow = Crashable("consumer", policy: .onFailure(within: .zero), log: log)
        do {
            _ = try ServiceRunner(noWindow, signals: []).plan()
            Issue.record("a window of zero was accepted")
        } catch {
            #expect(
                "\(error)"
                    == "consumer has a restart policy with a window `within` of 0.0 seconds; give it a window "
                    + "greater than zero, such as .seconds(60)")
        }
        let root = Crashable("root", log: log)
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        do {
            try await runner.add(Crashable("worker", policy: .onFailure(maxRestarts: -2), log: log))
            Issue.record("an add with a negative maxRestarts was accepted")
        } catch {
            #expect("\(error)".hasPrefix("worker has a restart policy with maxRestarts -2; give it zero or more"))
        }
        let stranger = Crashable("stranger", log: log)
        do {
            try await runner.remove(stranger)
            Issue.record("remove of a service never added was accepted")
        } catch {
            #expect(
                "\(error)"
                    == "stranger was not added with add(_:) to this runner; only services added at run time can be "
                    + "removed, once their add(_:) returned, and once per add")
        }
        try await runner.stop()
        #expect(negative.starts == 0 && noWindow.starts == 0 && root.stops == 1)
    }
}
