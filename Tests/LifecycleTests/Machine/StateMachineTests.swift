import Testing

@testable import Lifecycle

@Suite struct StateMachineTests {
    /// Waiters are plain numbers here, as tickets are on the blocking side.
    typealias Machine = StateMachine<Int>
    let id = ServiceID(name: "s", number: 1)

    @Test(arguments: ServiceState.allCases, ServiceState.allCases)
    func theTableAllowsExactlyTheDesignedTransitions(from: ServiceState, to: ServiceState) {
        let designed: Set<Transition> = [
            .init(from: .idle, to: .starting), .init(from: .starting, to: .running),
            .init(from: .starting, to: .failed), .init(from: .running, to: .stopping),
            .init(from: .stopping, to: .stopped), .init(from: .stopping, to: .failed),
            .init(from: .stopped, to: .starting), .init(from: .failed, to: .starting),
        ]
        #expect(from.canMove(to: to) == designed.contains(Transition(from: from, to: to)))
    }

    @Test func aFirstHolderStartsDependenciesThenTheService() throws {
        var machine = Machine(service: id)
        #expect(request(&machine, 0) == .startDependencies)
        #expect(machine.state == .idle)
        #expect(try machine.dependenciesStarted() == Transition(from: .idle, to: .starting))
        #expect(try machine.startReturned().0 == Transition(from: .starting, to: .running))
        #expect(machine.holders == 1)
    }

