import Foundation
import Lifecycle
import Logging
import ServiceLifecycle

/// One measurement: a system, a shape, a size, and whether a consumer follows the events.
struct Case: Hashable, CustomStringConvertible {
    enum System: String { case lifecycle, blocking, servicegroup, floor, latency, report }
    let system: System
    /// `wide`, `chain`, `staged`; `flat` for ServiceGroup and the floor; the case name for latency
    /// and report cases.
    let shape: String
    let count: Int
    /// A live consumer of `events()` (Lifecycle only).
    let events: Bool

    var description: String { "\(system.rawValue)/\(shape)/\(count)/\(events ? "events" : "none")" }

    init(_ system: System, _ shape: String, _ count: Int, events: Bool = false) {
        self.system = system
        self.shape = shape
        self.count = count
        self.events = events
    }

    init?(parsing text: String) {
        let parts = text.split(separator: "/").map(String.init)
        guard parts.count == 4, let system = System(rawValue: parts[0]), let count = Int(parts[2]) else { return nil }
        self.init(system, parts[1], count, events: parts[3] == "events")
    }

    /// How many timed repetitions: enough work to see a median, little enough to finish.
    var repetitions: Int {
        if let override = Int(ProcessInfo.processInfo.environment["BENCH_REPETITIONS"] ?? "") { return override }
        switch system {
        case .servicegroup: return max(3, min(200, 100_000 / count))
        case .latency: return 21
        case .report: return max(3, min(50, 100_000 / count))
        case .lifecycle, .blocking, .floor: return max(5, min(200, 200_000 / count))
        }
    }
}

/// What a case measured, in nanoseconds per service (or per run, for latency cases).
struct Measurement {
    let medianNanoseconds: Double
    let peakBytesPerService: Double
}

extension Duration {
    var nanoseconds: Double {
        Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Runs one case in this process: one warm-up, then the timed repetitions.
func measure(_ benchCase: Case) async throws -> Measurement {
    let baseline = residentKilobytes("VmRSS:")
    var samples: [Double] = []
    for repetition in 0...benchCase.repetitions {
        let elapsed = try await runOnce(benchCase)
        if repetition > 0 { samples.append(elapsed.nanoseconds) }
    }
    let peak = residentKilobytes("VmHWM:")
    let perService = benchCase.system == .latency ? 1.0 : Double(benchCase.count)
    return Measurement(
        medianNanoseconds: median(samples) / perService,
        peakBytesPerService: Double(max(0, peak - baseline)) * 1024 / Double(benchCase.count))
}

/// One timed start + stop of a fresh tree.
func runOnce(_ benchCase: Case) async throws -> Duration {
    let clock = ContinuousClock()
    switch benchCase.system {
    case .floor:
        let services = (0..<benchCase.count).map { _ in Trivial() as any Lifecycle.Service }
        return try await clock.measure {
            for service in services { try await service.start() }
            for service in services.reversed() { try await service.stop() }
        }
    case .lifecycle:
        let (root, all) = Shape(rawValue: benchCase.shape)!.build(benchCase.count)
        let elapsed = try await clock.measure {
            let runner = ServiceRunner(root, signals: [])
            let consumer = benchCase.events ? consume(runner.events()) : nil
            try await runner.start()
            try await runner.stop()
            await check(consumer, saw: benchCase.count)
        }
        withExtendedLifetime(all) {}
        return elapsed
    case .blocking:
        let (root, all) = Shape(rawValue: benchCase.shape)!.buildBlocking(benchCase.count)
        let elapsed = try await clock.measure {
            let runner = BlockingRunner(root)
            let consumer = benchCase.events ? consume(runner.events()) : nil
            try runner.start()
            try runner.stop()
            await check(consumer, saw: benchCase.count)
        }
        withExtendedLifetime(all) {}
        return elapsed
    case .servicegroup:
        return try await runServiceGroup(benchCase.count)
    case .report:
        return measureReport(benchCase.shape, benchCase.count)
    case .latency:
        switch benchCase.shape {
        case "parallel-sleep": return try await parallelSleepStart(benchCase.count)
        default: return try await stopReaction(benchCase.count)
        }
    }
}

/// A live consumer of every event, counting them.
func consume(_ events: AsyncStream<LifecycleEvent>) -> Task<Int, Never> {
    Task {
        var received = 0
        for await _ in events { received += 1 }
        return received
    }
}

/// Waits for the consumer and checks it saw every event: four transitions per service, and more.
func check(_ consumer: Task<Int, Never>?, saw services: Int) async {
    if let received = await consumer?.value, received < 4 * services {
        fatalError("the consumer saw \(received) events for \(services) services")
    }
}

// MARK: ServiceGroup

/// Counts services that entered `run()`, and wakes the benchmark when all have.
final class Arrivals: Sendable {
    private let state: Locked<(count: Int, expected: Int, waiter: CheckedContinuation<Void, Never>?)>
    init(expected: Int) { state = Locked((0, expected, nil)) }

    func arrive() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.count += 1
            guard state.count == state.expected else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func waitForAll() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.count >= state.expected { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// A ServiceGroup service: its run is "started" on entry and "stops" when graceful shutdown comes.
final class GroupMember: ServiceLifecycle.Service {
    let arrivals: Arrivals
    init(_ arrivals: Arrivals) { self.arrivals = arrivals }
    func run() async throws {
        arrivals.arrive()
        try? await gracefulShutdown()
    }
}

func runServiceGroup(_ count: Int) async throws -> Duration {
    let arrivals = Arrivals(expected: count)
    let services = (0..<count).map { _ in GroupMember(arrivals) }
    let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    return try await ContinuousClock().measure {
        let group = ServiceGroup(services: services, logger: logger)
        let running = Task { try await group.run() }
        await arrivals.waitForAll()
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

// MARK: Latency

/// How long a Parallel stage of `count` services that each sleep 20 ms in `start` takes to start.
func parallelSleepStart(_ count: Int) async throws -> Duration {
    let sleepers = (0..<count).map { _ in Sleeper(.milliseconds(20)) as any Lifecycle.Service }
    let root = Trivial([Parallel(sleepers)])
    let runner = ServiceRunner(root, signals: [])
    let elapsed = try await ContinuousClock().measure { try await runner.start() }
    try await runner.stop()
    return elapsed
}

/// From `requestStop()` to the first `stop()` call, for a running tree of `count` services under `run()`.
func stopReaction(_ count: Int) async throws -> Duration {
    let clock = ContinuousClock()
    let stamped = Locked<ContinuousClock.Instant?>(nil)
    let (_, all) = Shape.wide.build(count)
    let root = StopStamp(Dependencies(all.map { $0 as any DependencyElement })) {
        let now = ContinuousClock().now
        stamped.withLock { if $0 == nil { $0 = now } }
    }
    let runner = ServiceRunner(root, signals: [])
    let running = Task { try await runner.run() }
    while !root.isRunning { try await Task.sleep(for: .milliseconds(1)) }
    let requested = clock.now
    runner.requestStop()
    try await running.value
    return requested.duration(to: stamped.withLock { $0 }!)
}
