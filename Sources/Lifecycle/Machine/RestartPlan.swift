/// The pure decisions of a restart (DESIGN §10): whether one more may be made and how long to wait
/// first, and which services it takes in which order. No clock, no task: times are passed in.
enum RestartPlan {
    /// What a failure of a service with a restart policy leads to.
    enum Decision: Sendable, Equatable {
        /// Restart after `delay`; `attempt` counts this one among the restarts in the window.
        case restart(attempt: Int, delay: Duration)
        /// Fail fast (DESIGN §4): the policy is `.never`, or the window holds `maxRestarts` already.
        case giveUp
    }

    /// When one service's restarts were made, for the sliding window of its policy.
    struct History: Sendable, Equatable {
        /// Restart times on the runner's clock, oldest first, all within the window of the last decision.
        private(set) var times: [Duration] = []

        /// The service failed at `now`: decide, and count the restart when there is one.
        mutating func failed(at now: Duration, policy: RestartPolicy) -> Decision {
            guard case .onFailure(let maxRestarts, let window, let backoff) = policy else { return .giveUp }
            times.removeAll { now - $0 >= window }
            guard times.count < maxRestarts else { return .giveUp }
            times.append(now)
            return .restart(attempt: times.count, delay: backoff.delay(forAttempt: times.count))
        }
    }

    /// The services a restart of `failed` takes: it and every service that depends on it,
    /// transitively, among `dependencies` (what each held service depends on), in start order
    /// (dependencies first; ties by first-seen instance number, so the order is stable).
    static func members(restarting failed: ServiceID, dependencies: [ServiceID: [ServiceID]]) -> [ServiceID] {
        var dependents: [ServiceID: [ServiceID]] = [:]
        for (service, needs) in dependencies {
            for need in needs { dependents[need, default: []].append(service) }
        }
        // Everything that depends on `failed`, transitively.
        var taken: Set<ServiceID> = [failed]
        var queue = [failed]
        while let next = queue.popLast() {
            for dependent in dependents[next, default: []] where taken.insert(dependent).inserted {
                queue.append(dependent)
            }
        }
        // Start order: a member comes after every member it depends on (Kahn's algorithm).
        var waitingFor: [ServiceID: Int] = [:]
        for member in taken {
            waitingFor[member] = Set(dependencies[member, default: []]).filter(taken.contains).count
        }
        var ready = taken.filter { waitingFor[$0] == 0 }.sorted { $0.number > $1.number }
        var order: [ServiceID] = []
        while let next = ready.popLast() {
            order.append(next)
            for dependent in Set(dependents[next, default: []]) where taken.contains(dependent) {
                waitingFor[dependent]! -= 1
                if waitingFor[dependent] == 0 {
                    ready.append(dependent)
                    ready.sort { $0.number > $1.number }
                }
            }
        }
        return order
    }
}
