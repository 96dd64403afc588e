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
func startAndStop(
    _ root: any Service, clock: ManualClock, advancing: Duration? = nil
) async -> (events: [LifecycleEvent], start: (any Error)?, stop: (any Error)?) {
    let runner = ServiceRunner(root, signals: [], clock: clock)
    let events = collect(runner.events())
    var startError: (any Error)?
    var stopError: (any Error)?
    do { try await runner.start() } catch { startError = error }
    if startError == nil {
        let stop = Task { try await runner.stop() }
        if let advancing {
            await clock.waitForSleepers(1)
            clock.advance(by: advancing)
        }
        do { try await stop.value } catch { stopError = error }
    }
    return (await events.value, startError, stopError)
}
