import Testing

@testable import Lifecycle

/// The checks of adversarial use can fail: each is fed a transcript that breaks it.
@Suite struct InvariantCheckTests {
    /// One healthy service `s0`, no dependencies.
    static let facts = TreeFacts(faults: [Faults()], edges: [], timeBound: .seconds(10), cancels: false)
    static let root = ServiceID(name: "s0", number: 1_000_001)

    static func check(
        _ calls: FaultRecorder, events: [LifecycleEvent] = [], driving: TreeDriving = TreeDriving(stopAfter: .zero),
        outcome: Result<Void, any Error> = .success(())
    ) -> [String] {
        var tree = DrivenTree(driving: driving, rootIndex: 0, rootID: root)
        tree.outcome = outcome
        tree.events = events
        tree.eventsFinished = true
        let driven = DrivenFacts(trees: [tree], driver: calls.driver, owner: [0], settled: true)
        return InvariantCheck(
            trees: facts, calls: calls.all, events: [events], outcomes: [outcome], elapsed: .zero, driven: driven
        ).violations
    }

    /// The calls of one life of `s0`: a start that returned, then its stop.
    static func oneLifeStartedAndStopped() -> FaultRecorder {
        let calls = FaultRecorder()
        calls.record(0, .startCalled, life: 1)
        calls.record(0, .startReturned, life: 1)
        calls.record(0, .stopCalled, life: 1)
        calls.record(0, .stopReturned, life: 1)
        return calls
    }

    @Test func aTaskOfAFailedStartStillRunningWhenTheNextStartBegins() {
        let calls = FaultRecorder()
        calls.record(0, .startCalled, life: 1)
        calls.record(0, .taskAdded, life: 1, task: 1)
        calls.record(0, .startThrew, life: 1)
        calls.record(0, .startCalled, life: 2)
        calls.record(0, .startReturned, life: 2)
        calls.record(0, .taskCancelled, life: 1, task: 1)
        calls.record(0, .stopCalled, life: 2)
        calls.record(0, .stopReturned, life: 2)
        #expect(Self.check(calls).contains { $0.hasPrefix("[task outlived its life]") })
    }

    @Test func aTaskCancelledWhileItsStartRuns() {
        let calls = FaultRecorder()
        calls.record(0, .startCalled, life: 1)
        calls.record(0, .taskAdded, life: 1, task: 1)
        calls.record(0, .startReturned, life: 1)
        calls.record(0, .taskCancelled, life: 1, task: 1)
        calls.record(0, .stopCalled, life: 1)
        calls.record(0, .stopReturned, life: 1)
        #expect(Self.check(calls).contains { $0.hasPrefix("[task cancelled while its service ran]") })
    }

    @Test func aWaitThatReturnsThoughNobodyAskedForAStop() {
        let calls = FaultRecorder()
        calls.record(tree: 0, .waitCalled(5))
        calls.record(tree: 0, .waitEnded(5, failure: nil))
        #expect(Self.check(calls).contains { $0.hasPrefix("[wait returned with no stop]") })
    }

    @Test func aWaiterThatNeverReturns() {
        let calls = FaultRecorder()
        calls.record(tree: 0, .waitCalled(5))
        #expect(Self.check(calls).contains { $0.hasPrefix("[waiter hung]") })
    }

    @Test func aStopTransitionBeforeItsCause() {
        let calls = Self.oneLifeStartedAndStopped()
        let events = [
            LifecycleEvent(service: Self.root, from: .idle, to: .starting, time: .zero),
            LifecycleEvent(service: Self.root, from: .starting, to: .running, time: .zero),
            LifecycleEvent(service: Self.root, from: .running, to: .stopping, time: .zero),
            .stopRequested(.requested, root: Self.root, state: .stopping, time: .zero),
            LifecycleEvent(service: Self.root, from: .stopping, to: .stopped, time: .zero),
        ]
        #expect(Self.check(calls, events: events).contains { $0.hasPrefix("[cause after stop]") })
    }

    @Test func aRefusedStopThatRequestedAStop() {
        let calls = FaultRecorder()
        var driving = TreeDriving(stopAfter: .zero)
        driving.refusesFirst = true
        let events = [
            .stopRequested(.requested, root: Self.root, state: .idle, time: .zero), LifecycleEvent.driverMarker(),
        ]
        #expect(Self.check(calls, events: events, driving: driving).contains { $0.hasPrefix("[refused call]") })
    }

    @Test func aTaskFailureOfAnEarlierStart() {
        let calls = FaultRecorder()
        calls.record(0, .startCalled, life: 1)
        calls.record(0, .taskAdded, life: 1, task: 1)
        calls.record(0, .startThrew, life: 1)
        calls.record(0, .startCalled, life: 2)
        calls.record(0, .startReturned, life: 2)
        calls.record(0, .taskThrew, life: 1, task: 1)
        calls.record(0, .stopCalled, life: 2)
        calls.record(0, .stopReturned, life: 2)
        let failure = InjectedFault(index: 0, kind: .task, life: 1)
        #expect(Self.check(calls, outcome: .failure(failure)).contains { $0.hasPrefix("[earlier life]") })
    }

