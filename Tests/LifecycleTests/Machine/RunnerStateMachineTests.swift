import Testing

@testable import Lifecycle

/// ``RunnerStateMachine`` fed facts directly: no task, no clock, every phase × every input.
@Suite struct RunnerStateMachineTests {
    typealias Phase = RunnerStateMachine.Phase
    static let root = ServiceID(name: "root", number: 1)
    static let phases: [Phase] = [.idle, .starting, .running, .stopping, .stopped]

    /// A machine driven into `phase` the way a runner gets there, with no stop requested unless the
    /// phase needs one.
    static func machine(in phase: Phase) -> RunnerStateMachine {
        var machine = RunnerStateMachine(root: root)
        switch phase {
        case .idle:
            break
        case .starting:
            _ = try! machine.startCalled()
        case .running:
            _ = try! machine.startCalled()
            machine.startSucceeded()
        case .stopping:
            _ = try! machine.startCalled()
            machine.startSucceeded()
            _ = try! machine.stopCalled()
            _ = machine.stopTaskBegan()
        case .stopped:
            _ = try! machine.startCalled()
            machine.startSucceeded()
            _ = try! machine.stopCalled()
            _ = machine.stopTaskBegan()
            machine.stopTaskEnded()
        }
        #expect(machine.phase == phase)
        return machine
    }

    // MARK: start

    @Test(arguments: phases) func startIsAcceptedOnlyWhenIdle(phase: Phase) throws {
        var machine = Self.machine(in: phase)
        let outcome = Result { () throws(LifecycleError) in try machine.startCalled() }
        if phase == .idle {
            let startsCancelled = try outcome.get()
            #expect(!startsCancelled)
            #expect(machine.phase == .starting)
        } else {
            #expect(throws: LifecycleError.alreadyStarted(Self.root)) { try outcome.get() }
        }
    }

    @Test func aStopRequestedBeforeStartMakesTheStartBeginCancelled() throws {
        var machine = RunnerStateMachine(root: Self.root)
        let request = machine.stopRequested(.requested)
        #expect(request != nil)
        let startsCancelled = try machine.startCalled()
        #expect(startsCancelled)
    }

    @Test func aFailedStartWakesItsWaitersWithTheError() {
        var machine = Self.machine(in: .starting)
        let parked = machine.waitCalled(7)
        #expect(isPark(parked))
        let (wakes, result) = machine.startFailed(ProbeError(name: "db"))
        #expect(wakes == [7])
        #expect(thrown(result) == ProbeError(name: "db"))
        #expect(machine.phase == .stopped)
        // A later wait learns the same error.
        let later = machine.waitCalled(8)
        #expect(thrown(resumed(later)) == ProbeError(name: "db"))
    }

    @Test func aStartCancelledByAStopRequestIsNotAFailure() {
        var machine = Self.machine(in: .starting)
        _ = machine.stopRequested(.requested)
        _ = machine.startFailed(CancellationError())
        #expect(machine.startFailure == nil)
        let wait = machine.waitCalled(1)
        #expect(isReturned(resumed(wait)))
        #expect(machine.isCleanStop)
    }

    // MARK: stop

    @Test(arguments: phases) func stopIsRefusedOnlyWhenIdleAndThenChangesNothing(phase: Phase) throws {
        var machine = Self.machine(in: phase)
        if phase == .idle {
            let refused = Result { () throws(LifecycleError) in try machine.stopCalled() }
            #expect(throws: LifecycleError.notStarted(Self.root)) { try refused.get() }
            #expect(machine.stopCause == nil)
            #expect(machine.hasStopTask == false)
            let startsCancelled = try machine.startCalled()
            #expect(!startsCancelled, "the refused stop left no request behind")
            return
        }
        let hadTask = machine.hasStopTask
        let (request, task) = try machine.stopCalled()
        #expect((request != nil) == (phase == .starting || phase == .running))
        #expect(task == (hadTask ? .join : .create(cancelled: false)))
        // A second call joins the same stop and requests nothing.
        let (again, second) = try machine.stopCalled()
        #expect(again == nil)
        #expect(second == .join)
    }

    @Test(arguments: phases) func theFirstCauseWinsAndTheFailureIsKept(phase: Phase) {
        var machine = Self.machine(in: phase)
        let hadCause = machine.stopCause != nil
        let first = machine.stopRequested(.signal(15))
        #expect((first != nil) == !hadCause)
        #expect(first == nil || first?.cancelsStart == (phase == .starting))
        let second = machine.stopRequested(.failure, failure: ProbeError(name: "task"))
        #expect(second == nil)
        #expect(machine.failure as? ProbeError == ProbeError(name: "task"))
        #expect(!machine.isCleanStop)
    }

    @Test(arguments: phases) func theStopTaskStopsOnlyARunningTree(phase: Phase) {
        var machine = Self.machine(in: phase)
        let stops = machine.stopTaskBegan()
        #expect(stops == (phase == .running))
    }

