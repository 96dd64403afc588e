@testable import Lifecycle

/// A shared, ordered log of every start and stop call, across services.
final class CallLog: Sendable {
    enum Call: Equatable, Sendable, CustomStringConvertible {
        case start(String)
        case stop(String)
        var description: String {
            switch self {
            case .start(let name): "start \(name)"
            case .stop(let name): "stop \(name)"
            }
        }
    }

    private let calls = Locked<[Call]>([])

    func append(_ call: Call) { calls.withLock { $0.append(call) } }
    var all: [Call] { calls.withLock { $0 } }
    var starts: [String] { all.compactMap { if case .start(let name) = $0 { name } else { nil } } }
    var stops: [String] { all.compactMap { if case .stop(let name) = $0 { name } else { nil } } }
}

/// What a probe's start or stop does when called.
enum ProbeBehaviour: Sendable {
    /// Returns at once.
    case succeed
    /// Throws `ProbeError(name)`.
    case fail
    /// Sleeps (on the real clock) then returns; cancellation makes it throw.
    case delay(Duration)
    /// Yields a few times then throws: a failure that comes a moment later.
    case failAfterYield
    /// Never returns, even when cancelled: a hung stop or start.
    case hang
    /// Waits until cancelled, then throws `CancellationError`.
    case untilCancelled
}

/// The error a probe throws.
struct ProbeError: Error, Equatable, CustomStringConvertible {
    let name: String
    var description: String { "\(name) failed" }
}

/// A service that logs every call and does what the test says.
final class ProbeService: Service {
    let name: String
    let dependencies: Dependencies
    let log: CallLog
    let startBehaviour: ProbeBehaviour
    let stopBehaviour: ProbeBehaviour
    let gracefulShutdownTimeout: Duration
    let startTimeout: Duration?
    private let counts = Locked((starts: 0, stops: 0, stopSawCancellation: false))

    init(
        _ name: String, log: CallLog, dependencies: Dependencies = [], start: ProbeBehaviour = .succeed,
        stop: ProbeBehaviour = .succeed, gracefulShutdownTimeout: Duration = .seconds(10), startTimeout: Duration? = nil
    ) {
        self.name = name
        self.log = log
        self.dependencies = dependencies
        self.startBehaviour = start
        self.stopBehaviour = stop
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
        self.startTimeout = startTimeout
    }

    var startCount: Int { counts.withLock { $0.starts } }
    var stopCount: Int { counts.withLock { $0.stops } }
    var stopSawCancellation: Bool { counts.withLock { $0.stopSawCancellation } }

    func start() async throws {
        counts.withLock { $0.starts += 1 }
        log.append(.start(name))
        try await perform(startBehaviour)
    }

    func stop() async throws {
        counts.withLock { $0.stops += 1 }
        log.append(.stop(name))
        if Task.isCancelled { counts.withLock { $0.stopSawCancellation = true } }
        try await perform(stopBehaviour)
    }

    private func perform(_ behaviour: ProbeBehaviour) async throws {
        switch behaviour {
        case .succeed:
            return
        case .fail:
            throw ProbeError(name: name)
        case .delay(let duration):
            try await Task.sleep(for: duration)
        case .failAfterYield:
            for _ in 0..<5 { await Task.yield() }
            throw ProbeError(name: name)
        case .hang:
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never resumed
        case .untilCancelled:
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            if Task.isCancelled { counts.withLock { $0.stopSawCancellation = true } }
            throw CancellationError()
        }
    }
}
