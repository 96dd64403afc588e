@testable import Lifecycle

/// A service whose start adds a background task that loops until cancelled, counting the cancellation.
final class LoopingTaskService: Service {
    let name: String
    private let cancellations = Locked(0)
    init(_ name: String = "looping") { self.name = name }
    var cancelCount: Int { cancellations.withLock { $0 } }

    func start() async throws {
        try addTask { [self] in
            do {
                while true { try await Task.sleep(for: .seconds(1)) }
            } catch {
                self.cancellations.withLock { $0 += 1 }
                throw error
            }
        }
    }
}

/// A service whose background task throws `ProbeError` after `delay` (at once by default).
final class FailingTaskService: Service {
    let name: String
    let dependencies: Dependencies
    let delay: Duration
    init(_ name: String = "failing-task", dependencies: Dependencies = [], after delay: Duration = .zero) {
        self.name = name
        self.dependencies = dependencies
        self.delay = delay
    }

    func start() async throws {
        try addTask { [name, delay] in
            if delay > .zero { try await Task.sleep(for: delay) }
            throw ProbeError(name: name)
        }
    }
}
