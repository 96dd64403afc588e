/// Failed lives winding down: a new life of a service whose start failed begins only once that
/// `start()` returned and the tasks it added ended (DESIGN §4).
extension Coordinator {
    /// A start of the service failed after `start()` was called, and its machine holds back new
    /// lives: they may begin once that `start()` returned (it may have been abandoned) and the tasks
    /// it added ended (the caller reports those with ``failedLifePartEnded(_:)``). DESIGN §4: a task
    /// of an earlier life never meets a later one.
    func windDown(_ id: ServiceID, attempt: StartAttempt?, hasTasks: Bool) {
        var parts = hasTasks ? 1 : 0
        if let attempt, attempt.whenWorkEnds({ Task { await self.failedStartEnded(id, attempt: attempt) } }) {
            startsStillRunning[id] = attempt
            parts += 1
        }
        if parts == 0 {
            earlierLifeEnded(id)
        } else {
            windingDown[id] = parts
        }
    }

    /// The `start()` of a failed life returned (after the stop of its late success, if any). A
    /// later failed attempt's entry stays: only its own end removes it.
    func failedStartEnded(_ id: ServiceID, attempt: StartAttempt) {
        if startsStillRunning[id] === attempt { startsStillRunning[id] = nil }
        failedLifePartEnded(id)
    }

    /// One part of a failed life ended (its `start()`, or the wait for its tasks).
    func failedLifePartEnded(_ id: ServiceID) {
        guard let parts = windingDown[id] else { return }
        if parts > 1 {
            windingDown[id] = parts - 1
            return
        }
        windingDown[id] = nil
        earlierLifeEnded(id)
    }

    /// A failed life is over: the holders waiting for it ask again.
    func earlierLifeEnded(_ id: ServiceID) {
        guard let entry = held[id] else { return }
        resume(entry.machine.earlierLifeEnded(), with: nil)
        forgetIfUnused(id)
    }
}
