import Foundation

@testable import Lifecycle

/// What the fault services did and what the driver did, in one process-wide order (a sequence
/// number per entry, shared by both logs), so the checker can say what happened before what.
final class FaultRecorder: Sendable {
    enum Kind: Equatable, Sendable {
        case startCalled, startReturned, startThrew, stopCalled, stopReturned, stopThrew
        /// A background task of life `life` was added (`task` numbers it), and how it ended: it
        /// threw its fault, saw its cancellation, returned, or ran out its cap never cancelled.
        case taskAdded, taskThrew, taskCancelled, taskReturned, taskExpired
        /// A `start()` that ignores cancellation saw it was cancelled; it then waits until the
        /// lifecycle has abandoned it, or records `startNeverAbandoned` after three seconds.
        case startIgnoredCancellation, startNeverAbandoned
        /// A service called `stop()` on its own tree's runner (from start, a task or stop), and it returned.
        case innerStopCalled, innerStopReturned
    }

    struct Entry: Sendable {
        let sequence: Int
        let service: Int
        let kind: Kind
        /// Which start of the service (1, 2, …) the entry belongs to; 0 in the blocking suite.
        var life = 0
        /// The task's number, for the task kinds.
        var task = 0
    }

    /// What the driver did to tree `tree`.
    struct DriverEntry: Sendable {
        let sequence: Int
        let tree: Int
        let action: DriverAction
    }

    private struct Logs {
        var entries: [Entry] = []
        var driver: [DriverEntry] = []
        var next = 0
        var lastTask = 0
    }

    private let logs = Locked(Logs())

    func record(_ service: Int, _ kind: Kind, life: Int = 0, task: Int = 0) {
        logs.withLock {
            $0.entries.append(Entry(sequence: $0.next, service: service, kind: kind, life: life, task: task))
            $0.next += 1
        }
    }

    func record(tree: Int, _ action: DriverAction) {
        logs.withLock {
            $0.driver.append(DriverEntry(sequence: $0.next, tree: tree, action: action))
            $0.next += 1
        }
    }

    /// A task number not handed out before.
    func nextTask() -> Int {
        logs.withLock {
            $0.lastTask += 1
            return $0.lastTask
        }
    }

    var all: [Entry] { logs.withLock { $0.entries } }
    var driver: [DriverEntry] { logs.withLock { $0.driver } }
}

/// Something the driver did (or a refused call it made), as the driver log records it.
enum DriverAction: Sendable {
    /// A stop of the tree was asked for, just before the call: `requestStop()`, `stop()`, the run
    /// task's cancellation, or `withRunning`'s body returning.
    case stopIssued(StopAction)
    /// `start()` (or `run()`, `withRunning`) is about to be called; `start()` ended, with its error if any.
    case startInvoked
    case startEnded(failure: (any Error)?)
    /// A call the runner must refuse, and whether it was refused as it must be.
    case refused(String, correctly: Bool)
    /// A waiter (numbered: tree × 10 + its place; 5 is the driver's own `wait()`, 6 the one after a
    /// failed start) was called, and returned (`failure == nil`) or threw.
    case waitCalled(Int)
    case waitEnded(Int, failure: (any Error)?)
    /// A `stop()` call of the driver returned (its error, if any).
    case stopEnded(failure: (any Error)?)
}

/// How one stop request is made.
enum StopAction: Sendable, CustomStringConvertible {
    case request, stop, cancel, bodyReturned
    var description: String {
        switch self {
        case .request: "requestStop()"
        case .stop: "stop()"
        case .cancel: "cancellation"
        case .bodyReturned: "body returned"
        }
    }
}

/// Where a service calls `stop()` on its own tree's runner.
enum InnerStop: Sendable, CaseIterable, CustomStringConvertible {
    case fromStart, fromTask, fromStop
    var description: String {
        switch self {
        case .fromStart: "stop() from start()"
        case .fromTask: "stop() from a background task"
        case .fromStop: "stop() from stop()"
        }
    }
}

