/// A runner's shutdown settings and the one timer that outlives a call: the deadline's escalation.
final class ShutdownControl: Sendable {
    /// What the runner was made with.
    let settings: ShutdownSettings
    /// The deadline's timer while it sleeps, and whether the stop is over (a late timer is cancelled).
    private let timer = Locked<(task: Task<Void, Never>?, isOver: Bool)>((nil, false))

    init(_ settings: ShutdownSettings) {
        self.settings = settings
    }

    /// Keeps the deadline's timer, to cancel it when the stop is over (at once if it is already).
    func setDeadlineTimer(_ task: Task<Void, Never>) {
        let isLate = timer.withLock { timer in
            if !timer.isOver { timer.task = task }
            return timer.isOver
        }
        if isLate { task.cancel() }
    }

    /// The tree is down and its events end: the deadline no longer matters.
    func stopEnded() {
        let task = timer.withLock { timer in
            defer { timer = (nil, true) }
            return timer.task
        }
        task?.cancel()
    }
}
