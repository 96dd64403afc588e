import Testing

@testable import Lifecycle

/// A service with a name, dependencies and a graceful timeout, nothing else: plans only read these.
private final class PlanNode: Service {
    let name: String
    let dependencies: Dependencies
    let gracefulShutdownTimeout: Duration

    init(_ name: String, _ seconds: Int = 10, _ dependencies: Dependencies = []) {
        self.name = name
        self.gracefulShutdownTimeout = .seconds(seconds)
        self.dependencies = dependencies
    }
}

private func plan(_ root: any Service) throws -> ServicePlan {
    try ServiceRunner(root, signals: []).plan()
}

@Suite struct ServicePlanTests {
    @Test func sequentialStagesAddUp() throws {
        let a = PlanNode("a", 1)
        let b = PlanNode("b", 2)
        let root = PlanNode("root", 4, [a, b])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(7))
        #expect(plan.criticalShutdownPath == [root.serviceID, b.serviceID, a.serviceID])
    }

    @Test func aParallelStageTakesItsSlowestMember() throws {
        let fast = PlanNode("fast", 1)
        let slow = PlanNode("slow", 5)
        let middle = PlanNode("middle", 3)
        let root = PlanNode("root", 2, [Parallel(fast, slow, middle)])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(7))
        #expect(plan.criticalShutdownPath == [root.serviceID, slow.serviceID])
    }

    @Test func aParallelMemberWithADeepChainBeatsASlowLoneMember() throws {
        let deep = PlanNode("deep", 4)
        let quick = PlanNode("quick", 1, [deep])
        let slow = PlanNode("slow", 3)
        let root = PlanNode("root", 1, [Parallel(quick, slow)])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(6))
        #expect(plan.criticalShutdownPath.map(\.name) == ["root", "quick", "deep"])
    }

    @Test func aSharedServiceIsCountedOnceOnTheLongestChain() throws {
        // root → [a, b], both depend on shared: the stop is root, b, a, then shared once.
        let shared = PlanNode("shared", 8)
        let a = PlanNode("a", 1, [shared])
        let b = PlanNode("b", 2, [shared])
        let root = PlanNode("root", 1, [a, b])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(1 + 2 + 1 + 8))
        #expect(plan.criticalShutdownPath.map(\.name) == ["root", "b", "a", "shared"])
    }

    @Test func aSharedServiceInAParallelStageStopsAfterItsSlowestHolder() throws {
        // Parallel(a, b), both on shared: shared stops after the slower of a and b.
        let shared = PlanNode("shared", 5)
        let a = PlanNode("a", 1, [shared])
        let b = PlanNode("b", 3, [shared])
        let root = PlanNode("root", 1, [Parallel(a, b)])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(1 + 3 + 5))
        #expect(plan.criticalShutdownPath.map(\.name) == ["root", "b", "shared"])
    }

    @Test func theWorstCaseMatchesWhatTheDesignExampleSays() throws {
        // DESIGN §1: API → [database, Parallel(cache, queue), server]
        let database = PlanNode("database")
        let cache = PlanNode("cache", 2)
        let queue = PlanNode("queue", 5)
        let server = PlanNode("server", 10)
        let api = PlanNode("api", 30, [database, Parallel(cache, queue), server])
        let plan = try plan(api)
        #expect(plan.worstCaseShutdown == .seconds(30 + 10 + 5 + 10))
        #expect(plan.criticalShutdownPath.map(\.name) == ["api", "server", "queue", "database"])
    }

    @Test func servicesAreInAValidStartOrderEachOnce() throws {
        let shared = PlanNode("shared")
        let a = PlanNode("a", 10, [shared])
        let b = PlanNode("b", 10, [shared])
        let root = PlanNode("root", 10, [Parallel(a, b), shared])
        let plan = try plan(root)
        #expect(plan.services.count == 4)
        #expect(Set(plan.services) == Set([shared, a, b, root].map(\.serviceID)))
        for service in plan.services {
            let position = plan.services.firstIndex(of: service)!
            for dependency in plan.dependencies(of: service).joined() {
                #expect(plan.services.firstIndex(of: dependency)! < position, "\(dependency) before \(service)")
            }
        }
        #expect(plan.services.last == root.serviceID)
    }

    @Test func dependenciesAndDependentsAreTheTreesEdges() throws {
        let shared = PlanNode("shared")
        let a = PlanNode("a", 10, [shared])
        let b = PlanNode("b", 10, [shared])
        let root = PlanNode("root", 10, [Parallel(a, b)])
        let plan = try plan(root)
        #expect(plan.dependencies(of: root.serviceID) == [[a.serviceID, b.serviceID]])
        #expect(plan.dependents(of: shared.serviceID) == [a.serviceID, b.serviceID])
        #expect(plan.dependents(of: root.serviceID) == [])
        #expect(plan.isShared(shared.serviceID))
        #expect(!plan.isShared(a.serviceID))
        #expect(plan.gracefulShutdownTimeout(of: shared.serviceID) == .seconds(10))
        #expect(plan.dependencies(of: ServiceID(name: "stranger", number: -1)) == [])
    }

    @Test func theDescriptionIsAnIndentedTreeWithSharedServicesMarked() throws {
        let database = PlanNode("Database")
        let cache = PlanNode("Cache")
        let queue = PlanNode("Queue")
        let server = PlanNode("HTTPServer", 10, [database])
        let api = PlanNode("API", 5, [database, Parallel(cache, queue), server])
        let plan = try plan(api)
        #expect(
            plan.description == """
                API  (stop ≤ 5s)
                  Database  (stop ≤ 10s)  [shared by 2]
                  parallel:
                    Cache  (stop ≤ 10s)
                    Queue  (stop ≤ 10s)
                  HTTPServer  (stop ≤ 10s)
                    Database  [shared by 2, drawn above]
                worst-case shutdown: 35s, through API → HTTPServer → Queue → Database
                """)
    }

    @Test func aNameWithALineBreakStaysOnItsLine() throws {
        let plan = try plan(PlanNode("evil\nname", 1))
        #expect(plan.description.split(separator: "\n").count == 2)
        #expect(plan.description.contains(#"evil\nname"#))
    }

    @Test func planThrowsWhatStartWouldThrowAndStartsNothing() async throws {
        let a = Node("a")  // the cyclic node of BadInputTests
        let b = Node("b")
        a.next = [b]
        b.next = [a]
        let runner = ServiceRunner(a, signals: [])
        #expect(throws: LifecycleError.dependencyCycle([a.serviceID, b.serviceID, a.serviceID])) { try runner.plan() }
        await #expect(throws: LifecycleError.dependencyCycle([a.serviceID, b.serviceID, a.serviceID])) {
            try await runner.start()
        }
        let empty = PlanNode("empty", 1, [Parallel()])
        #expect(throws: LifecycleError.emptyParallel(in: empty.serviceID)) { try plan(empty) }
        let zero = PlanNode("zero", 0)
        #expect(throws: LifecycleError.invalidTimeout(zero.serviceID, .zero)) { try plan(zero) }
    }

    @Test func aChainThousandsDeepIsPlannedWithoutDeepRecursion() throws {
        var node: PlanNode = PlanNode("leaf", 1)
        for index in 0..<5_000 { node = PlanNode("n\(index)", 1, [node]) }
        let plan = try plan(node)
        #expect(plan.worstCaseShutdown == .seconds(5_001))
        #expect(plan.criticalShutdownPath.count == 5_001)
        #expect(plan.services.count == 5_001)
    }

    @Test func aWideParallelStageIsPlanned() throws {
        let members = (0..<5_000).map { PlanNode("m\($0)", $0 % 7 + 1) }
        let root = PlanNode("root", 1, [Parallel(members)])
        let plan = try plan(root)
        #expect(plan.worstCaseShutdown == .seconds(8))
        #expect(plan.criticalShutdownPath.count == 2)
    }

    @Test func secondsAreWrittenWithoutTrailingZeros() {
        #expect(ServicePlan.seconds(.seconds(10)) == "10s")
        #expect(ServicePlan.seconds(.milliseconds(250)) == "0.25s")
        #expect(ServicePlan.seconds(.milliseconds(1500)) == "1.5s")
    }
}
