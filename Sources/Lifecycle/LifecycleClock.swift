/// The user's clock, reduced to what the lifecycle needs: elapsed time and sleeping.
///
/// Reading `clock.now` once at creation keeps every type above this one free of the clock's generic
/// parameter, and gives every event a monotonic timestamp relative to the runner's creation.
struct LifecycleClock: Sendable {
    /// Monotonic time since this clock was made.
    let elapsed: @Sendable () -> Duration
    /// Sleeps for a duration on the user's clock; throws `CancellationError` when cancelled.
    let sleep: @Sendable (Duration) async throws -> Void

    init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
    }
}
