@testable import Lifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An observer that keeps every event of its runner, and says whether the stream finished.
final class EventTape: LifecycleObserver {
    private let tape = Locked<(events: [LifecycleEvent], isFinished: Bool)>(([], false))

    func observe(_ stream: AsyncStream<LifecycleEvent>) async {
        for await event in stream { tape.withLock { $0.events.append(event) } }
        tape.withLock { $0.isFinished = true }
    }

    var events: [LifecycleEvent] { tape.withLock { $0.events } }
    var isFinished: Bool { tape.withLock { $0.isFinished } }
}

extension LifecycleEvent {
    /// An event the driver puts on a runner's stream, to say "everything before me happened before
    /// the driver's next call"; the checks read it and skip it otherwise.
    static func driverMarker() -> LifecycleEvent {
        LifecycleEvent(service: markerID, from: .idle, to: .idle, time: .zero, kind: .taskFailed)
    }

    static let markerID = ServiceID(name: "driver-marker", number: -1)

    var isDriverMarker: Bool { service == Self.markerID }
}

/// The continuous clock, except that some of its readings take a while (50 to 400 µs), as on a
/// loaded machine: every window between a decision and the event that tells it grows. Armed (on
/// every run, at the moment a tree is asked to stop from several threads), its next reading takes 0.5 to 2 ms:
/// the thread that made the first request is as if preempted before it tells the stop's cause.
struct SlowClock: Clock {
    typealias Duration = Swift.Duration
    typealias Instant = ContinuousClock.Instant

    private let state: Locked<(random: SeededRandom, armed: Int)>
    private let isSlow: Bool

    init(seed: UInt64, isSlow: Bool) {
        state = Locked((SeededRandom(seed: seed ^ 0xC10C_C10C), 0))
        self.isSlow = isSlow
    }

    /// Makes the next `readings` readings slow (on any run, slow or not).
    func arm(readings: Int) {
        state.withLock { $0.armed = readings }
    }

    var now: Instant {
        let pause = state.withLock { state -> Int in
            if state.armed > 0 {
                state.armed -= 1
                return Int.random(in: 500...2_000, using: &state.random)
            }
            guard isSlow else { return 0 }
            return state.random.chance(20) ? Int.random(in: 50...400, using: &state.random) : 0
        }
        if pause > 0 { usleep(UInt32(pause)) }
        return ContinuousClock.now
    }

    var minimumResolution: Duration { ContinuousClock().minimumResolution }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try await ContinuousClock().sleep(until: deadline, tolerance: tolerance)
    }
}

/// Awaits `task` for at most `limit`; `nil` when it did not end in time (the task goes on).
func value<T: Sendable>(of task: Task<T, Never>, within limit: Duration) async -> T? {
    let race = Locked<(done: Bool, continuation: CheckedContinuation<T?, Never>?)>((false, nil))
    @Sendable func finish(_ value: T?) {
        let continuation: CheckedContinuation<T?, Never>? = race.withLock { race in
            guard !race.done, let continuation = race.continuation else { return nil }
            race.done = true
            return continuation
        }
        continuation?.resume(returning: value)
    }
    return await withCheckedContinuation { continuation in
        race.withLock { $0.continuation = continuation }
        let timer = Task {
            do {
                try await Task.sleep(for: max(limit, .zero))
                finish(nil)
            } catch {}  // cancelled: the task ended first
        }
        Task {
            let result = await task.value
            finish(result)
            timer.cancel()
        }
    }
}

/// Awaits a throwing task's result for at most `limit`; `nil` when it did not end in time.
func result<T: Sendable>(of task: Task<T, any Error>, within limit: Duration) async -> Result<T, any Error>? {
    await value(of: Task { await task.result }, within: limit)
}

/// Sleeps for `duration`, or only yields when it is too short to sleep (as the suite always did).
func pause(for duration: Duration) async {
    if duration > .microseconds(100) {
        try? await Task.sleep(for: duration)
    } else {
        await Task.yield()
    }
}

/// Prints the seeds in flight when the process crashes (a trap, a bad access, an abort), so that a
/// crash is a reproducible finding like any violation; then lets the previous handler (Swift's
/// backtracer) do its work.
enum CrashReport {
    /// Seeds in flight, 0 for a free slot: slots 0..<32 for the async suite, 32 for the blocking one.
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<UInt64> = {
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: slotCount)
        slots.initialize(repeating: 0, count: slotCount)
        return slots
    }()
    static let slotCount = 33
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE]
    /// The handlers that were there before, by signal number.
    nonisolated(unsafe) static let previous: UnsafeMutablePointer<sigaction> = {
        let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
        previous.initialize(repeating: sigaction(), count: 64)
        return previous
    }()
    /// Where the handler writes its message: allocated before any crash.
    nonisolated(unsafe) static let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bufferSize)
    static let bufferSize = 1_024
    private static let installed = Locked(false)

    /// Installs the handler once per process.
    static func install() {
        let first = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        _ = slots
        _ = previous
        _ = buffer
        for number in signals {
            var action = sigaction()
            #if canImport(Darwin)
                action.__sigaction_u.__sa_handler = reportCrash
            #else
                action.__sigaction_handler.sa_handler = reportCrash
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, previous + Int(number))
        }
    }

    /// Marks `seeds` as in flight in the slots from `first` (and frees the rest of them up to `count`).
    static func inFlight(_ seeds: [UInt64], from first: Int, count: Int) {
        for slot in 0..<count { slots[first + slot] = slot < seeds.count ? seeds[slot] : 0 }
    }
}

/// Writes the seeds in flight to stderr with async-signal-safe calls only (into a buffer made
/// beforehand), restores the previous handler, and returns: the faulting instruction runs again
/// and meets that handler.
private func reportCrash(_ number: Int32) {
    let buffer = CrashReport.buffer
    var length = 0
    func put(_ text: StaticString) {
        text.withUTF8Buffer { bytes in
            for byte in bytes where length < CrashReport.bufferSize - 24 {
                buffer[length] = byte
                length += 1
            }
        }
    }
    func put(_ number: UInt64) {
        var divisor: UInt64 = 1
        while number / divisor >= 10 { divisor *= 10 }
        while divisor > 0, length < CrashReport.bufferSize - 1 {
            buffer[length] = UInt8(48 + (number / divisor) % 10)
            length += 1
            divisor /= 10
        }
    }
    put("\nfault injection: the process crashed with these seeds in flight:")
    for slot in 0..<(CrashReport.slotCount - 1) where CrashReport.slots[slot] != 0 {
        put(" ")
        put(CrashReport.slots[slot])
    }
    if CrashReport.slots[CrashReport.slotCount - 1] != 0 {
        put(" (blocking suite: ")
        put(CrashReport.slots[CrashReport.slotCount - 1])
        put(")")
    }
    put("\nrerun one with LIFECYCLE_FAULT_SEED=N LIFECYCLE_FAULT_TREES=1 swift test --filter FaultInjection\n")
    _ = write(2, buffer, length)
    sigaction(number, CrashReport.previous + Int(number), nil)
}