/// The faults one service carries.
struct Faults: Sendable, CustomStringConvertible {
    var startThrows = false
    /// Only the first `start()` throws (a later one, by the other tree, succeeds).
    var firstStartThrows = false
    var startHangs = false  // until cancelled by its startTimeout
    var stopThrows = false
    var stopHangs = false  // until cancelled by its gracefulShutdownTimeout
    var taskThrowsAfter: Duration?
    var yields = 0
    /// `start()` adds a background task that runs until cancelled, before anything else it does.
    var taskFirst = false
    /// `start()` sleeps this long (honouring cancellation) after adding its first task.
    var startSleeps: Duration?
    /// `start()` ignores its cancellation (a member of `Parallel` stages only).
    var startIgnoresCancellation = false
    /// `stop()` ignores its cancellation and returns this long after it was called.
    var stopIgnoresCancellationFor: Duration?
    /// A timeout of `.seconds(Int64.max)`: practically never.
    var hugeStartTimeout = false
    var hugeGracefulShutdownTimeout = false
    /// The service calls `stop()` on its own tree's runner.
    var stopsItsTree: InnerStop?
    /// What a failure of its background task leads to (DESIGN §10).
    var restartPolicy = RestartPolicy.never

    /// Whether a time limit may fire on this service (its stop or start abandoned, or timed out).
    var mayTimeOut: Bool { startHangs || stopHangs || startIgnoresCancellation || stopIgnoresCancellationFor != nil }
    /// Whether its `stop()` may be abandoned, returning (or never returning) after the walk moved on.
    var stopMayBeAbandoned: Bool { stopHangs || stopIgnoresCancellationFor != nil }

    var description: String {
        var parts: [String] = []
        if startThrows { parts.append("start throws") }
        if firstStartThrows { parts.append("first start throws") }
        if startHangs { parts.append("start hangs") }
        if stopThrows { parts.append("stop throws") }
        if stopHangs { parts.append("stop hangs") }
        if let delay = taskThrowsAfter { parts.append("task throws after \(delay)") }
        if taskFirst { parts.append("start adds a task first") }
        if let delay = startSleeps { parts.append("start sleeps \(delay)") }
        if startIgnoresCancellation { parts.append("start ignores cancellation") }
        if let delay = stopIgnoresCancellationFor { parts.append("stop ignores cancellation for \(delay)") }
        if hugeStartTimeout { parts.append("huge startTimeout") }
        if hugeGracefulShutdownTimeout { parts.append("huge gracefulShutdownTimeout") }
        if let inner = stopsItsTree { parts.append("\(inner)") }
        if case .onFailure(let maxRestarts, _, let backoff) = restartPolicy {
            parts.append("restarts up to \(maxRestarts) times, backoff \(backoff)")
        }
        return parts.isEmpty ? "healthy" : parts.joined(separator: ", ")
    }
}

/// The error a fault service throws; `index` says which service, `kind` which fault, `life` which start.
struct InjectedFault: Error, Equatable {
    enum Kind { case start, stop, task }
    let index: Int
    let kind: Kind
    var life = 0
}

/// A service that does what its faults say and records every call.
final class FaultService: Service {
    let index: Int
    let faults: Faults
    let recorder: FaultRecorder
    let name: String
    let dependencies: Dependencies
    let startTimeout: Duration?
    let gracefulShutdownTimeout: Duration
    let restartPolicy: RestartPolicy
    /// The runner of the one tree this service belongs to, for `stopsItsTree`; set by the driver.
    let runner = Locked<ServiceRunner?>(nil)
    private let lives = Locked(0)
    /// How long a task that waits for its cancellation, or a start for its abandonment, waits at most.
    /// Only a task nobody cancels waits that long (a defect), so the cap can be generous: at 5 s, a
    /// full `swift test` on a loaded 2-core machine, where the whole run of a seed (0.15 s alone)
    /// took longer than that, reported a task as never cancelled.
    static let taskCap = Duration.seconds(20) * FaultSettings.slowdown
    static let abandonCap = Duration.seconds(3) * FaultSettings.slowdown

    init(index: Int, faults: Faults, recorder: FaultRecorder, dependencies: Dependencies, limit: Duration) {
        self.index = index
        self.faults = faults
        self.recorder = recorder
        self.name = "s\(index)"
        self.dependencies = dependencies
        self.restartPolicy = faults.restartPolicy
        self.startTimeout = faults.startHangs ? limit : faults.hugeStartTimeout ? .seconds(Int64.max) : nil
        if faults.stopMayBeAbandoned || faults.startIgnoresCancellation {
            self.gracefulShutdownTimeout = limit
        } else {
            self.gracefulShutdownTimeout = faults.hugeGracefulShutdownTimeout ? .seconds(Int64.max) : .seconds(30)
        }
    }

    /// The life (start) in progress or last begun.
    var life: Int { lives.withLock { $0 } }