    @Test func aSecondHolderWhileStartingWaitsAndIsCounted() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        #expect(request(&machine, 1) == .waitForStart)
        _ = try machine.dependenciesStarted()
        let (_, waiters) = try machine.startReturned()
        #expect(waiters == [1], "the parked holder learns the start succeeded")
        #expect(machine.holders == 2)
        #expect(request(&machine, 0) == .countHolder)
        #expect(machine.holders == 3)
    }

    @Test func onlyTheLastReleaseStopsTheService() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        _ = request(&machine, 0)
        #expect(try machine.releaseRequested() == .keepRunning)
        #expect(try machine.releaseRequested() == .callStop(Transition(from: .running, to: .stopping)))
        #expect(try machine.stopFinished(failed: false).0 == Transition(from: .stopping, to: .stopped))
    }

    @Test func releasingAServiceThatNeverStartedIsRefusedNotCountedBelowZero() {
        var machine = Machine(service: id)
        #expect(throws: LifecycleError.illegalTransition(id, from: .idle, to: .stopping)) {
            try machine.releaseRequested()
        }
        #expect(machine.holders == 0)
    }

    @Test func aFailedStartForgetsEveryHolder() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        _ = request(&machine, 0)
        _ = try machine.dependenciesStarted()
        #expect(try machine.startFailed().0 == Transition(from: .starting, to: .failed))
        #expect(machine.holders == 0)
        #expect(machine.isForgettable)
    }

    @Test func aStartAttemptThatFailedAfterStartWasCalledIsATransition() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        _ = try machine.dependenciesStarted()
        #expect(try machine.startAttemptFailed().0 == Transition(from: .starting, to: .failed))
        #expect(machine.holders == 0)
    }

    @Test func aStartAttemptThatFailedBeforeStartWasCalledEmitsNothing() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        #expect(try machine.startAttemptFailed().0 == nil)
        #expect(machine.state == .idle)
        #expect(machine.isForgettable)
    }

    @Test func aFailedOrStoppedServiceCanStartAgain() throws {
        for state in [ServiceState.failed, .stopped] {
            var machine = Machine(service: id, state: state)
            #expect(request(&machine, 0) == .startDependencies)
            #expect(try machine.dependenciesStarted() == Transition(from: state, to: .starting))
        }
    }

    @Test func aServiceStoppingForAnotherTreeIsWaitedForNotCounted() {
        var machine = Machine(service: id, state: .stopping)
        #expect(request(&machine, 0) == .waitForStop)
        #expect(machine.holders == 0)
    }

    @Test func startingTwiceIsAnIllegalTransition() throws {
        var machine = Machine(service: id, state: .running)
        #expect(throws: LifecycleError.illegalTransition(id, from: .running, to: .starting)) {
            try machine.dependenciesStarted()
        }
    }

    @Test(arguments: ServiceState.allCases)
    func aTaskFailureFailsTreesOnlyWhileStartingOrRunning(state: ServiceState) {
        let machine = Machine(service: id, state: state)
        let expected: Machine.TaskFailedAction = state == .starting || state == .running ? .failTrees : .report
        #expect(machine.taskFailed() == expected)
    }

    // MARK: Waiters live in the machine

    @Test func aFailedStartHandsBackEveryParkedHolder() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 1)
        _ = request(&machine, 2)
        _ = request(&machine, 3)
        _ = try machine.dependenciesStarted()
        let (_, waiters) = try machine.startFailed()
        #expect(waiters == [2, 3])
        #expect(machine.holders == 0)
    }

    @Test func aParkedHolderThatLeavesIsNoLongerCounted() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 1)
        _ = request(&machine, 2)
        #expect(machine.holders == 2)
        #expect(machine.waiterLeft(token: 2) == 2)
        #expect(machine.waiterLeft(token: 2) == nil, "a waiter leaves once")
        #expect(machine.holders == 1)
        _ = try machine.dependenciesStarted()
        let (_, waiters) = try machine.startReturned()
        #expect(waiters.isEmpty)
        #expect(machine.holders == 1)
    }

    @Test func holdersOfAnotherTreeWaitForItsStopAndAreHandedBackWhenItEnds() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 1)
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        _ = try machine.releaseRequested()
        #expect(request(&machine, 7) == .waitForStop)
        #expect(machine.holders == 0)
        let (_, waiters) = try machine.stopFinished(failed: false)
        #expect(waiters == [7])
        #expect(request(&machine, 7) == .startDependencies)
    }

    @Test func noNewLifeBeginsWhileAnAbandonedStartStillRuns() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 1)
        _ = try machine.dependenciesStarted()
        _ = try machine.startFailed(earlierLifeWindsDown: true)
        #expect(!machine.isForgettable)
        #expect(request(&machine, 5) == .waitForEarlierLife)
        #expect(machine.state == .failed)
        #expect(machine.earlierLifeEnded() == [5])
        #expect(machine.isForgettable)
        #expect(request(&machine, 5) == .startDependencies)
    }

    /// DESIGN §4: a life whose task failed its trees is not joined. A new holder waits, uncounted,
    /// for the stop its last holder makes, then asks again and starts a new life; one that gives up
    /// meanwhile leaves. The state stays `running` until that stop: no transition of its own.
    @Test func aNewHolderOfAFailedLifeWaitsForItsStopAndIsNotCounted() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        _ = request(&machine, 0)  // two holders
        let marked = machine.lifeFailed()
        let markedAgain = machine.lifeFailed()
        #expect(marked && !markedAgain, "a running life is marked failed once")
        #expect(machine.state == .running && machine.holders == 2)
        #expect(machine.taskFailed() == .failTrees)
        #expect(request(&machine, 7) == .waitForStop)
        #expect(request(&machine, 8) == .waitForStop)
        #expect(machine.holders == 2)
        #expect(machine.waiterLeft(token: 8) == 8)
        #expect(try machine.releaseRequested() == .keepRunning)
        #expect(try machine.releaseRequested() == .callStop(Transition(from: .running, to: .stopping)))
        let (stopped, waiters) = try machine.stopFinished(failed: false)
        #expect(stopped == Transition(from: .stopping, to: .stopped) && waiters == [7])
        #expect(request(&machine, 7) == .startDependencies)
    }

    /// The same while it starts: the holders counted before the failure are bound to the life and
    /// learn its outcome; a holder that came later waits, uncounted, for the life to be over: its
    /// stop after a late success, or the end of its winding down after a failed start.
    @Test func aNewHolderOfAFailedStartDoesNotJoinIt() throws {
        var running = Machine(service: id)
        _ = request(&running, 0)
        _ = try running.dependenciesStarted()
        #expect(request(&running, 1) == .waitForStart)
        running.lifeFailed()
        #expect(running.state == .starting && running.isCallingStart)
        #expect(request(&running, 2) == .waitForStop)
        #expect(running.holders == 2)
        let (started, bound) = try running.startReturned()
        #expect(started == Transition(from: .starting, to: .running) && bound == [1])
        #expect(request(&running, 3) == .waitForStop)
        _ = try running.releaseRequested()
        #expect(try running.releaseRequested() == .callStop(Transition(from: .running, to: .stopping)))
        #expect(try running.stopFinished(failed: false).1 == [2, 3])

        var failed = Machine(service: id)
        _ = request(&failed, 0)
        _ = try failed.dependenciesStarted()
        failed.lifeFailed()
        #expect(request(&failed, 4) == .waitForStop)
        let (transition, waiters) = try failed.startAttemptFailed(earlierLifeWindsDown: true)
        #expect(transition == Transition(from: .starting, to: .failed) && waiters.isEmpty)
        #expect(failed.earlierLifeEnded() == [4])
        #expect(request(&failed, 4) == .startDependencies)
    }

    /// A restart of a dependency may take a failed life down (its dependents go first): the
    /// holders waiting for that life wait for the restart's stop instead.
    @Test func aRestartTakingAFailedLifeCarriesItsWaitingHolders() throws {
        var machine = Machine(service: id)
        _ = request(&machine, 0)
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        machine.lifeFailed()
        #expect(request(&machine, 4) == .waitForStop)
        #expect(machine.isRestartable)
        #expect(try machine.restartStopBegan() == Transition(from: .running, to: .stopping))
        #expect(try machine.restartStopFinished(failed: false).1 == [4])
    }

    @Test(arguments: ServiceState.allCases)
    func everyStateAnswersEveryRequestWithoutATrap(state: ServiceState) {
        // Facts that do not fit the phase are refused with an error (or change nothing), never a crash.
        var machine = Machine(service: id, state: state)
        _ = try? machine.dependenciesStarted()
        _ = try? machine.startReturned()
        _ = try? machine.startFailed()
        _ = try? machine.releaseRequested()
        _ = try? machine.stopFinished(failed: false)
        _ = machine.dependenciesFailed()
        _ = machine.earlierLifeEnded()
        _ = machine.waiterLeft(token: 99)
        #expect(ServiceState.allCases.contains(machine.state))
    }

    /// Asks for the service as the coordinator does: parks `token` when the answer is to wait.
    private func request(_ machine: inout Machine, _ token: Int) -> Machine.AcquireAction {
        let action = machine.acquireRequested()
        switch action {
        case .countHolder, .startDependencies: break
        case .waitForStart, .waitForStop, .waitForEarlierLife: machine.park(token: token, waiter: token)
        }
        return action
    }
}
