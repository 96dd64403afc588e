import Foundation
import Testing

/// SplitMix64: a small, fast, seeded generator, so every random tree can be built again from its seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }
}

/// The fault-injection settings, from the environment so any failure can be run again alone.
enum FaultSettings {
    /// `LIFECYCLE_FAULT_SEED`: the first seed (default 1). A failure prints the seed of its tree.
    static var firstSeed: UInt64 { environment("LIFECYCLE_FAULT_SEED").flatMap(UInt64.init) ?? 1 }
    /// `LIFECYCLE_FAULT_TREES`: how many random trees to run (default 2,000; 100,000 for a long run).
    static var treeCount: Int { environment("LIFECYCLE_FAULT_TREES").flatMap(Int.init) ?? 2_000 }

    /// `LIFECYCLE_FAULT_MAX_FAILURES`: how many failing runs end a campaign early (default 5); an
    /// evidence campaign sets it high to count every violation (only the first 5 are printed).
    static var failureLimit: Int { environment("LIFECYCLE_FAULT_MAX_FAILURES").flatMap(Int.init) ?? 5 }

    /// `LIFECYCLE_FAULT_SLOWDOWN`: how many times slower than a plain debug build the runs may be
    /// (default 1; `.ci/run` gives 10 under ThreadSanitizer). It scales the real-time caps of the
    /// probes and the time bound of a run, never what the lifecycle itself is given.
    static var slowdown: Int { max(1, environment("LIFECYCLE_FAULT_SLOWDOWN").flatMap(Int.init) ?? 1) }

    /// The newer fault kinds, each of which `LIFECYCLE_FAULT_SKIP` (a comma-separated list of their
    /// names) can leave out, to look at one defect at a time: `hugeTimeouts` crash a core that cannot
    /// take them, and a crash ends the whole campaign.
    enum Kind: String, CaseIterable {
        /// Tasks added by `start()` before it fails, and starts that sleep (so that a stop cancels them).
        case tasksInStart
        /// `start()` ignoring its cancellation in a `Parallel` stage.
        case stubbornStart
        /// `stop()` ignoring its cancellation, and the restart of its service by the other tree.
        case stubbornStop
        /// `startTimeout` and `gracefulShutdownTimeout` of `.seconds(Int64.max)`.
        case hugeTimeouts
        /// `stop()` of the tree from inside a `start()`, a background task or a `stop()`.
        case innerStops
        /// The driving modes, waiters, stops from several threads and refused calls (all `run()` without).
        case drivers
        /// A clock whose readings sometimes take a while.
        case slowClock
        /// Restart policies (DESIGN §10) on random services, with background tasks that fail to trigger them.
        case restarts
    }

    /// Whether the newer fault kind `kind` is injected (not named in `LIFECYCLE_FAULT_SKIP`).
    static func includes(_ kind: Kind) -> Bool { !skipped.contains(kind) }

    private static let skipped: Set<Kind> = Set(
        (environment("LIFECYCLE_FAULT_SKIP") ?? "").split(separator: ",").compactMap {
            Kind(rawValue: $0.trimmingCharacters(in: .whitespaces))
        })

    /// Records one issue per failing seed, with the command that runs that tree again alone.
    static func record(_ failures: [(seed: UInt64, violations: [String])], filter: String) {
        if failures.count > 5 { Issue.record("\(failures.count) seeds broke invariants; the first five follow") }
        // Per invariant: the first seeds that broke it, and how the first one did.
        var byInvariant: [String: (seeds: [UInt64], first: String)] = [:]
        for (seed, violations) in failures.sorted(by: { $0.seed < $1.seed }) {
            for violation in violations {
                let tag = violation.hasPrefix("[") ? String(violation.prefix { $0 != "]" }) + "]" : "[§4 invariants]"
                if byInvariant[tag]?.seeds.last == seed { continue }
                byInvariant[tag, default: ([], violation)].seeds.append(seed)
            }
        }
        for (tag, found) in byInvariant.sorted(by: { $0.key < $1.key }) {
            let seeds = found.seeds.prefix(8).map(String.init).joined(separator: ", ")
            print("\(filter): \(tag) broken by seeds \(seeds)\n    first: \(found.first)")
        }
        for (seed, violations) in failures.prefix(5) {
            Issue.record(
                """
                seed \(seed) broke \(violations.count) invariant(s); rerun with \
                LIFECYCLE_FAULT_SEED=\(seed) LIFECYCLE_FAULT_TREES=1 swift test --filter \(filter)
                \(violations.prefix(10).joined(separator: "\n"))
                """)
        }
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
