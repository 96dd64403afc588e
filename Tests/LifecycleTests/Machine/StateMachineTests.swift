import Testing

@testable import Lifecycle

@Suite struct StateMachineTests {
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
        var machine = StateMachine(service: id)
        #expect(machine.acquireRequested() == .startDependencies)
        #expect(machine.state == .idle)
        #expect(try machine.dependenciesStarted() == Transition(from: .idle, to: .starting))
        #expect(try machine.startReturned() == Transition(from: .starting, to: .running))
        #expect(machine.holders == 1)
    }

    @Test func aSecondHolderWhileStartingWaitsAndIsCounted() throws {
        var machine = StateMachine(service: id)
        _ = machine.acquireRequested()
        #expect(machine.acquireRequested() == .waitForStart)
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        #expect(machine.holders == 2)
        #expect(machine.acquireRequested() == .countHolder)
        #expect(machine.holders == 3)
    }

    @Test func onlyTheLastReleaseStopsTheService() throws {
        var machine = StateMachine(service: id)
        _ = machine.acquireRequested()
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        _ = machine.acquireRequested()
        #expect(try machine.releaseRequested() == .keepRunning)
        #expect(try machine.releaseRequested() == .callStop(Transition(from: .running, to: .stopping)))
        #expect(try machine.stopFinished(failed: false) == Transition(from: .stopping, to: .stopped))
    }

    @Test func releasingAServiceThatNeverStartedIsRefusedNotCountedBelowZero() {
        var machine = StateMachine(service: id)
        #expect(throws: LifecycleError.illegalTransition(id, from: .idle, to: .stopping)) {
            try machine.releaseRequested()
        }
        #expect(machine.holders == 0)
    }

    @Test func aFailedStartForgetsEveryHolder() throws {
        var machine = StateMachine(service: id)
        _ = machine.acquireRequested()
        _ = machine.acquireRequested()
        _ = try machine.dependenciesStarted()
        #expect(try machine.startFailed() == Transition(from: .starting, to: .failed))
        #expect(machine.holders == 0)
        #expect(!machine.isAcquiring)
    }

    @Test func aStartAttemptThatFailedAfterStartWasCalledIsATransition() throws {
        var machine = StateMachine(service: id)
        _ = machine.acquireRequested()
        _ = try machine.dependenciesStarted()
        #expect(try machine.startAttemptFailed() == Transition(from: .starting, to: .failed))
        #expect(machine.holders == 0)
    }

    @Test func aStartAttemptThatFailedBeforeStartWasCalledEmitsNothing() throws {
        var machine = StateMachine(service: id)
        _ = machine.acquireRequested()
        #expect(try machine.startAttemptFailed() == nil)
        #expect(machine.state == .idle)
        #expect(!machine.isAcquiring)
    }

    @Test func aFailedOrStoppedServiceCanStartAgain() throws {
        for state in [ServiceState.failed, .stopped] {
            var machine = StateMachine(service: id, state: state)
            #expect(machine.acquireRequested() == .startDependencies)
            #expect(try machine.dependenciesStarted() == Transition(from: state, to: .starting))
        }
    }

    @Test func aServiceStoppingForAnotherTreeIsWaitedForNotCounted() {
        var machine = StateMachine(service: id, state: .stopping)
        #expect(machine.acquireRequested() == .waitForStop)
        #expect(machine.holders == 0)
    }

    @Test func startingTwiceIsAnIllegalTransition() throws {
        var machine = StateMachine(service: id, state: .running)
        #expect(throws: LifecycleError.illegalTransition(id, from: .running, to: .starting)) {
            try machine.dependenciesStarted()
        }
    }

    @Test(arguments: ServiceState.allCases)
    func aTaskFailureFailsTreesOnlyWhileStartingOrRunning(state: ServiceState) {
        let machine = StateMachine(service: id, state: state)
        let expected: StateMachine.TaskFailedAction = state == .starting || state == .running ? .failTrees : .report
        #expect(machine.taskFailed() == expected)
    }
}