    @Test func aRunThatLosesATaskFailure() {
        let calls = FaultRecorder()
        let failed = LifecycleEvent(
            service: Self.root, from: .running, to: .running, error: InjectedFault(index: 0, kind: .task, life: 1),
            time: .zero, kind: .taskFailed)
        #expect(Self.check(calls, events: [failed]).contains { $0.hasPrefix("[task failure lost]") })
    }

    /// The events of a tree whose root's second life (begun by a restart) has a task that throws
    /// before its `start()` returned; `afterARestart` puts the restart that began that life before it.
    /// That start returns (`startThrows: false`) or is let go by the tree's stop, its task failing as
    /// it winds down (`startThrows: true`, fault injection seed 11930).
    static func taskFailureDuringARestartsStart(afterARestart: Bool, startThrows: Bool = false) -> [LifecycleEvent] {
        func move(_ from: ServiceState, _ to: ServiceState) -> LifecycleEvent {
            LifecycleEvent(service: root, from: from, to: to, time: .zero)
        }
        func failed(_ state: ServiceState, life: Int) -> LifecycleEvent {
            LifecycleEvent(
                service: root, from: state, to: state, error: InjectedFault(index: 0, kind: .task, life: life),
                time: .zero, kind: .taskFailed)
        }
        let restart = LifecycleEvent(
            service: root, from: .running, to: .running, time: .zero,
            kind: .restartScheduled(attempt: 1, delay: .zero))
        var events = [move(.idle, .starting), move(.starting, .running)]
        if afterARestart {
            events += [failed(.running, life: 1), restart, move(.running, .stopping), move(.stopping, .stopped)]
            events.append(move(.stopped, .starting))
        } else {
            events += [move(.running, .stopping), move(.stopping, .stopped), move(.stopped, .starting)]
        }
        // The start in flight is the one the earlier restart began; its task fails meanwhile.
        if startThrows {
            events.append(.stopRequested(.requested, root: root, state: .starting, time: .zero))
            events += [failed(.starting, life: 2), move(.starting, .failed)]
            return events
        }
        events += [failed(.starting, life: 2), move(.starting, .running)]
        events += [
            .stopRequested(.requested, root: root, state: .running, time: .zero), move(.running, .stopping),
            move(.stopping, .stopped),
        ]
        return events
    }

    @Test func aTaskFailingWhileARestartsFailedStartWindsDownIsOnlyReported() {
        let events = Self.taskFailureDuringARestartsStart(afterARestart: true, startThrows: true)
        #expect(!Self.check(FaultRecorder(), events: events).contains { $0.hasPrefix("[task failure lost]") })
    }

    @Test func aTaskFailingWhileAFirstStartIsInFlightIsLostIfTheRunReturns() {
        let events = Self.taskFailureDuringARestartsStart(afterARestart: false, startThrows: true)
        #expect(Self.check(FaultRecorder(), events: events).contains { $0.hasPrefix("[task failure lost]") })
    }

    @Test func aTaskFailingWhileARestartStartsItsServiceJoinsTheRestartThatStopsItOnceStarted() {
        let events = Self.taskFailureDuringARestartsStart(afterARestart: true)
        #expect(!Self.check(FaultRecorder(), events: events).contains { $0.hasPrefix("[task failure lost]") })
    }

    @Test func aTaskFailingWhileItsServiceStartsInATreeWithNoRestartIsLost() {
        let events = Self.taskFailureDuringARestartsStart(afterARestart: false)
        #expect(Self.check(FaultRecorder(), events: events).contains { $0.hasPrefix("[task failure lost]") })
    }

    /// A start of `s0` that failed with `error`, then returned late and was stopped (no events).
    static func lateStart(failedWith error: any Error) -> [String] {
        let calls = Self.oneLifeStartedAndStopped()
        let events = [
            LifecycleEvent(service: root, from: .idle, to: .starting, time: .zero),
            LifecycleEvent(service: root, from: .starting, to: .failed, error: error, time: .zero),
        ]
        return check(calls, events: events, outcome: .failure(error)).filter { $0.hasPrefix("s0: 0 events to") }
    }

    /// Fault injection seed 72637: on a loaded machine a healthy start cancelled by a stop may be
    /// abandoned after its grace and return later; its late stop emits no events.
    @Test func aLateReturnOfAnAbandonedOrTimedOutStartNeedsNoEvents() {
        #expect(Self.lateStart(failedWith: LifecycleError.startAbandoned(Self.root)) == [])
        #expect(Self.lateStart(failedWith: LifecycleError.startTimedOut(Self.root, after: .seconds(1))) == [])
    }

    @Test func aStartThatFailedOtherwiseYetWasStoppedMissesItsEvents() {
        #expect(Self.lateStart(failedWith: Boom(name: "start")).count == 2)  // `→ running` and `→ stopping`
    }
}
