import Testing

@testable import Lifecycle

/// DESIGN §11: services added to a running tree and removed from it.
@Suite(.timeLimit(.minutes(1))) struct RunnerChangeTests {
    @Test func anAddedServiceStartsAfterItsDependenciesAndStopsAfterTheRootBeforeTheDeclaredStages() async throws {
        let log = CallLog()
        let database = ProbeService("database", log: log)
        let root = ProbeService("root", log: log, dependencies: [database])
        let runner = ServiceRunner(root, signals: [])
        let events = collect(runner.events())
        try await runner.start()
        let queue = ProbeService("queue", log: log, dependencies: [database])
        let worker = ProbeService("worker", log: log, dependencies: [queue])
        let mailer = ProbeService("mailer", log: log)
        try await runner.add(worker)
        try await runner.add(mailer)
        #expect(log.starts == ["database", "root", "queue", "worker", "mailer"])
        #expect(worker.isRunning && queue.isRunning && mailer.isRunning)
        #expect(database.startCount == 1)  // running already: counted, not started again
        try await runner.stop()
        #expect(log.stops == ["root", "mailer", "worker", "queue", "database"])
        let transcript = lines(await events.value)
        #expect(transcript.contains("worker: idle → starting") && transcript.contains("worker: stopping → stopped"))
        expectLegal(await events.value)
    }

    @Test func aServiceRunningInAnotherTreeIsCountedNotStartedAgain() async throws {
        let log = CallLog()
        let shared = ProbeService("shared", log: log)
        let other = ServiceRunner(shared, signals: [])
        try await other.start()
        let runner = ServiceRunner(ProbeService("root", log: log), signals: [])
        try await runner.start()
        try await runner.add(shared)
        #expect(shared.startCount == 1)
        try await runner.stop()
        #expect(shared.isRunning && shared.stopCount == 0)  // the other tree still holds it
        try await other.stop()
        #expect(shared.stopCount == 1)
    }

    @Test func addAndRemoveAreRefusedUnlessTheTreeRuns() async throws {
        let log = CallLog()
        let root = ProbeService("root", log: log, stop: .delay(.milliseconds(50)))
        let runner = ServiceRunner(root, signals: [])
        let extra = ProbeService("extra", log: log)
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.add(extra) }
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.remove(extra) }
        try await runner.start()
        runner.requestStop()
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.add(extra) }
        let stopping = Task { try await runner.stop() }
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.add(extra) }
        try await stopping.value
        await #expect(throws: LifecycleError.notRunning(root.serviceID)) { try await runner.add(extra) }
        #expect(extra.startCount == 0)
        #expect(
            LifecycleError.notRunning(root.serviceID).description
                == "the tree of root is not running; add and remove services only between start() and the stop request")
    }

    @Test func removingAServiceAnotherAddedServiceNeedsKeepsItRunningUntilThatOneGoes() async throws {
        let log = CallLog()
        let runner = ServiceRunner(ProbeService("root", log: log), signals: [])
        try await runner.start()
        let cache = ProbeService("cache", log: log)
        let api = ProbeService("api", log: log, dependencies: [cache])
        try await runner.add(cache)
        try await runner.add(api)
        try await runner.remove(cache)
        #expect(cache.isRunning && cache.stopCount == 0)  // api still depends on it
        await #expect(throws: LifecycleError.notAdded(cache.serviceID)) { try await runner.remove(cache) }
        try await runner.remove(api)
        #expect(log.stops == ["api", "cache"])
        try await runner.stop()
        #expect(log.stops == ["api", "cache", "root"])
    }

    @Test func removingADeclaredOrUnknownServiceIsRefused() async throws {
        let log = CallLog()
        let database = ProbeService("database", log: log)
        let root = ProbeService("root", log: log, dependencies: [database])
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        await #expect(throws: LifecycleError.notAdded(database.serviceID)) { try await runner.remove(database) }
        await #expect(throws: LifecycleError.notAdded(root.serviceID)) { try await runner.remove(root) }
        #expect(database.isRunning)
        try await runner.stop()
    }

    @Test func aFailedAddRollsBackOnlyWhatItStartedAndTheTreeKeepsRunning() async throws {
        let log = CallLog()
        let database = ProbeService("database", log: log)
        let runner = ServiceRunner(ProbeService("root", log: log, dependencies: [database]), signals: [])
        let events = collect(runner.events())
        try await runner.start()
        let queue = ProbeService("queue", log: log)
        let broken = ProbeService("broken", log: log, dependencies: [database, queue], start: .fail)
        await #expect(throws: ProbeError(name: "broken")) { try await runner.add(broken) }
        #expect(log.stops == ["queue"])  // database was running before: untouched
        #expect(database.isRunning && queue.state == .stopped && broken.state == .failed)
        // The tree still runs and can still change.
        let later = ProbeService("later", log: log)
        try await runner.add(later)
        await #expect(throws: LifecycleError.notAdded(broken.serviceID)) { try await runner.remove(broken) }
        try await runner.stop()
        #expect(later.stopCount == 1 && database.stopCount == 1)
        expectLegal(await events.value)
    }

    @Test func aServiceThatDependsOnTheRootIsACycle() async throws {
        let log = CallLog()
        let root = ProbeService("root", log: log)
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        let child = ProbeService("child", log: log, dependencies: [root])
        let grandchild = ProbeService("grandchild", log: log, dependencies: [child])
        await #expect(
            throws: LifecycleError.dependencyCycle([
                root.serviceID, grandchild.serviceID, child.serviceID, root.serviceID,
            ])
        ) {
            try await runner.add(grandchild)
        }
        await #expect(throws: LifecycleError.dependencyCycle([root.serviceID, root.serviceID])) {
            try await runner.add(root)
        }
        #expect(child.startCount == 0 && root.startCount == 1)
        try await runner.stop()
    }

    @Test func aStopRequestedDuringAnAddCancelsItAndTheStopWaitsForItsRollback() async throws {
        let log = CallLog()
        let runner = ServiceRunner(ProbeService("root", log: log), signals: [])
        try await runner.start()
        let first = ProbeService("first", log: log)
        let slow = ProbeService("slow", log: log, dependencies: [first], start: .untilCancelled)
        let adding = Task { try await runner.add(slow) }
        #expect(await eventually { slow.startCount == 1 })
        try await runner.stop()
        // By the time stop() returned, the add was rolled back: nothing it started still runs.
        #expect(first.state == .stopped && first.stopCount == 1)
        #expect(slow.state == .failed)
        await #expect(throws: CancellationError.self) { try await adding.value }
    }

    @Test func snapshotsIncludeAddedServices() async throws {
        let log = CallLog()
        let root = ProbeService("root", log: log)
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        let queue = ProbeService("queue", log: log)
        let worker = ProbeService("worker", log: log, dependencies: [queue])
        try await runner.add(worker)
        let snapshot = runner.snapshot()
        #expect(snapshot.states[worker.serviceID] == .running && snapshot.states[queue.serviceID] == .running)
        #expect(snapshot.isReady)
        try await runner.remove(worker)
        #expect(runner.snapshot().states[worker.serviceID] == .stopped)
        try await runner.stop()
        #expect(runner.snapshot().states[root.serviceID] == .stopped)
    }

    @Test func whileTheRootStopsTheShutdownStatusSaysAnAddedServiceWaitsForIt() async throws {
        let log = CallLog()
        let root = ProbeService("root", log: log, stop: .delay(.milliseconds(300)))
        let runner = ServiceRunner(root, signals: [])
        try await runner.start()
        let worker = ProbeService("worker", log: log)
        try await runner.add(worker)
        let stopping = Task { try await runner.stop() }
        #expect(await eventually { root.state == .stopping })
        let status = runner.shutdownStatus()
        #expect(status.waiting.first { $0.service == worker.serviceID }?.waitsFor.map(\.service) == [root.serviceID])
        try await stopping.value
    }

    @Test func aServiceAddedTwiceIsCountedTwiceAndRemovedOnceAtATime() async throws {
        let log = CallLog()
        let runner = ServiceRunner(ProbeService("root", log: log), signals: [])
        try await runner.start()
        let extra = ProbeService("extra", log: log)
        try await runner.add(extra)
        try await runner.add(extra)
        try await runner.remove(extra)
        #expect(extra.isRunning)
        try await runner.remove(extra)
        #expect(extra.state == .stopped && extra.startCount == 1 && extra.stopCount == 1)
        try await runner.stop()
    }
}

