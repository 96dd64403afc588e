@testable import Lifecycle

/// A one-shot latch: `open()` releases every `wait()`, now and later.
final class Gate: Sendable {
    private let state = Locked((isOpen: false, waiters: [CheckedContinuation<Void, Never>]()))

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens, ignoring cancellation (work that does not cooperate).
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    var isOpen: Bool { state.withLock { $0.isOpen } }
}

/// Counts what happened to the background tasks a service added, across its lives.
final class TaskLedger: Sendable {
    private let counts = Locked((began: 0, cancelled: 0, ended: 0))
    var began: Int { counts.withLock { $0.began } }
    var cancelled: Int { counts.withLock { $0.cancelled } }
    var ended: Int { counts.withLock { $0.ended } }

    /// A task that runs until cancelled, counting its beginning, its cancellation and its end.
    func loopUntilCancelled() async throws {
        counts.withLock { $0.began += 1 }
        defer { counts.withLock { $0.ended += 1 } }
        do {
            while true { try await Task.sleep(for: .seconds(1)) }
        } catch {
            counts.withLock { $0.cancelled += 1 }
            throw error
        }
    }
}

/// What a scripted service's `start()` does after adding its background task (if it adds one).
enum ScriptedStart: Sendable {
    case succeed
    case fail
    /// Waits until cancelled (cooperates), then throws `CancellationError`.
    case untilCancelled
    /// Waits for the gate ignoring cancellation, then returns.
    case ignoreCancellationUntil(Gate)
    /// Waits for the gate ignoring cancellation, then throws.
    case failAfter(Gate)
}

/// A service whose behaviour changes from one life to the next: life `n` uses `starts[n]` (the last
/// one when there are fewer), adds a ``TaskLedger`` task when `addsTask`, and stops as `stopGate`
/// says (the first stop waits for it, ignoring cancellation; later ones return at once).
final class ScriptedService: Service {
    let name: String
    let dependencies: Dependencies
    let gracefulShutdownTimeout: Duration
    let startTimeout: Duration?
    let ledger = TaskLedger()
    private let starts: [ScriptedStart]
    private let addsTask: Bool
    private let stopGate: Gate?
    private let calls = Locked((starts: 0, stops: 0, stopsReturned: 0))

    init(
        _ name: String, dependencies: Dependencies = [], starts: [ScriptedStart] = [.succeed], addsTask: Bool = false,
        stopGate: Gate? = nil, gracefulShutdownTimeout: Duration = .seconds(10), startTimeout: Duration? = nil
    ) {
        self.name = name
        self.dependencies = dependencies
        self.starts = starts
        self.addsTask = addsTask
        self.stopGate = stopGate
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
        self.startTimeout = startTimeout
    }

    var startCount: Int { calls.withLock { $0.starts } }
    var stopCount: Int { calls.withLock { $0.stops } }
    var stopsReturned: Int { calls.withLock { $0.stopsReturned } }

    func start() async throws {
        let life = calls.withLock { calls in
            calls.starts += 1
            return calls.starts - 1
        }
        if addsTask { try addTask { [ledger] in try await ledger.loopUntilCancelled() } }
        switch starts[min(life, starts.count - 1)] {
        case .succeed:
            return
        case .fail:
            throw ProbeError(name: name)
        case .untilCancelled:
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
            throw CancellationError()
        case .ignoreCancellationUntil(let gate):
            await gate.wait()
        case .failAfter(let gate):
            await gate.wait()
            throw ProbeError(name: name)
        }
    }

    func stop() async throws {
        let isFirst = calls.withLock { calls in
            calls.stops += 1
            return calls.stops == 1
        }
        if isFirst, let stopGate { await stopGate.wait() }
        calls.withLock { $0.stopsReturned += 1 }
    }
}

/// Polls `condition` every millisecond for at most `limit` (a generous bound: only a hang fails).
func eventually(within limit: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