    @Test func anEscalationBeforeTheStopTaskMakesItBeginCancelled() throws {
        var machine = Self.machine(in: .running)
        let first = machine.escalated()
        let second = machine.escalated()
        #expect(first)
        #expect(!second, "only the first escalation is first")
        let task = try machine.stopCalled().task
        #expect(task == .create(cancelled: true))
    }

    // MARK: signals

    @Test(arguments: phases) func aFirstSignalStopsAndALaterOneEscalates(phase: Phase) {
        var machine = Self.machine(in: phase)
        let hadCause = machine.stopCause != nil
        switch machine.signalArrived(2) {
        case .stop(let begun):
            #expect(!hadCause)
            #expect(begun.cause == .signal(2))
        case .escalate(let isFirst):
            #expect(hadCause)
            #expect(isFirst)
        }
        // The next signal escalates; it is the first escalation only when the first signal stopped.
        let next = machine.signalArrived(2)
        guard case .escalate(let isFirst) = next else {
            Issue.record("a signal while stopping must escalate")
            return
        }
        #expect(isFirst == !hadCause)
    }

    // MARK: waiting

    @Test(arguments: phases) func waitParksOnlyWhileNothingEndedIt(phase: Phase) {
        var machine = Self.machine(in: phase)
        let action = machine.waitCalled(1)
        switch phase {
        case .idle:
            #expect(thrown(resumed(action)) == nil && resumedError(action) is LifecycleError)
        case .starting, .running:
            #expect(isPark(action))
        case .stopping, .stopped:
            #expect(isReturned(resumed(action)))
        }
    }

    @Test func aStopRequestWakesEveryParkedWaiterWithItsResult() {
        var machine = Self.machine(in: .running)
        let one = machine.waitCalled(1)
        let two = machine.waitCalled(2)
        #expect(isPark(one) && isPark(two))
        let begun = machine.stopRequested(.failure, failure: ProbeError(name: "task"))
        #expect(begun?.wakes == [1, 2])
        #expect(begun.map { thrown($0.result) } == ProbeError(name: "task"))
    }

    @Test func aCancelledWaiterLeavesOrThrowsWhenItArrives() {
        var machine = Self.machine(in: .running)
        let parked = machine.waitCalled(1)
        #expect(isPark(parked))
        let resumesNow = machine.waitCancelled(1)
        #expect(resumesNow, "a parked waiter is resumed with the cancellation")
        let begun = machine.stopRequested(.requested)
        #expect(begun?.wakes == [])
        // Cancelled before it parked: its wait throws at once.
        let early = machine.waitCancelled(9)
        #expect(!early)
        let late = machine.waitCalled(9)
        #expect(resumedError(late) is CancellationError)
    }

    // MARK: outcomes

    @Test func runThrowsTheWaitErrorThenAStopErrorThenALateFailure() {
        var machine = Self.machine(in: .running)
        #expect(machine.runOutcome(waitError: nil, stopErrors: []) == nil)
        _ = machine.stopRequested(.requested)
        _ = machine.stopRequested(.failure, failure: ProbeError(name: "late"))
        #expect(machine.runOutcome(waitError: nil, stopErrors: []) as? ProbeError == ProbeError(name: "late"))
        #expect(
            machine.runOutcome(waitError: nil, stopErrors: [ProbeError(name: "stop")]) as? ProbeError
                == ProbeError(name: "stop"))
        #expect(
            machine.runOutcome(waitError: ProbeError(name: "wait"), stopErrors: [ProbeError(name: "stop")])
                as? ProbeError == ProbeError(name: "wait"))
    }

    @Test func afterAnEscalationAStopsCancellationIsNotAFailure() {
        var machine = Self.machine(in: .running)
        _ = machine.stopRequested(.signal(2))
        _ = machine.escalated()
        #expect(machine.runOutcome(waitError: nil, stopErrors: [CancellationError()]) == nil)
        #expect(machine.isCleanStop)
    }

    // MARK: Reading actions

    private func isPark(_ action: RunnerStateMachine.WaitAction) -> Bool {
        if case .park = action { return true }
        return false
    }

    private func resumed(_ action: RunnerStateMachine.WaitAction) -> RunnerStateMachine.WaitResult? {
        if case .resume(let result) = action { return result }
        return nil
    }

    private func resumedError(_ action: RunnerStateMachine.WaitAction) -> (any Error)? {
        if case .resume(.threw(let error)) = action { return error }
        return nil
    }

    private func isReturned(_ result: RunnerStateMachine.WaitResult?) -> Bool {
        if case .returned = result { return true }
        return false
    }

    private func thrown(_ result: RunnerStateMachine.WaitResult?) -> ProbeError? {
        if case .threw(let error) = result { return error as? ProbeError }
        return nil
    }
}
