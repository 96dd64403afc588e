@testable import Lifecycle

/// What a fault service did, in one process-wide order (a sequence number per call).
final class FaultRecorder: Sendable {
    enum Kind: Equatable, Sendable {
        case startCalled, startReturned, startThrew, stopCalled, stopReturned, stopThrew, taskThrew
    }

    struct Entry: Sendable {
        let sequence: Int
        let service: Int
        let kind: Kind
    }

    private let entries = Locked<[Entry]>([])

    func record(_ service: Int, _ kind: Kind) {
        entries.withLock { $0.append(Entry(sequence: $0.count, service: service, kind: kind)) }
    }

    var all: [Entry] { entries.withLock { $0 } }
}

/// The faults one service carries.
struct Faults: Sendable, CustomStringConvertible {
    var startThrows = false
    var startHangs = false  // until cancelled by its startTimeout
    var stopThrows = false
    var stopHangs = false  // until cancelled by its gracefulShutdownTimeout
    var taskThrowsAfter: Duration?
    var yields = 0

    var description: String {
        var parts: [String] = []
        if startThrows { parts.append("start throws") }
        if startHangs { parts.append("start hangs") }
        if stopThrows { parts.append("stop throws") }
        if stopHangs { parts.append("stop hangs") }
        if let delay = taskThrowsAfter { parts.append("task throws after \(delay)") }
        return parts.isEmpty ? "healthy" : parts.joined(separator: ", ")
    }
}

/// The error a fault service throws; `index` says which service, `kind` which fault.
struct InjectedFault: Error, Equatable {
    enum Kind { case start, stop, task }
    let index: Int
    let kind: Kind
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

    init(index: Int, faults: Faults, recorder: FaultRecorder, dependencies: Dependencies, limit: Duration) {
        self.index = index
        self.faults = faults
        self.recorder = recorder
        self.name = "s\(index)"
        self.dependencies = dependencies
        self.startTimeout = faults.startHangs ? limit : nil
        self.gracefulShutdownTimeout = faults.stopHangs ? limit : .seconds(30)
    }

    func start() async throws {
        recorder.record(index, .startCalled)
        for _ in 0..<faults.yields { await Task.yield() }
        do {
            if faults.startHangs { try await hangUntilCancelled() }
            if faults.startThrows { throw InjectedFault(index: index, kind: .start) }
            if let delay = faults.taskThrowsAfter {
                try addTask { [index, recorder] in
                    try await Task.sleep(for: delay)
                    recorder.record(index, .taskThrew)
                    throw InjectedFault(index: index, kind: .task)
                }
            }
        } catch {
            recorder.record(index, .startThrew)
            throw error
        }
        recorder.record(index, .startReturned)
    }

    func stop() async throws {
        recorder.record(index, .stopCalled)
        for _ in 0..<faults.yields { await Task.yield() }
        do {
            if faults.stopHangs { try await hangUntilCancelled() }
            if faults.stopThrows { throw InjectedFault(index: index, kind: .stop) }
        } catch {
            recorder.record(index, .stopThrew)
            throw error
        }
        recorder.record(index, .stopReturned)
    }

    private func hangUntilCancelled() async throws {
        while true { try await Task.sleep(for: .seconds(60)) }
    }
}
