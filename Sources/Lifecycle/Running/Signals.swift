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
///
/// Pass one of these, or any array of signal numbers, as `signals:` to ``ServiceRunner`` or
/// `service.run(signals:)`. The first watched signal asks the tree to stop (the cause,
/// ``StopCause/signal(_:)``, is an event); a signal that arrives while the tree is already stopping
/// (a second one, or one after a `requestStop()` or a failure) escalates
/// (``StopCause/escalation(_:)``): the stops in flight are cancelled and the remaining ones run
/// already cancelled. `run()` still returns normally when the stops' only errors are those
/// cancellations.
///
/// - Note: A signal must be deliverable to some thread of the process. `kill(getpid(), SIGTERM)`
///   and signals from other processes are; `raise()` from a Swift concurrency task is not, because
///   it targets the calling thread, and the threads of the concurrency pool block signals.
public enum Signals {
    /// SIGINT (Ctrl-C) and SIGTERM (what `kill` and service managers send).
    public static let `default`: [Int32] = [SIGINT, SIGTERM]
    /// No signal handling: for tests, and for programs that handle signals themselves.
    /// Nothing is installed, so the process's own handling of every signal stays as it is.
    public static let none: [Int32] = []
}

/// The signal handling of one `run()`: installed at the start, restored by ``restore()``.
///
/// The first signal requests a stop, with the signal as its cause; a signal that finds the tree
/// already stopping escalates.
final class SignalHandling: Sendable {
    private let signals: [Int32]
    private let token: Int

    init(_ signals: [Int32], runner: ServiceRunner) {
        self.signals = Array(Set(signals)).sorted()
        token = SignalRouter.shared.take(self.signals) { number in
            // The first request wins; a signal that finds the tree already stopping (after an
            // earlier signal, a `requestStop()` or a failure) can only mean "hurry": it escalates.
            runner.signalArrived(number)
        }
    }

    /// Stops listening and gives back the process's previous handling of the signals.
    func restore() {
        SignalRouter.shared.giveBack(signals, token: token)
    }
}

/// The process-wide owner of the signal handlers `run()` installs, and of what was there before.
///
/// Each watched signal gets a small C handler that writes the signal's number to a pipe (the
/// "self-pipe": `write` is one of the few calls allowed in a handler); a dispatch read source on
/// the other end hands the number to every `run()` listening for it. The process's previous
/// `sigaction` of a signal is saved when the first `run()` takes it and put back when the last
/// one gives it up, so runs that overlap, or follow each other, restore it correctly.
///
/// Why not `DispatchSource.makeSignalSource`: on Linux, libdispatch installs its own handler once
/// per process, so after the previous handling was restored, a later `run()`'s source never fired.
final class SignalRouter: Sendable {
    /// The router of the process.
    static let shared = SignalRouter()

    private struct Held {
        var previous: sigaction
        var listeners: [Int: @Sendable (Int32) -> Void]
    }

    // @unchecked Sendable, made safe by a lock: `sigaction` and the dispatch source are not Sendable, but a State is only
    // ever read or written inside `state`, the `Locked` pthread mutex below.
    private struct State: @unchecked Sendable {  // safe: only touched under `state`'s lock
        var held: [Int32: Held] = [:]
        var lastToken = 0
        var reader: (any DispatchSourceRead)?
    }

    private let state = Locked(State())

    /// Installs the handler for each signal not yet held and adds `listener` to each; returns the
    /// token to give them back with.
    func take(_ signals: [Int32], _ listener: @escaping @Sendable (Int32) -> Void) -> Int {
        state.withLock { state in
            state.lastToken += 1
            let token = state.lastToken
            // Signals.none installs nothing, not even the pipe.
            guard !signals.isEmpty else { return token }
            if state.reader == nil { state.reader = startReading() }
            for number in signals {
                if state.held[number] == nil {
                    var action = sigaction()
                    #if canImport(Darwin)
                        action.__sigaction_u.__sa_handler = forwardSignal
                    #else
                        action.__sigaction_handler.sa_handler = forwardSignal
                    #endif
                    sigemptyset(&action.sa_mask)
                    action.sa_flags = SA_RESTART
                    var previous = sigaction()
                    sigaction(number, &action, &previous)
                    state.held[number] = Held(previous: previous, listeners: [:])
                }
                state.held[number]!.listeners[token] = listener
            }
            return token
        }
    }

    /// Removes the listener; puts back the previous handling of each signal nobody listens to.
    func giveBack(_ signals: [Int32], token: Int) {
        state.withLock { state in
            for number in signals {
                guard var entry = state.held[number] else { continue }
                entry.listeners[token] = nil
                if !entry.listeners.isEmpty {
                    state.held[number] = entry
                    continue
                }
                sigaction(number, &entry.previous, nil)
                state.held[number] = nil
            }
        }
    }

    /// Hands one arrived signal to everyone listening for it (outside the lock: listeners stop trees).
    private func deliver(_ number: Int32) {
        let listeners = state.withLock { state in
            state.held[number].map { Array($0.listeners.values) } ?? []
        }
        for listener in listeners { listener(number) }
    }

    /// Makes the pipe, publishes its write end to the handler, and reads the other end forever.
    private func startReading() -> any DispatchSourceRead {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            preconditionFailure("Lifecycle could not create the pipe for signal handling (errno \(errno))")
        }
        for end in ends {
            // Non-blocking: a handler must never block, and the reader drains until empty.
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            // Not inherited by child processes.
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        let readEnd = ends[0]
        signalPipeWriteEnd.store(ends[1], ordering: .releasing)
        let source = DispatchSource.makeReadSource(
            fileDescriptor: readEnd, queue: DispatchQueue(label: "lifecycle.signals"))
        source.setEventHandler { [self] in
            var number: UInt8 = 0
            while read(readEnd, &number, 1) == 1 {
                deliver(Int32(number))
            }
        }
        source.resume()
        return source
    }
}

/// The write end of the signal pipe, or -1 before the first `run()` took a signal.
///
/// An atomic global because a C signal handler can capture nothing.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The C signal handler: writes the signal's number to the pipe; only async-signal-safe calls.
private func forwardSignal(_ number: Int32) {
    let end = signalPipeWriteEnd.load(ordering: .acquiring)
    guard end >= 0 else { return }
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(end, &byte, 1)
    errno = savedErrno
}
