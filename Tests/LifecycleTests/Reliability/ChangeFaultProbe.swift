import LifecycleTesting

@testable import Lifecycle

/// A service for the change fault injection: logs its calls to a kit ``ProbeLog`` (so the kit's
/// ``InvariantChecker`` reads them), has a restart policy, a background task the test can make
/// throw (`crash()`), a first start that may throw, and starts that may take a real instant.
final class ChangeProbe: Service, Sendable {
    let name: String
    let dependencies: Dependencies
    let restartPolicy: RestartPolicy
    let log: ProbeLog
    /// Real time each `start()` takes (zero: only a yield), so a stop request can come while it runs.
    let startDelay: Duration
    private let state = Locked(
        (lives: 0, failingStarts: 0, trigger: AsyncStream<Void>.Continuation?.none))

    init(
        _ name: String, dependencies: Dependencies = [], policy: RestartPolicy = .never, log: ProbeLog,
        failingStarts: Int = 0, startDelay: Duration = .zero
    ) {
        self.name = name
        self.dependencies = dependencies
        self.restartPolicy = policy
        self.log = log
        self.startDelay = startDelay
        state.withLock { $0.failingStarts = failingStarts }
    }

    /// Whether its policy lets a crash restart it.
    var restarts: Bool { restartPolicy != .never }

    /// The current life's background task throws `Boom(name:)` (nothing when it has no running life).
    func crash() { _ = state.withLock { $0.trigger }?.yield() }

    func start() async throws {
        let (life, fails) = state.withLock { state in
            state.lives += 1
            state.trigger = nil
            guard state.failingStarts > 0 else { return (state.lives, false) }
            state.failingStarts -= 1
            return (state.lives, true)
        }
        let id = serviceID
        log.record(id, life: life, .start, .began)
        do {
            if startDelay > .zero { try await Task.sleep(for: startDelay) } else { await Task.yield() }
        } catch {
            log.record(id, life: life, .start, .threw(cancelled: true))
            throw error
        }
        if fails {
            log.record(id, life: life, .start, .threw(cancelled: false))
            throw Boom(name: name)
        }
        // The trigger is set before the log says it runs, so a crash of a running life always lands.
        let (stream, trigger) = AsyncStream<Void>.makeStream()
        state.withLock { $0.trigger = trigger }
        log.record(id, life: life, .start, .returned)
        try addTask { [name, log] in
            log.record(id, life: life, .task, .began)
            for await _ in stream {
                log.record(id, life: life, .task, .threw(cancelled: false))
                throw Boom(name: name)
            }
            // The stream ends only when the task is cancelled (its stop).
            log.record(id, life: life, .task, .threw(cancelled: true))
            throw CancellationError()
        }
    }

    func stop() async throws {
        let life = state.withLock { state in
            state.trigger = nil
            return state.lives
        }
        log.record(serviceID, life: life, .stop, .began)
        await Task.yield()
        log.record(serviceID, life: life, .stop, .returned)
    }
}

/// The change fault injection's own reading of a call log: a service's lives never overlap, no
/// service starts while one of its dependencies is not up, no dependency stops while a dependent
/// is not down, and everything is down at the end.
struct ChangeLifeCheck {
    private enum Phase: String { case down, starting, up, stopping }

    /// The services whose last start returned and whose stop has not begun, in `calls`.
    static func upServices(_ calls: [ProbeCall]) -> Set<ServiceID> {
        var up: Set<ServiceID> = []
        for call in calls.sorted(by: { $0.sequence < $1.sequence }) {
            switch (call.phase, call.kind) {
            case (.start, .returned): up.insert(call.service)
            case (.stop, .began), (.start, .began): up.remove(call.service)
            default: break
            }
        }
        return up
    }

    /// The violations in `calls` (sorted by sequence) for services whose direct dependencies are
    /// `dependencies`.
    static func violations(_ calls: [ProbeCall], dependencies: [ServiceID: [ServiceID]]) -> [String] {
        var dependents: [ServiceID: [ServiceID]] = [:]
        for (service, direct) in dependencies {
            for dependency in direct { dependents[dependency, default: []].append(service) }
        }
        var phase: [ServiceID: Phase] = [:]
        var found: [String] = []
        func now(_ id: ServiceID) -> Phase { phase[id] ?? .down }
        for call in calls where call.phase != .task {
            let id = call.service
            let at = "#\(call.sequence) \(id.name)"
            switch (call.phase, call.kind) {
            case (.start, .began):
                if now(id) != .down { found.append("[lives overlap] \(at) start began while \(now(id).rawValue)") }
                for dependency in dependencies[id] ?? [] where now(dependency) != .up {
                    found.append(
                        "[dependency down] \(at) start began while its dependency \(dependency.name) is \(now(dependency).rawValue)"
                    )
                }
                phase[id] = .starting
            case (.start, .returned):
                phase[id] = .up
            case (.start, .threw):
                phase[id] = .down
            case (.stop, .began):
                if now(id) != .up { found.append("[lives overlap] \(at) stop began while \(now(id).rawValue)") }
                for dependent in dependents[id] ?? [] where now(dependent) != .down {
                    found.append(
                        "[dependency down] \(at) stop began while its dependent \(dependent.name) is \(now(dependent).rawValue)"
                    )
                }
                phase[id] = .stopping
            case (.stop, _):
                phase[id] = .down
            default:
                break
            }
        }
        for (id, left) in phase where left != .down {
            found.append("[left running] \(id.name) is \(left.rawValue) at the end")
        }
        return found
    }
}