    func start() async throws {
        let life = lives.withLock {
            $0 += 1
            return $0
        }
        recorder.record(index, .startCalled, life: life)
        for _ in 0..<faults.yields { await Task.yield() }
        do {
            if faults.taskFirst {
                // Runs until cancelled, or, with a task fault, throws it after its delay.
                let delay = faults.taskThrowsAfter
                try addRecordedTask(life: life) { [index] in
                    guard let delay else { return try await Self.sleepUntilCancelled() }
                    try await Task.sleep(for: delay)
                    throw InjectedFault(index: index, kind: .task, life: life)
                }
            }
            if faults.startIgnoresCancellation { await ignoreCancellation(life: life) }
            if let delay = faults.startSleeps { try await Task.sleep(for: delay) }
            if faults.startHangs { try await Self.sleepUntilCancelled() }
            if faults.startThrows || (faults.firstStartThrows && life == 1) {
                throw InjectedFault(index: index, kind: .start, life: life)
            }
            if faults.stopsItsTree == .fromStart { await stopTree(life: life) }
            if let delay = faults.taskThrowsAfter, !faults.taskFirst {
                try addRecordedTask(life: life) { [index] in
                    try await Task.sleep(for: delay)
                    throw InjectedFault(index: index, kind: .task, life: life)
                }
            }
            if faults.stopsItsTree == .fromTask {
                let delay = Duration.microseconds(index * 37 % 2_000)
                try addRecordedTask(life: life) { [self] in
                    try await Task.sleep(for: delay)
                    await stopTree(life: life)
                }
            }
        } catch {
            recorder.record(index, .startThrew, life: life)
            throw error
        }
        recorder.record(index, .startReturned, life: life)
    }

    func stop() async throws {
        let life = self.life
        recorder.record(index, .stopCalled, life: life)
        for _ in 0..<faults.yields { await Task.yield() }
        do {
            if faults.stopsItsTree == .fromStop { await stopTree(life: life) }
            if let delay = faults.stopIgnoresCancellationFor { await Self.sleepIgnoringCancellation(delay) }
            if faults.stopHangs { try await Self.sleepUntilCancelled() }
            if faults.stopThrows { throw InjectedFault(index: index, kind: .stop, life: life) }
        } catch {
            recorder.record(index, .stopThrew, life: life)
            throw error
        }
        recorder.record(index, .stopReturned, life: life)
    }

    /// Adds a background task that records how it ends: threw, cancelled, returned, or expired.
    private func addRecordedTask(life: Int, _ body: @escaping @Sendable () async throws -> Void) throws {
        let task = recorder.nextTask()
        try addTask { [index, recorder] in
            do {
                try await body()
                recorder.record(index, .taskReturned, life: life, task: task)
            } catch is CancellationError {
                recorder.record(index, .taskCancelled, life: life, task: task)
                throw CancellationError()
            } catch is TaskExpired {
                recorder.record(index, .taskExpired, life: life, task: task)
            } catch {
                recorder.record(index, .taskThrew, life: life, task: task)
                throw error
            }
        }
        recorder.record(index, .taskAdded, life: life, task: task)
    }

    /// A start that goes on for a moment whatever happens; when it was cancelled meanwhile, it keeps
    /// ignoring that until the lifecycle has abandoned it (its state left `starting`, or a new
    /// start began), then returns successfully, late.
    private func ignoreCancellation(life: Int) async {
        await Self.sleepIgnoringCancellation(.microseconds(index * 53 % 3_000))
        guard Task.isCancelled else { return }
        recorder.record(index, .startIgnoredCancellation, life: life)
        let began = ContinuousClock.now
        while state == .starting, self.life == life {
            if began.duration(to: .now) > Self.abandonCap {
                recorder.record(index, .startNeverAbandoned, life: life)
                return
            }
            await Self.sleepIgnoringCancellation(.milliseconds(1))
        }
    }

    /// Calls `stop()` on this service's tree, as a service that decides to shut its process down would.
    private func stopTree(life: Int) async {
        guard let runner = runner.withLock({ $0 }) else { return }
        recorder.record(index, .innerStopCalled, life: life)
        try? await runner.stop()
        recorder.record(index, .innerStopReturned, life: life)
    }

    /// The task's cap passed without a cancellation.
    private struct TaskExpired: Error {}

    private static func sleepUntilCancelled() async throws {
        try await Task.sleep(for: taskCap)
        throw TaskExpired()
    }

    /// Sleeps in a task of its own, so the caller's cancellation does not cut it short.
    static func sleepIgnoringCancellation(_ duration: Duration) async {
        await Task.detached { try? await Task.sleep(for: duration) }.value
    }
}
