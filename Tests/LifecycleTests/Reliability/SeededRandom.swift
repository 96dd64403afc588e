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

    /// Records one issue per failing seed, with the command that runs that tree again alone.
    static func record(_ failures: [(seed: UInt64, violations: [String])], filter: String) {
        for (seed, violations) in failures {
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
