import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signals `run()` turns into a graceful stop.
public enum Signals {
    /// SIGINT (Ctrl-C) and SIGTERM (what `kill` and service managers send).
    public static let `default`: [Int32] = [SIGINT, SIGTERM]
    /// No signal handling: for tests, and for programs that handle signals themselves.
    public static let none: [Int32] = []
}

/// The signal handling of one `run()`: installed at the start, restored by ``restore()``.
///
/// The first signal requests a stop, with the signal as its cause; any later one escalates. The
/// process's previous handling of each signal is saved when the first `run()` takes it and put back
/// when the last one gives it up, so runs that overlap restore it correctly too.
final class SignalHandling {
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]

    init(_ signals: [Int32], runner: ServiceRunner) {
        self.signals = Array(Set(signals)).sorted()
        let received = SignalCount()
        let queue = DispatchQueue(label: "lifecycle.signals")
        SignalDispositions.shared.take(self.signals)
        sources = self.signals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let count = received.value.add(1, ordering: .relaxed).newValue
                if count == 1 {
                    runner.requestStop(cause: .signal(number))
                } else {
                    runner.escalate(signal: number)
                }
            }
            source.resume()
            return source
        }
    }

    /// Stops listening and gives back the process's previous handling of the signals.
    func restore() {
        for source in sources { source.cancel() }
        SignalDispositions.shared.giveBack(signals)
    }
}

/// The process-wide record of which signals `run()` holds, and what their handling was before.
final class SignalDispositions: Sendable {
    /// The record of the process.
    static let shared = SignalDispositions()

    private struct Held {
        var count: Int
        var previous: sigaction
    }

    // `sigaction` is a plain C struct of values; it is only touched inside this Mutex.
    private let held = Mutex<[Int32: Held]>([:])

    /// Ignores the signals' default action (so they reach the dispatch sources), saving the old one.
    func take(_ signals: [Int32]) {
        held.withLock { held in
            for number in signals {
                if held[number] != nil {
                    held[number]!.count += 1
                    continue
                }
                var previous = sigaction()
                sigaction(number, nil, &previous)
                var ignore = sigaction()
                #if canImport(Darwin)
                    ignore.__sigaction_u.__sa_handler = SIG_IGN
                #else
                    ignore.__sigaction_handler.sa_handler = SIG_IGN
                #endif
                sigaction(number, &ignore, nil)
                held[number] = Held(count: 1, previous: previous)
            }
        }
    }

    /// Puts back the previous handling of each signal nobody holds any longer.
    func giveBack(_ signals: [Int32]) {
        held.withLock { held in
            for number in signals {
                guard var entry = held[number] else { continue }
                entry.count -= 1
                if entry.count > 0 {
                    held[number] = entry
                    continue
                }
                sigaction(number, &entry.previous, nil)
                held[number] = nil
            }
        }
    }
}

/// How many of the watched signals arrived during one `run()`.
private final class SignalCount: Sendable {
    let value = Atomic(0)
}
