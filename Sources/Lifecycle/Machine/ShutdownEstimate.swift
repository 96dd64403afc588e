/// The longest a tree's stop can take when every `stop()` uses its whole `gracefulShutdownTimeout`,
/// and the chain of stops that takes it.
///
/// Pure: it replays the coordinator's release walk (see `Coordinator+Release.swift`) on a simulated
/// clock, without a task. A node stops when its last holder releases it; after its own stop its
/// stages are released last stage first; a stage of several services releases them together and
/// ends when the slowest of them (with what it stops in turn) has ended. So sequential stages add
/// up, a `Parallel` stage takes its slowest member, and a shared service is counted once, on the
/// chain of the holder that releases it last.
struct ShutdownEstimate: Sendable, Equatable {
    /// The time the whole stop takes, in the worst case.
    let worstCase: Duration
    /// The nodes (indices) whose stops follow one another to make that time, the root first.
    let path: [Int]

    /// The estimate for a tree given as `stages[i]` (node i's dependency stages, as indices) and
    /// `timeouts[i]` (node i's `gracefulShutdownTimeout`); node 0 is the root.
    init(stages: [[[Int]]], timeouts: [Duration]) {
        var simulation = Simulation(stages: stages, timeouts: timeouts)
        (worstCase, path) = simulation.run()
    }
}

/// The release walk on a simulated clock: strands of steps, woken in time order.
private struct Simulation {
    enum Step {
        case release(Int)
        case stage([Int])
    }

    struct Strand {
        var steps: [Step]
        let parent: Int?
        var pendingChildren = 0
        /// The last node this strand's chain stopped (the latest-ending chain, after a stage).
        var tail: Int?
    }

    let stages: [[[Int]]]
    let timeouts: [Duration]
    /// How many holders still hold each node: the root has one, every listing in a stage adds one.
    var holders: [Int]
    /// For each stopped node, the node whose stop its own stop waited for.
    var previous: [Int?]
    var strands: [Strand] = []
    var queue = WakeQueue()

    init(stages: [[[Int]]], timeouts: [Duration]) {
        self.stages = stages
        self.timeouts = timeouts
        holders = Array(repeating: 0, count: stages.count)
        previous = Array(repeating: nil, count: stages.count)
        if !stages.isEmpty { holders[0] = 1 }
        for node in stages { for stage in node { for member in stage { holders[member] += 1 } } }
    }

    mutating func run() -> (Duration, [Int]) {
        guard !stages.isEmpty else { return (.zero, []) }
        strands.append(Strand(steps: [.release(0)], parent: nil))
        queue.push(at: .zero, strand: 0)
        while let (time, strand) = queue.pop() {
            if let end = advance(strand, at: time) {
                return (end.time, chain(endingAt: end.tail))
            }
        }
        return (.zero, [])
    }

    /// Runs a strand from `time` until it waits (a stop, a stage); returns the end of the whole walk
    /// when the root strand ends.
    private mutating func advance(_ first: Int, at time: Duration) -> (time: Duration, tail: Int?)? {
        var current = first
        while true {
            while strands[current].steps.isEmpty {
                guard let parent = strands[current].parent else { return (time, strands[current].tail) }
                // Strands end in time order, so the last child to end carries the longest chain.
                strands[parent].pendingChildren -= 1
                strands[parent].tail = strands[current].tail
                guard strands[parent].pendingChildren == 0 else { return nil }
                current = parent
            }
            switch strands[current].steps.removeLast() {
            case .release(let node):
                holders[node] -= 1
                guard holders[node] == 0 else { continue }
                previous[node] = strands[current].tail
                strands[current].tail = node
                for stage in stages[node] { strands[current].steps.append(.stage(stage)) }
                queue.push(at: time + timeouts[node], strand: current)
                return nil
            case .stage(let members):
                guard members.count > 1 else {
                    strands[current].steps.append(.release(members[0]))
                    continue
                }
                strands[current].pendingChildren = members.count
                for member in members {
                    strands.append(Strand(steps: [.release(member)], parent: current, tail: strands[current].tail))
                    queue.push(at: time, strand: strands.count - 1)
                }
                return nil
            }
        }
    }

    /// The chain of stops that ends with `tail`, the first stop first.
    private func chain(endingAt tail: Int?) -> [Int] {
        var path: [Int] = []
        var node = tail
        while let current = node {
            path.append(current)
            node = previous[current]
        }
        return path.reversed()
    }
}

/// A binary min-heap of wake-ups by time; equal times in the order they were pushed.
private struct WakeQueue {
    private var heap: [(time: Duration, order: Int, strand: Int)] = []
    private var pushed = 0

    mutating func push(at time: Duration, strand: Int) {
        pushed += 1
        heap.append((time, pushed, strand))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Duration, Int)? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = parent * 2 + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count, precedes(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, precedes(heap[right], heap[smallest]) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (first.time, first.strand)
    }

    private func precedes(
        _ lhs: (time: Duration, order: Int, strand: Int), _ rhs: (time: Duration, order: Int, strand: Int)
    ) -> Bool {
        lhs.time < rhs.time || (lhs.time == rhs.time && lhs.order < rhs.order)
    }
}
