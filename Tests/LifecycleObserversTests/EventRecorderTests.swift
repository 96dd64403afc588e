import LifecycleObservers
import Testing

@Suite(.timeLimit(.minutes(1))) struct EventRecorderTests {
    @Test func theRecorderKnowsTheOrderAndTheTransitionsOfARealRun() async throws {
        let recorder = EventRecorder()
        let database = ClosureService(name: "db")
        let cache = ClosureService(name: "cache")
        let api = ClosureService(name: "api", dependencies: [database, cache])
        try await withRunning(api, observers: [recorder]) { _ in }
        #expect(recorder.order(reaching: .running) == [database.serviceID, cache.serviceID, api.serviceID])
        #expect(recorder.expectOrder(reaching: .running, [database, cache, api]) == nil)
        #expect(recorder.expectOrder(reaching: .stopped, [api, cache, database]) == nil)
        #expect(
            recorder.transitions(of: cache)
                == [
                    Transition(from: .idle, to: .starting), Transition(from: .starting, to: .running),
                    Transition(from: .running, to: .stopping), Transition(from: .stopping, to: .stopped),
                ])
        #expect(recorder.expectStates(of: api, [.idle, .starting, .running, .stopping, .stopped]) == nil)
        #expect(recorder.expectLegalTransitions() == nil)
        #expect(recorder.events.contains { $0.stopCause == .requested && $0.service == api.serviceID })
    }

    @Test func aFailedStartIsRecordedWithItsError() async throws {
        let recorder = EventRecorder()
        let database = ClosureService(name: "db")
        let broken = ClosureService(name: "broken", dependencies: [database], start: { throw Boom("refused") })
        await #expect(throws: Boom.self) { try await withRunning(broken, observers: [recorder]) { _ in } }
        #expect(recorder.expectStates(of: broken, [.idle, .starting, .failed]) == nil)
        #expect(recorder.expectStates(of: database, [.idle, .starting, .running, .stopping, .stopped]) == nil)
        let failure = try #require(recorder.events.first { $0.to == .failed })
        #expect("\(failure.error.map { "\($0)" } ?? "")" == "refused")
        #expect(recorder.expectLegalTransitions() == nil)
    }

    @Test func aBackgroundTaskFailureIsRecordedWithTheCauseOfTheStop() async throws {
        let recorder = EventRecorder()
        let worker = FlakyWorker()
        let runner = ServiceRunner(worker, observers: [recorder], signals: [])
        await #expect(throws: Boom.self) { try await runner.run() }
        let taskFailure = try #require(recorder.events.first { $0.kind == .taskFailed })
        #expect(taskFailure.service == worker.serviceID)
        #expect(taskFailure.from == taskFailure.to)
        #expect("\(taskFailure.error.map { "\($0)" } ?? "")" == "lost connection")
        #expect(recorder.events.contains { $0.stopCause == .failure })
        #expect(recorder.expectStates(of: worker, [.idle, .starting, .running, .stopping, .stopped]) == nil)
    }

    @Test func aFailedCheckReportsTheWholeTranscript() throws {
        let recorder = EventRecorder()
        for event in Fixture.failingRun { recorder.record(event) }
        let mismatch = try #require(recorder.expectOrder(reaching: .running, [Fixture.api, Fixture.database]))
        #expect(mismatch.message.contains("[API#903, Database#901]"))
        #expect(mismatch.message.contains("got [Database#901, Cache#902, API#903]"))
        #expect(mismatch.transcript == recorder.transcript)
        #expect("\(mismatch)".contains("  1  0.000s  Database#901  idle → starting"))
        #expect("\(mismatch)".contains(" 12  10.510s  Cache#902  stopping → failed  error: Cache did not stop"))
        #expect(recorder.transcript.split(separator: "\n").count == Fixture.failingRun.count)
        #expect(recorder.expectStates(of: Fixture.cache, [.idle, .starting, .running, .stopping, .stopped]) != nil)
        #expect(recorder.expect("API never failed", { events in !events.contains { $0.to == .failed } }) != nil)
    }

    @Test func illegalTransitionsAreCaught() throws {
        let recorder = EventRecorder()
        recorder.record(Fixture.event(Fixture.database, .idle, .starting, at: 0))
        recorder.record(Fixture.event(Fixture.database, .starting, .stopped, at: 1))
        let mismatch = try #require(recorder.expectLegalTransitions())
        #expect(mismatch.message == "event 2: Database#901 went starting → stopped while it was starting")
    }

    @Test func waitUntilReturnsOnceTheConditionHolds() async throws {
        let recorder = EventRecorder()
        let feeder = Task {
            for event in Fixture.failingRun {
                try await Task.sleep(for: .milliseconds(1))
                recorder.record(event)
            }
        }
        try await recorder.waitUntil(timeout: .seconds(30)) { events in events.contains { $0.to == .failed } }
        #expect(recorder.events.contains { $0.to == .failed })
        try await feeder.value
        // Already true: returns at once.
        try await recorder.waitUntil(timeout: .seconds(30)) { $0.count == Fixture.failingRun.count }
    }

    @Test func waitUntilThrowsTheTranscriptWhenTheTimeoutPasses() async throws {
        let recorder = EventRecorder()
        recorder.record(Fixture.event(Fixture.database, .idle, .starting, at: 0))
        let started = ContinuousClock.now
        do {
            try await recorder.waitUntil(timeout: .milliseconds(50)) { $0.contains { $0.to == .running } }
            Issue.record("waitUntil returned although nothing reached running")
        } catch let mismatch as RecorderMismatch {
            #expect(mismatch.message == "the condition did not hold within 0.05 seconds")
            #expect("\(mismatch)".contains("Database#901  idle → starting"))
        }
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func waitUntilFollowsARealRun() async throws {
        let recorder = EventRecorder()
        let service = ClosureService(name: "svc")
        let runner = ServiceRunner(service, observers: [recorder], signals: [])
        try await runner.start()
        try await recorder.waitUntil(timeout: .seconds(30)) { $0.contains { $0.to == .running } }
        try await runner.stop()
        #expect(recorder.expectStates(of: service, [.idle, .starting, .running, .stopping, .stopped]) == nil)
    }

    @Test func theTranscriptKeepsOneLinePerEventWhateverTheNames() throws {
        let recorder = EventRecorder()
        for (number, name) in Hostile.names.enumerated() {
            for event in Hostile.run(of: name, number: number) { recorder.record(event) }
        }
        let lines = recorder.transcript.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == recorder.events.count)
        #expect(lines.allSatisfy { !$0.hasControlCharacters })
        #expect(lines[0] == #"  1  0.000s  db\n   0.001s  API  stopping → stopped#0  idle → starting"#)
        let mismatch = try #require(recorder.expectOrder(reaching: .running, [ServiceID]()))
        #expect(!mismatch.message.hasControlCharacters)
    }

    @Test(arguments: [Duration.zero, .seconds(-1), .nanoseconds(-1)])
    func waitUntilReturnsAtOnceWhenTheConditionHoldsWhateverTheTimeout(_ timeout: Duration) async throws {
        let recorder = EventRecorder()
        recorder.record(Fixture.event(Fixture.database, .idle, .starting, at: 0))
        // The condition already holds: no timer, however short, may win (each round used to be a coin toss).
        for _ in 0..<200 {
            try await recorder.waitUntil(timeout: timeout) { !$0.isEmpty }
        }
        await #expect(throws: RecorderMismatch.self) {
            try await recorder.waitUntil(timeout: timeout) { $0.isEmpty }
        }
    }

    @Test func waitUntilWithTheLongestTimeoutWaitsForTheConditionInsteadOfCrashing() async throws {
        let recorder = EventRecorder()
        let feeder = Task {
            try await Task.sleep(for: .milliseconds(10))
            recorder.record(Fixture.event(Fixture.database, .idle, .starting, at: 0))
        }
        try await recorder.waitUntil(timeout: .seconds(Int64.max)) { !$0.isEmpty }
        try await feeder.value
        let waiting = Task { try await recorder.waitUntil(timeout: .seconds(Int64.max)) { $0.count > 1 } }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
