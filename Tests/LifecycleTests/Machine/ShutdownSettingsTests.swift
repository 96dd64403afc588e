import Testing

@testable import Lifecycle

/// The pure rules of DESIGN §13: valid settings, the budget, the escalation's moment, and the
/// runner machine's two new facts.
@Suite struct ShutdownSettingsTests {
    static let root = ServiceID(name: "root", number: 1)

    private final class PlanNode: Service {
        let name: String
        let dependencies: Dependencies
        let gracefulShutdownTimeout: Duration
        init(_ name: String, _ seconds: Int, _ dependencies: Dependencies = []) {
            self.name = name
            gracefulShutdownTimeout = .seconds(seconds)
            self.dependencies = dependencies
        }
    }

    @Test func aTreeWithinTheDeadlineFitsAndOneOverItIsRefusedNamingTheChain() throws {
        let database = PlanNode("database", 10)
        let api = PlanNode("api", 15, [database])
        let plan = try ServiceRunner(api, signals: []).plan()
        try ShutdownSettings(shutdownDeadline: .seconds(30), drainTimeout: .seconds(5)).checkBudget(plan)
        try ShutdownSettings(shutdownDeadline: .seconds(25)).checkBudget(plan)  // exactly the budget fits
        #expect(
            throws: LifecycleError.shutdownBudgetExceeded(
                path: [api.serviceID, database.serviceID], worstCase: .seconds(30), deadline: .seconds(29))
        ) {
            try ShutdownSettings(shutdownDeadline: .seconds(29), drainTimeout: .seconds(5)).checkBudget(plan)
        }
        try ShutdownSettings(shutdownDeadline: nil, drainTimeout: .seconds(500)).checkBudget(plan)  // no deadline
    }

    @Test func theBudgetErrorNamesTheChainAndSaysWhatToDo() {
        let error = LifecycleError.shutdownBudgetExceeded(
            path: [ServiceID(name: "api", number: 1), ServiceID(name: "database", number: 2)],
            worstCase: .seconds(40), deadline: .seconds(30))
        #expect(error.description.contains("api → database"))
        #expect(error.description.contains("40.0 seconds"))
        #expect(error.description.contains("30.0 seconds"))
        #expect(error.description.contains("nothing was started"))
    }

    @Test(arguments: [
        ShutdownSettings(stallReportInterval: .zero),
        ShutdownSettings(stallReportInterval: .seconds(-1)),
        ShutdownSettings(shutdownDeadline: .zero),
        ShutdownSettings(drainTimeout: .milliseconds(-1)),
    ])
    func settingsARunnerCannotHonourAreRefused(_ settings: ShutdownSettings) {
        #expect(throws: LifecycleError.self) { try settings.validate(root: Self.root) }
    }

    @Test func theDefaultsAreValid() throws {
        try ShutdownSettings().validate(root: Self.root)
        #expect(ShutdownSettings().stallReportInterval == .seconds(5))
        #expect(ShutdownSettings().drainTimeout == .zero)
        #expect(ShutdownSettings().shutdownDeadline == nil)
    }

    @Test func theStopEscalatesAtNinetyPercentOfTheDeadline() {
        #expect(ShutdownSettings(shutdownDeadline: .seconds(30)).escalationDelay == .seconds(27))
        #expect(ShutdownSettings().escalationDelay == nil)
    }

    // MARK: The runner machine's facts

    @Test(arguments: RunnerStateMachineTests.phases)
    func theDeadlineEscalatesOnlyAStopInProgress(_ phase: RunnerStateMachine.Phase) {
        var machine = RunnerStateMachineTests.machine(in: phase)
        let hasCause = machine.stopCause != nil
        let escalates = machine.deadlineReached()
        // A stop was requested (stopping, stopped have one) and the tree is not down.
        #expect(escalates == (hasCause && phase != .stopped))
        let again = machine.deadlineReached()
        #expect(!again)  // never twice
    }

    @Test func theDeadlineEscalatesAStartInterruptedByAStopRequest() {
        var machine = RunnerStateMachineTests.machine(in: .starting)
        _ = machine.stopRequested(.signal(15))
        let escalates = machine.deadlineReached()
        #expect(escalates)
        #expect(machine.isEscalated)
    }

    @Test func theDeadlineDoesNothingAfterASignalEscalatedAlready() {
        var machine = RunnerStateMachineTests.machine(in: .stopping)
        _ = machine.escalated()
        let escalates = machine.deadlineReached()
        #expect(!escalates)
    }

    @Test func theStopDrainsOnlyWithATimeoutWhileStoppingAndNotEscalated() {
        var machine = RunnerStateMachineTests.machine(in: .stopping)
        #expect(machine.drainsBeforeStopping(drainTimeout: .seconds(1)))
        #expect(!machine.drainsBeforeStopping(drainTimeout: .zero))
        _ = machine.escalated()
        #expect(!machine.drainsBeforeStopping(drainTimeout: .seconds(1)))
        for phase in [RunnerStateMachine.Phase.idle, .starting, .running, .stopped] {
            #expect(!RunnerStateMachineTests.machine(in: phase).drainsBeforeStopping(drainTimeout: .seconds(1)))
        }
    }

    @Test func aDeadlineStopCountsAsCleanForRun() {
        var machine = RunnerStateMachineTests.machine(in: .running)
        _ = machine.stopRequested(.deadline)
        #expect(machine.isCleanStop)
    }
}
