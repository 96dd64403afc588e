import LifecycleTesting
import Testing

/// The checker catches each violation it claims to catch: every rule is fed a hand-made
/// transcript that breaks it, and only it.
@Suite struct InvariantCheckerRuleTests {
    /// api → db, both probes (so the checker knows their scripts and the edge).
    static let log = ProbeLog()
    static let database = ProbeService("db", log: log)
    static let api = ProbeService("api", log: log, dependencies: [database], task: .untilCancelled)
    static let checker = InvariantChecker(root: api)
    static var db: ServiceID { database.serviceID }
    static var top: ServiceID { api.serviceID }

    static func event(_ service: ServiceID, _ from: ServiceState, _ to: ServiceState) -> LifecycleEvent {
        LifecycleEvent(service: service, from: from, to: to, time: .zero)
    }

    /// Hand-made calls, numbered in the order given.
    static func calls(_ steps: [(ServiceID, Int, ProbeCall.Phase, ProbeCall.Kind)]) -> [ProbeCall] {
        steps.enumerated().map { index, step in
            ProbeCall(sequence: index, service: step.0, life: step.1, phase: step.2, kind: step.3)
        }
    }

    /// A clean run of the tree, as events.
    static var goodEvents: [LifecycleEvent] {
        [
            event(db, .idle, .starting), event(db, .starting, .running), event(top, .idle, .starting),
            event(top, .starting, .running), event(top, .running, .stopping), event(top, .stopping, .stopped),
            event(db, .running, .stopping), event(db, .stopping, .stopped),
        ]
    }

    /// A clean run of the tree, as calls.
    static var goodCalls: [ProbeCall] {
        calls([
            (db, 1, .start, .began), (db, 1, .start, .returned), (top, 1, .start, .began), (top, 1, .start, .returned),
            (top, 1, .task, .began), (top, 1, .stop, .began), (top, 1, .stop, .returned),
            (top, 1, .task, .threw(cancelled: true)), (db, 1, .stop, .began), (db, 1, .stop, .returned),
        ])
    }

    @Test func aCleanRunHasNoViolation() {
        #expect(Self.checker.check(Self.goodEvents, calls: Self.goodCalls) == nil)
    }

    /// For each rule, a transcript that breaks that rule alone.
    static let badRuns: [(InvariantViolation.Rule, [LifecycleEvent], [ProbeCall])] = [
        (
            .legalTransition,
            [event(db, .idle, .running), event(db, .running, .stopping), event(db, .stopping, .stopped)], []
        ),
        (
            .continuousStates,
            [event(db, .idle, .starting), event(db, .starting, .running), event(db, .stopping, .stopped)], []
        ),
        (
            .dependenciesRunFirst,
            [
                event(db, .idle, .starting), event(top, .idle, .starting), event(db, .starting, .running),
                event(top, .starting, .running), event(top, .running, .stopping), event(top, .stopping, .stopped),
                event(db, .running, .stopping), event(db, .stopping, .stopped),
            ], []
        ),
        (
            .dependentsStopFirst,
            [
                event(db, .idle, .starting), event(db, .starting, .running), event(top, .idle, .starting),
                event(top, .starting, .running), event(db, .running, .stopping), event(top, .running, .stopping),
                event(top, .stopping, .stopped), event(db, .stopping, .stopped),
            ], []
        ),
        (.stoppedAtTheEnd, [event(db, .idle, .starting), event(db, .starting, .running)], []),
        (
            .oneStopPerStart, [],
            calls([
                (db, 1, .start, .began), (db, 1, .start, .returned), (db, 1, .stop, .began), (db, 1, .stop, .returned),
                (db, 1, .stop, .began), (db, 1, .stop, .returned),
            ])
        ),
        (
            .noStopWithoutStart, [],
            calls([
                (db, 1, .start, .began), (db, 1, .start, .threw(cancelled: false)), (db, 1, .stop, .began),
                (db, 1, .stop, .returned),
            ])
        ),
        (
            .oneLifeAtATime, [],
            calls([
                (db, 1, .start, .began), (db, 1, .start, .returned), (db, 2, .start, .began),
                (db, 2, .start, .returned),
                (db, 2, .stop, .began), (db, 2, .stop, .returned),
            ])
        ),
        (
            .tasksEndBeforeDependenciesStop, [],
            calls([
                (db, 1, .start, .began), (db, 1, .start, .returned), (top, 1, .start, .began),
                (top, 1, .start, .returned), (top, 1, .task, .began), (top, 1, .stop, .began),
                (top, 1, .stop, .returned), (db, 1, .stop, .began), (db, 1, .stop, .returned),
                (top, 1, .task, .threw(cancelled: true)),
            ])
        ),
        (
            .tasksCancelledAfterStop, [],
            calls([
                (top, 1, .start, .began), (top, 1, .start, .returned), (top, 1, .task, .began),
                (top, 1, .task, .threw(cancelled: true)), (top, 1, .stop, .began), (top, 1, .stop, .returned),
            ])
        ),
        (
            .callsVisibleAsEvents,
            [
                event(db, .idle, .starting), event(db, .starting, .running), event(db, .running, .stopping),
                event(db, .stopping, .stopped),
            ],
            calls([
                (db, 1, .start, .began), (db, 1, .start, .returned), (db, 1, .stop, .began), (db, 1, .stop, .returned),
                (db, 2, .start, .began), (db, 2, .start, .returned), (db, 2, .stop, .began), (db, 2, .stop, .returned),
            ])
        ),
    ]

