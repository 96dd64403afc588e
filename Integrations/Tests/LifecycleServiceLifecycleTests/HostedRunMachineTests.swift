import Testing

@testable import LifecycleServiceLifecycle

struct HostedRunMachineTests {
    @Test func theFirstReadySignalLetsTheStartReturnAndLaterOnesDoNothing() {
        var machine = HostedRunMachine()
        #expect(machine.readySignalled() == .resumeStart)
        #expect(machine.phase == .up)
        #expect(machine.readySignalled() == .ignore)
        #expect(machine.phase == .up)
    }

    @Test func anEndBeforeTheReadySignalFailsTheStart() {
        var machine = HostedRunMachine()
        #expect(machine.runEnded() == .failStart)
        #expect(machine.readySignalled() == .ignore)
        #expect(machine.stopRequested() == .nothing)
    }

    @Test func anEndWhileUpAndNotStoppingFailsTheTree() {
        var machine = HostedRunMachine()
        _ = machine.readySignalled()
        #expect(machine.runEnded() == .failTree)
        #expect(machine.stopRequested() == .nothing)
    }

    @Test func anEndAfterOurStopFinishesThatStop() {
        var machine = HostedRunMachine()
        _ = machine.readySignalled()
        #expect(machine.stopRequested() == .shutDownGracefully)
        #expect(machine.stopRequested() == .awaitEnd)
        #expect(machine.readySignalled() == .ignore)
        #expect(machine.runEnded() == .finishStop)
        #expect(machine.phase == .ended)
    }

    @Test func aStopWhileStartingShutsDownAndItsEndIsNoFailure() {
        var machine = HostedRunMachine()
        #expect(machine.stopRequested() == .shutDownGracefully)
        #expect(machine.runEnded() == .finishStop)
    }
}
