import LifecycleTesting

/// Collects every event of a stream until it finishes.
func collect(_ stream: AsyncStream<LifecycleEvent>) -> Task<[LifecycleEvent], Never> {
    Task {
        var events: [LifecycleEvent] = []
        for await event in stream { events.append(event) }
        return events
    }
}

/// Runs `root` to the end on `clock`: start, then stop; returns the events and what each call threw.
///
/// With `drivingTime`, every sleep on the clock is woken as soon as it is armed, until the stop
/// ends: which timeout is armed first (a watchdog's, a probe's) is the scheduler's choice.
func startAndStop(
    _ root: any Service, clock: ManualClock, drivingTime: Bool = false
) async -> (events: [LifecycleEvent], start: (any Error)?, stop: (any Error)?) {
    let runner = ServiceRunner(root, signals: [], clock: clock)
    let events = collect(runner.events())
    var startError: (any Error)?
    var stopError: (any Error)?
    do { try await runner.start() } catch { startError = error }
    if startError == nil {
        let finished = Locked(false)
        let stop = Task { () async -> (any Error)? in
            defer { finished.withLock { $0 = true } }
            do { try await runner.stop() } catch { return error }
            return nil
        }
        while drivingTime, !finished.withLock({ $0 }) {
            clock.advanceToNextDeadline()
            try? await Task.sleep(for: .milliseconds(1))
        }
        stopError = await stop.value
    }
    return (await events.value, startError, stopError)
}
