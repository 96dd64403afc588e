import Testing

@testable import Lifecycle

/// A service whose dependencies are set after creation, to build cycles.
final class Node: Service, @unchecked Sendable {
    // Mutated only before the tree starts, on the test's task; no concurrent access (no lock needed
    // because nothing reads it concurrently with the single write).
    var next: [any Service] = []
    let name: String
    init(_ name: String) { self.name = name }
    var dependencies: Dependencies { Dependencies(next) }
}

@Suite struct TreePlanTests {
    @Test func aDirectCycleIsNamedAndNothingStarts() async throws {
        let log = CallLog()
        let a = Node("a")
        let b = Node("b")
        let leaf = ProbeService("leaf", log: log)
        a.next = [leaf, b]
        b.next = [a]
        let runner = ServiceRunner(a, signals: [])
        await #expect(throws: LifecycleError.dependencyCycle([a.serviceID, b.serviceID, a.serviceID])) {
            try await runner.start()
        }
        #expect(log.all.isEmpty)
        #expect(leaf.state == .idle)
    }

    @Test func aServiceListingItselfIsACycle() throws {
        let a = Node("a")
        a.next = [a]
        #expect(throws: LifecycleError.dependencyCycle([a.serviceID, a.serviceID])) {
            try TreePlan(root: a)
        }
    }

    @Test func aLongCycleNamesEveryServiceOnIt() throws {
        let nodes = (0..<50).map { Node("n\($0)") }
        for (node, next) in zip(nodes, nodes.dropFirst()) { node.next = [next] }
        nodes.last!.next = [nodes[10]]
        let error = #expect(throws: LifecycleError.self) { try TreePlan(root: nodes[0]) }
        #expect(error == .dependencyCycle(nodes[10...].map(\.serviceID) + [nodes[10].serviceID]))
        #expect(error?.description.contains("n10 → n11") == true)
    }

    @Test func anEmptyParallelIsRefusedNamingTheService() {
        let root = ClosureService(name: "root", dependencies: [Parallel()])
        #expect(throws: LifecycleError.emptyParallel(in: root.serviceID)) { try TreePlan(root: root) }
    }

    @Test(arguments: [Duration.zero, .seconds(-1)])
    func aTimeoutOfZeroOrLessIsRefused(limit: Duration) {
        final class Impatient: Service {
            let limit: Duration
            init(_ limit: Duration) { self.limit = limit }
            var gracefulShutdownTimeout: Duration { limit }
        }
        let service = Impatient(limit)
        #expect(throws: LifecycleError.invalidTimeout(service.serviceID, limit)) {
            try TreePlan(root: service)
        }
    }

    @Test func aServiceReachableAlongManyPathsIsOneNode() throws {
        let shared = ClosureService(name: "shared")
        // 10 layers of 2 services each, every one depending on both of the next layer: 2^10 paths.
        var layer: [any Service] = [shared]
        for depth in 0..<10 {
            let deps = Dependencies([Parallel(layer)])
            layer = [
                ClosureService(name: "l\(depth)a", dependencies: deps),
                ClosureService(name: "l\(depth)b", dependencies: deps),
            ]
        }
        let plan = try TreePlan(root: ClosureService(name: "root", dependencies: [Parallel(layer)]))
        #expect(plan.nodes.count == 1 + 20 + 1)
    }

    @Test func aTreeTenThousandDeepIsPlannedWithoutDeepRecursion() throws {
        var service: any Service = ClosureService(name: "leaf")
        for depth in 0..<10_000 { service = ClosureService(name: "d\(depth)", dependencies: [service]) }
        let plan = try TreePlan(root: service)
        #expect(plan.nodes.count == 10_001)
    }
}
