import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one human-readable line per event: when, which service, what happened, and how long the
/// service spent in the state it left.
///
/// ```text
///    0.000s  Database  idle → starting
///    0.040s  Database  starting → running  (starting 40.0ms)
///    0.500s  Worker  background task failed (while running)  error: connection reset
///    0.501s  API  stop requested (failure)
///   10.610s  Database  stopping → failed  (stopping 10.000s)  error: Database did not stop within …
/// ```
///
/// Lines go to standard error by default, to a file descriptor, to a closure
/// (`ConsoleLogger { line in … }`, given each line without its newline) or to a `TextOutputStream`
/// (given each line with its newline). Colour (ANSI escapes) is used only when asked for, or, for a
/// logger writing to a descriptor, when that descriptor is a terminal. The time is the event's, on
/// the runner's clock (since the runner was made); the time in the state left is measured from the
/// same service's previous transition, so the first line of a service has none.
///
/// One event is one line, whatever the service's name or the error's text hold: their control
/// characters (line breaks, escape sequences, …) are shown escaped, `\n` or `\u{1B}`, so nothing from
/// them reaches the terminal as a control sequence; with colour on, the only escapes written are
/// the logger's own colours.
///
/// Writing to a descriptor never crashes the program: a line that cannot be written (a closed
/// standard error, a pipe whose reader left while `SIGPIPE` is ignored, a full disk) is dropped
/// and counted in ``droppedLines``. `SIGPIPE` is left as the program set it: when it is not ignored,
/// a write to a pipe without a reader ends the process, as `print` would.
public struct ConsoleLogger: LifecycleObserver {
    private let write: @Sendable (String) -> Void
    private let colored: Bool
    private let output: DescriptorOutput?
    /// The root whose `→ running` gets an "all services running" line.
    var allRunningRoot: ServiceID?

    /// A logger writing to standard error.
    ///
    /// - Parameter colored: `true` or `false` to choose; `nil` (the default) colours only when
    ///   standard error is a terminal.
    public init(colored: Bool? = nil) {
        self.init(fileDescriptor: STDERR_FILENO, colored: colored)
    }

    /// A logger writing to an open file descriptor, which it never closes.
    ///
    /// - Parameters:
    ///   - fileDescriptor: where the lines go.
    ///   - colored: `true` or `false` to choose; `nil` (the default) colours only when the
    ///     descriptor is a terminal.
    public init(fileDescriptor: Int32, colored: Bool? = nil) {
        let output = DescriptorOutput(descriptor: fileDescriptor)
        self.colored = colored ?? (isatty(fileDescriptor) != 0)
        self.output = output
        self.write = { line in output.write(line: line) }
    }

    /// A logger handing each line, without its trailing newline, to `write`.
    ///
    /// `write` is called from the observer's task, one line at a time, in event order.
    public init(colored: Bool = false, _ write: @escaping @Sendable (String) -> Void) {
        self.colored = colored
        self.output = nil
        self.write = write
    }

    /// How many lines could not be written to the descriptor and were dropped; always 0 for the
    /// closure and stream forms, whose writing is theirs. Safe to read from any thread.
    public var droppedLines: Int { output?.droppedLines ?? 0 }

    /// A logger writing each line, with its trailing newline, to `stream`.
    ///
    /// The logger keeps the stream behind a lock and writes to its own copy: give it a stream that
    /// is a reference (a class writing to a file or a buffer). To collect lines in a `String`, use
    /// the closure form instead.
    public init<Stream: TextOutputStream & Sendable>(to stream: Stream, colored: Bool = false) {
        let box = StreamBox(stream)
        self.colored = colored
        self.output = nil
        self.write = { line in box.stream.withLock { $0.write(line + "\n") } }
    }

    /// Writes a line for each event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        var formatter = Formatter(colored: colored)
        var watch = AllRunningWatch(root: allRunningRoot)
        for await event in events {
            write(formatter.line(for: event))
            if let startup = watch.startup(after: event) {
                write(formatter.allRunningLine(event, startup: startup, again: watch.isAgain))
            }
        }
    }

    /// The lines this logger would write for `events`, in order; for replaying a recorded run.
    public static func lines(for events: [LifecycleEvent], colored: Bool = false) -> [String] {
        var formatter = Formatter(colored: colored)
        return events.map { formatter.line(for: $0) }
    }

    /// A stream kept behind a lock, so the logger stays `Sendable` whatever the stream is.
    private final class StreamBox<Stream: TextOutputStream & Sendable>: Sendable {
        let stream: Locked<Stream>
        init(_ stream: Stream) { self.stream = Locked(stream) }
    }

    /// Turns events into lines; remembers when each service last moved.
    struct Formatter {
        let colored: Bool
        private var lastTransition: [ServiceID: Duration] = [:]

        init(colored: Bool) { self.colored = colored }

        /// The line for one event; a transition also starts the clock of the state it entered.
        mutating func line(for event: LifecycleEvent) -> String {
            var parts = [String(format: "%8.3fs", EventText.seconds(event.time)), SafeText.escaped(event.service.name)]
            switch event.kind {
            case .transition:
                parts.append("\(event.from) → \(paint(event.to.rawValue, Self.colour(of: event.to)))")
                if let since = lastTransition[event.service] {
                    parts.append("(\(event.from) \(EventText.duration(event.time - since)))")
                }
                lastTransition[event.service] = event.time
            case .taskFailed:
                parts.append(paint(EventText.what(event), Self.red))
            case .stopRequested, .draining:
                parts.append(paint(SafeText.escaped(EventText.what(event)), Self.magenta))
            case .restartScheduled:
                parts.append(paint(EventText.what(event), Self.yellow))
            case .shutdownStalled(let stopping):
                // Each with how long its stop() has run, from its `running → stopping` line.
                let names = stopping.map { service in
                    let name = SafeText.escaped(service.name)
                    guard let since = lastTransition[service] else { return name }
                    return "\(name) (for \(EventText.duration(event.time - since)))"
                }
                parts.append(paint("shutdown stalled, still stopping: " + names.joined(separator: ", "), Self.red))
            }
            if let error = event.error {
                parts.append(paint("error: \(SafeText.escaped(String(describing: error)))", Self.red))
            }
            return parts.joined(separator: "  ")
        }

        private func paint(_ text: String, _ colour: String?) -> String {
            guard colored, let colour else { return text }
            return colour + text + "\u{1B}[0m"
        }

        private static let red = "\u{1B}[31m"
        private static let magenta = "\u{1B}[35m"
        private static let yellow = "\u{1B}[33m"

        /// The colour of the state entered: green when up, red when failed, yellow in between.
        private static func colour(of state: ServiceState) -> String? {
            switch state {
            case .idle: nil
            case .starting, .stopping: "\u{1B}[33m"
            case .running: "\u{1B}[32m"
            case .stopped: "\u{1B}[34m"
            case .failed: red
            }
        }
    }
}
