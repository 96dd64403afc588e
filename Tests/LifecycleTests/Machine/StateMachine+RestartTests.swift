import Testing

@testable import Lifecycle

/// The restarting life of one service (DESIGN §10): holders stay counted through stop and start.
@Suite struct StateMachineRestartTests {
    typealias Machine = StateMachine<Int>
    let id = ServiceID(name: "s", number: 1)

    /// A machine running for `holders` holders.
    private func running(holders: Int) throws -> Machine {
        var machine = Machine(service: id)
        _ = machine.acquireRequested()
        _ = try machine.dependenciesStarted()
        _ = try machine.startReturned()
        for _ in 1..<holders { #expect(machine.acquireRequested() == .countHolder) }
        return machine
    }

    @Test func aRestartStopsAndStartsTheServiceKeepingItsHolders() throws {
        var machine = try running(holders: 2)
        #expect(machine.isRestartable)
        #expect(try machine.restartStopBegan() == Transition(from: .running, to: .stopping))
        #expect(machine.isRestarting && machine.holders == 2)
        #expect(try machine.restartStopFinished(failed: false).0 == Transition(from: .stopping, to: .stopped))
        #expect(try machine.restartStartBegan() == Transition(from: .stopped, to: .starting))
        #expect(try machine.restartStartReturned().0 == Transition(from: .starting, to: .running))
        #expect(machine.holders == 2 && !machine.isRestarting)
    }

    @Test func aFailedRestartStartStaysHeldAndMayBeTriedAgain() throws {
        var machine = try running(holders: 1)
        _ = try machine.restartStopBegan()
        _ = try machine.restartStopFinished(failed: true)
        #expect(machine.state == .failed)
        _ = try machine.restartStartBegan()
        #expect(try machine.restartStartFailed().0 == Transition(from: .starting, to: .failed))
        #expect(machine.isRestarting && machine.holders == 1)
        #expect(try machine.restartStartBegan() == Transition(from: .failed, to: .starting))
    }

    @Test func newHoldersWaitUncountedAndAreWokenAtEachStep() throws {
        var machine = try running(holders: 1)
        _ = try machine.restartStopBegan()
        #expect(machine.acquireRequested() == .waitForStop)
        machine.park(token: 7, waiter: 7)
        #expect(machine.holders == 1)
        #expect(try machine.restartStopFinished(failed: false).1 == [7])
        #expect(machine.acquireRequested() == .waitForStop)
        machine.park(token: 8, waiter: 8)
        #expect(machine.waiterLeft(token: 8) == 8)
        machine.park(token: 9, waiter: 9)
        _ = try machine.restartStartBegan()
        #expect(try machine.restartStartReturned().1 == [9])
        #expect(machine.acquireRequested() == .countHolder)
    }

    @Test func releasingWhileARestartCallIsInFlightWaits() throws {
        var machine = try running(holders: 1)
        _ = try machine.restartStopBegan()
        #expect(try machine.releaseRequested() == .waitForRestartStep)
        _ = try machine.restartStopFinished(failed: false)
        _ = try machine.restartStartBegan()
        #expect(try machine.releaseRequested() == .waitForRestartStep)
        #expect(machine.holders == 1)
    }

    @Test func theLastHolderLeavingDuringTheBackoffEndsTheRestartWithoutAStop() throws {
        var machine = try running(holders: 2)
        _ = try machine.restartStopBegan()
        _ = try machine.restartStopFinished(failed: false)
        #expect(machine.acquireRequested() == .waitForStop)
        machine.park(token: 3, waiter: 3)
        #expect(try machine.releaseRequested() == .keepRunning)
        #expect(try machine.releaseRequested() == .leaveRestart([3]))
        #expect(machine.state == .stopped && machine.isForgettable)
        #expect(throws: LifecycleError.self) { try machine.restartStartBegan() }
        #expect(throws: LifecycleError.self) { try machine.releaseRequested() }
    }

    @Test func onlyARunningHeldServiceCanBeRestarted() throws {
        var idle = Machine(service: id)
        #expect(!idle.isRestartable)
        #expect(throws: LifecycleError.self) { try idle.restartStopBegan() }
        var machine = try running(holders: 1)
        _ = try machine.restartStopBegan()
        #expect(!machine.isRestartable)
        #expect(throws: LifecycleError.self) { try machine.restartStopBegan() }
        #expect(throws: LifecycleError.self) { try machine.restartStartReturned() }
        #expect(machine.taskFailed() == .report)  // the restart decides
    }

    @Test func aStepInFlightIsAStopOrARestartsStopOrStartNeverTheBackoff() throws {
        var machine = try running(holders: 1)
        #expect(!machine.hasStepInFlight)
        _ = try machine.restartStopBegan()
        #expect(machine.hasStepInFlight)
        _ = try machine.restartStopFinished(failed: false)
        #expect(!machine.hasStepInFlight)  // the backoff: down, nothing in flight
        _ = try machine.restartStartBegan()
        #expect(machine.hasStepInFlight)
        _ = try machine.restartStartReturned()
        #expect(!machine.hasStepInFlight)
        _ = try machine.releaseRequested()
        #expect(machine.hasStepInFlight)  // a tree's own stop
    }

    @Test func onlyTheLastHolderLettingGoCancelsARestartsStart() throws {
        var machine = try running(holders: 2)
        _ = try machine.restartStopBegan()
        _ = try machine.restartStopFinished(failed: false)
        #expect(!machine.isLastHolderOfARestartingStart)
        _ = try machine.restartStartBegan()
        #expect(!machine.isLastHolderOfARestartingStart)  // another tree still wants it back
        _ = try machine.restartStartFailed()
        #expect(try machine.releaseRequested() == .keepRunning)
        _ = try machine.restartStartBegan()
        #expect(machine.isLastHolderOfARestartingStart)
    }

    @Test func aTaskFailingWhileARestartStartsItFailsTheTreesAndIsOnlyReportedOtherwise() throws {
        var machine = try running(holders: 1)
        #expect(machine.taskFailed() == .failTrees)
        _ = try machine.restartStopBegan()
        #expect(machine.taskFailed() == .report)
        _ = try machine.restartStopFinished(failed: false)
        #expect(machine.taskFailed() == .report)
        _ = try machine.restartStartBegan()
        #expect(machine.taskFailed() == .failTrees)  // a task of the new life, not lost
    }
}