    @Test func everyRuleHasABadRun() {
        #expect(Set(Self.badRuns.map(\.0)) == Set(InvariantViolation.Rule.allCases))
    }

    @Test(arguments: Self.badRuns.indices)
    func eachBadRunBreaksItsRuleAndOnlyIt(_ index: Int) throws {
        let (rule, events, calls) = Self.badRuns[index]
        let failure = try #require(Self.checker.check(events, calls: calls))
        #expect(failure.rules == [rule], "\(failure)")
        #expect(failure.violations.allSatisfy { !$0.message.isEmpty })
        // verify() throws the same failure.
        #expect(throws: InvariantFailure.self) {
            let log = ProbeLog()
            for call in calls { log.record(call.service, life: call.life, call.phase, call.kind) }
            try Self.checker.verify(events, log: log)
        }
    }

    @Test func theOrderOfTheRealCallsIsCheckedToo() throws {
        let stoppedEarly = Self.calls([
            (Self.db, 1, .start, .began), (Self.db, 1, .start, .returned), (Self.top, 1, .start, .began),
            (Self.top, 1, .start, .returned), (Self.db, 1, .stop, .began), (Self.db, 1, .stop, .returned),
            (Self.top, 1, .stop, .began), (Self.top, 1, .stop, .returned),
        ])
        let failure = try #require(Self.checker.check([], calls: stoppedEarly))
        #expect(failure.rules == [.dependentsStopFirst])
        #expect(failure.violations.first?.message.contains("while its dependent api") == true)
        let early = Self.calls([
            (Self.db, 1, .start, .began), (Self.top, 1, .start, .began), (Self.db, 1, .start, .returned),
            (Self.top, 1, .start, .returned), (Self.top, 1, .stop, .began), (Self.top, 1, .stop, .returned),
            (Self.db, 1, .stop, .began), (Self.db, 1, .stop, .returned),
        ])
        #expect(Self.checker.check([], calls: early)?.rules == [.dependenciesRunFirst])
    }

    @Test func workTheLifecycleMayAbandonIsExempt() {
        let log = ProbeLog()
        let database = ProbeService("db", log: log)
        let hungStop = ProbeService("api", log: log, dependencies: [database], stop: .hang, task: .hang)
        let (db, api) = (database.serviceID, hungStop.serviceID)
        // api's stop hangs and is abandoned, its task too: db stops while both are still inside api.
        let calls = Self.calls([
            (db, 1, .start, .began), (db, 1, .start, .returned), (api, 1, .start, .began), (api, 1, .start, .returned),
            (api, 1, .task, .began), (api, 1, .stop, .began), (db, 1, .stop, .began), (db, 1, .stop, .returned),
        ])
        #expect(InvariantChecker(root: hungStop).check([], calls: calls) == nil)
        // The same calls with probes that do not hang break two rules.
        #expect(
            Self.checker.check(
                [], calls: Self.calls(calls.map { ($0.service == db ? Self.db : Self.top, $0.life, $0.phase, $0.kind) })
            )?
            .rules == [.dependentsStopFirst, .tasksEndBeforeDependenciesStop])
    }

    @Test func theTasksOfAnAbandonedStopMayStillBeEndingWhenTheDependenciesStop() {
        let log = ProbeLog()
        let database = ProbeService("db", log: log)
        let hungStop = ProbeService("api", log: log, dependencies: [database], stop: .hang, task: .untilCancelled)
        let (db, api) = (database.serviceID, hungStop.serviceID)
        let calls = Self.calls([
            (db, 1, .start, .began), (db, 1, .start, .returned), (api, 1, .start, .began), (api, 1, .start, .returned),
            (api, 1, .task, .began), (api, 1, .stop, .began), (db, 1, .stop, .began),
            (api, 1, .task, .threw(cancelled: true)), (db, 1, .stop, .returned),
        ])
        #expect(InvariantChecker(root: hungStop).check([], calls: calls) == nil)
    }

    @Test func theFailureDescriptionHoldsTheWholeTranscript() throws {
        let hostile = ServiceID(name: "evil\n  - [legalTransition] forged", number: 4242)
        var events = Self.goodEvents
        events.append(Self.event(hostile, .idle, .stopped))
        let failure = try #require(Self.checker.check(events, calls: Self.goodCalls))
        let text = failure.description
        #expect(text.hasPrefix("1 lifecycle invariant violation:\n  - [legalTransition] "))
        #expect(text.contains(#"evil\n  - [legalTransition] forged#4242 moved idle → stopped (event 8)"#))
        // Every event and every call, one line each.
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1 + 1 + 1 + events.count + 1 + Self.goodCalls.count)
        #expect(text.contains("  0  0.000s  db#\(Self.db.number)  idle → starting"))
        #expect(text.contains("#9 db stop returned (life 1)"))
    }

    @Test func aTreeWithACycleOrASharedServiceIsReadOnce() {
        let log = ProbeLog()
        let shared = ProbeService("shared", log: log)
        let left = ProbeService("left", log: log, dependencies: [shared])
        let right = ProbeService("right", log: log, dependencies: [shared])
        let top = ProbeService("top", log: log, dependencies: [left, Parallel(right, shared)])
        let checker = InvariantChecker(roots: [top, left])
        // shared stops while right, one of its dependents, still runs.
        let events = [
            Self.event(shared.serviceID, .idle, .starting), Self.event(shared.serviceID, .starting, .running),
            Self.event(right.serviceID, .idle, .starting), Self.event(right.serviceID, .starting, .running),
            Self.event(shared.serviceID, .running, .stopping), Self.event(shared.serviceID, .stopping, .stopped),
            Self.event(right.serviceID, .running, .stopping), Self.event(right.serviceID, .stopping, .stopped),
        ]
        #expect(checker.check(events, calls: [])?.rules == [.dependentsStopFirst])
        // A cycle: the checker is made (the runner would refuse the tree) without looping.
        let first = CycleProbe("first")
        let second = CycleProbe("second")
        first.next = second
        second.next = first
        #expect(InvariantChecker(root: first).check([], calls: []) == nil)
    }

    @Test func aCheckerWithoutATreeStillChecksTransitionsAndCalls() {
        let checker = InvariantChecker()
        #expect(checker.check(Self.badRuns[0].1, calls: [])?.rules == [.legalTransition])
        // Without the tree, no edge: the order rules cannot fire.
        #expect(checker.check(Self.badRuns[3].1, calls: []) == nil)
    }
}

/// A service whose dependency is set after it is made, to close a cycle.
final class CycleProbe: Service {
    let name: String
    private let link = Locked<CycleProbe?>(nil)
    init(_ name: String) { self.name = name }
    var next: CycleProbe? {
        get { link.withLock { $0 } }
        set { link.withLock { $0 = newValue } }
    }
    var dependencies: Dependencies { next.map { [$0] } ?? [] }
}
