import Testing

@testable import Lifecycle

/// facet 0.10.1's `tests/test_blocking.py`, test by test, on ``BlockingService``.
@Suite(.timeLimit(.minutes(1)))
struct BlockingFacetParityTests {
    /// A diamond: `A` depends on `b1` then `b2`, and both depend on one `c` (facet's `A`, `B`, `C`).
    struct Diamond {
        let log = LineLog()
        let c: BlockingProbe
        let b1: BlockingProbe
        let b2: BlockingProbe
        let a: BlockingProbe

        init() {
            c = BlockingProbe("c", log: log)
            b1 = BlockingProbe("b1", children: [c], log: log)
            b2 = BlockingProbe("b2", children: [c], log: log)
            a = BlockingProbe("a", children: [b1, b2], log: log)
        }
    }

    @Test func singleState() throws {  // test_single_state
        let service = BlockingProbe("simple")
        try withRunning(service) { service in
            #expect(service.startCount == 1)
            #expect(service.stopCount == 0)
            #expect(service.isRunning)
        }
        #expect(service.stopCount == 1)
        #expect(service.state == .stopped)
    }

    @Test func startFailed() {  // test_start_failed
        let service = BlockingProbe("broken", failingStart: true)
        #expect(!service.isRunning)
        #expect(throws: Boom(name: "broken")) {
            try withRunning(service) { _ in Issue.record("the body ran although start failed") }
        }
        #expect(service.startCount == 1)  // called, and threw
        #expect(service.stopCount == 0)
        #expect(!service.isRunning)
        #expect(service.state == .failed)
    }

    @Test func startFailedLater() {  // test_start_failed_later
        let log = LineLog()
        let valid = BlockingProbe("valid", log: log)
        let broken = BlockingProbe("broken", log: log, failingStart: true)
        let root = BlockingProbe("root", children: [valid, broken], log: log)
        #expect(!root.isRunning)
        #expect(throws: Boom(name: "broken")) { try withRunning(root) { _ in } }
        #expect(valid.startCount == 1)
        #expect(valid.stopCount == 1)
        #expect(!valid.isRunning)
        #expect(root.startCount == 0)
        #expect(log.lines == ["start valid", "start broken", "stop valid"])
    }

    @Test func startFailedEarlier() {  // test_start_failed_earlier
        let valid = BlockingProbe("valid")
        let broken = BlockingProbe("broken", failingStart: true)
        let root = BlockingProbe("root", children: [broken, valid])
        #expect(!root.isRunning)
        #expect(throws: Boom(name: "broken")) { try withRunning(root) { _ in } }
        #expect(valid.startCount == 0)
        #expect(valid.stopCount == 0)
        #expect(!valid.isRunning)
        #expect(valid.state == .idle)
    }

    @Test func diamondDependencies() throws {  // test_diamond_dependencies
        let tree = Diamond()
        try withRunning(tree.a) { a in
            #expect(a.isRunning)
            #expect(tree.b1.isRunning)
            #expect(tree.b2.isRunning)
            #expect(tree.c.isRunning)
        }
        #expect(tree.c.startCount == 1)
        #expect(tree.c.stopCount == 1)
        #expect(
            tree.log.lines == [
                "start c", "start b1", "start b2", "start a",
                "stop a", "stop b2", "stop b1", "stop c",
            ])
    }

    @Test func cDoesNotStop() throws {  // test_c_does_not_stops
        let tree = Diamond()
        try withRunning(tree.a) { _ in
            try withRunning(BlockingProbe("other b", children: [tree.c])) { _ in }
            #expect(tree.c.isRunning)
        }
        #expect(!tree.c.isRunning)
        #expect(tree.c.startCount == 1)
        #expect(tree.c.stopCount == 1)
    }

    @Test func startException() {  // test_start_exception
        let b = BlockingProbe("b", failingStart: true)
        let a = BlockingProbe("a", children: [b])
        #expect(throws: Boom(name: "b")) { try withRunning(a) { _ in } }
        #expect(a.startCount == 0)
        #expect(a.stopCount == 0)
        #expect(b.startCount == 1)
        #expect(b.stopCount == 0)
    }

    @Test func startGroups() throws {  // test_start_groups (blocking dependencies are sequential)
        let services = (1...3).map { BlockingProbe("s\($0)") }
        try withRunning(BlockingProbe("group", children: services)) { _ in }
        #expect(services.allSatisfy { $0.startCount == 1 && $0.stopCount == 1 })
    }

    @Test func emptyMethods() throws {  // test_empty_methods
        final class Empty: BlockingService {}
        let empty = Empty()
        try withRunning(empty) { empty in #expect(empty.isRunning) }
        #expect(empty.state == .stopped)
        #expect(empty.name == "Empty")
    }
}
