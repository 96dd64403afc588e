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
        // A sleep of `.seconds(Int64.max)` traps in the standard library's clocks: clamp it.
        sleep = { try await clock.sleep(for: min($0, Duration.practicallyNever)) }
    }
}

extension Duration {
    /// About 34,000 years: the longest time the lifecycle waits for anything.
    ///
    /// A user's timeout above it (`.seconds(Int64.max)` is a natural way to write "never") is
    /// treated as this, so that no sum of timeouts or sleep on a clock can overflow (DESIGN §4).
    static let practicallyNever = Duration.seconds(Int64(1) << 40)
}