/// `remove` from the removed service's own work: it must not wait for itself.
@Suite(.timeLimit(.minutes(1))) struct RunnerChangeFromOwnWorkTests {
    @Test func aServiceRemovingItselfFromItsBackgroundTaskStopsCleanly() async throws {
        let removed = Locked<(any Error)?>(nil)
        let holder = SelfRemoving.Holder()
        let worker = SelfRemoving(holder: holder, removed: removed)
        let runner = ServiceRunner(ClosureService(name: "root") {}, signals: [])
        holder.runner.withLock { $0 = runner }
        let events = collect(runner.events())
        try await runner.start()
        try await runner.add(worker)
        worker.finishWork()
        #expect(await eventually { worker.state == .stopped })
        #expect(removed.withLock { $0 } == nil)
        try await runner.stop()
        let transcript = lines(await events.value)
        #expect(transcript.contains("worker: stopping → stopped"))
        #expect(!transcript.contains("worker: stopping → failed"))
    }
}

/// A service whose background task, once its work is done, removes the service from its tree.
final class SelfRemoving: Service, Sendable {
    final class Holder: Sendable {
        let runner = Locked<ServiceRunner?>(nil)
    }

    let name = "worker"
    let holder: Holder
    let removed: Locked<(any Error)?>
    private let done = Gate()
    var gracefulShutdownTimeout: Duration { .seconds(30) }

    init(holder: Holder, removed: Locked<(any Error)?>) {
        self.holder = holder
        self.removed = removed
    }

    func finishWork() { done.open() }

    func start() async throws {
        try addTask { [self] in
            await done.wait()
            do {
                try await holder.runner.withLock { $0 }?.remove(self)
            } catch {
                removed.withLock { $0 = error }
            }
        }
    }
}
