import Foundation

/// Writes one JSON object per event, one per line, for log pipelines.
///
/// ```json
/// {"cause":null,"error":null,"from":"starting","id":3,"kind":"transition","service":"Database","time":0.04,"to":"running"}
/// ```
///
/// The keys are sorted and always present (`null` when they do not apply), except `stopping`, only
/// on a `shutdownStalled` line (the services whose `stop()` still runs); ``JSONLifecycleRecord``
/// documents each one and parses a line back. Lines go to standard output by default, to a file
/// descriptor, or to a closure (`JSONLinesLogger { line in … }`, given each line without its
/// newline). A line is always one line: every control character and Unicode line break in a name
/// or an error is written as a JSON escape (`\n`, `\u2028`).
///
/// Writing to a descriptor never crashes the program: a line that cannot be written (a closed
/// standard output, a pipe whose reader left while `SIGPIPE` is ignored, a full disk) is dropped
/// and counted in ``droppedLines``. `SIGPIPE` is left as the program set it: when it is not ignored,
/// a write to a pipe without a reader ends the process, as `print` would.
public struct JSONLinesLogger: LifecycleObserver {
    private let write: @Sendable (String) -> Void
    private let output: DescriptorOutput?
    /// The root whose `→ running` gets an `allRunning` line.
    var allRunningRoot: ServiceID?

    /// A logger writing to standard output.
    public init() {
        self.init(fileDescriptor: STDOUT_FILENO)
    }

    /// A logger writing to an open file descriptor, which it never closes.
    public init(fileDescriptor: Int32) {
        let output = DescriptorOutput(descriptor: fileDescriptor)
        self.output = output
        self.write = { line in output.write(line: line) }
    }

    /// A logger handing each line, without its trailing newline, to `write`.
    ///
    /// `write` is called from the observer's task, one line at a time, in event order.
    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.output = nil
        self.write = write
    }

    /// How many lines could not be written to the descriptor and were dropped; always 0 for the
    /// closure form, whose writing is its own. Safe to read from any thread.
    public var droppedLines: Int { output?.droppedLines ?? 0 }

    /// Writes a line for each event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        let encoder = Self.makeEncoder()
        var watch = AllRunningWatch(root: allRunningRoot)
        for await event in events {
            write(Self.line(for: event, encoder: encoder))
            if watch.startup(after: event) != nil { write(Self.allRunningLine(event, encoder: encoder)) }
        }
    }

    /// The JSON line (without its newline) this logger writes for `event`.
    public static func line(for event: LifecycleEvent) -> String {
        line(for: event, encoder: makeEncoder())
    }

    private static func line(for event: LifecycleEvent, encoder: JSONEncoder) -> String {
        line(for: JSONLifecycleRecord(event), encoder: encoder)
    }

    static func line(for record: JSONLifecycleRecord, encoder: JSONEncoder) -> String {
        // Encoding a record of strings, numbers and nulls cannot fail; say so if it ever does.
        guard let data = try? encoder.encode(record) else {
            return #"{"error":"JSONLinesLogger could not encode an event"}"#
        }
        return escapingRawControls(String(decoding: data, as: UTF8.self))
    }

    /// `json` with DEL, the C1 controls (NEL among them) and the line and paragraph separators
    /// written as `\u` escapes.
    ///
    /// JSON lets them stand raw inside a string, and the encoder leaves them so; but a reader that
    /// splits lines on every Unicode line break (Python's `splitlines`, an editor) would cut the
    /// event in two. Escaped, they decode to the same text. They can only be inside strings: the
    /// rest of a line is ASCII.
    private static func escapingRawControls(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: SafeText.isControl) else { return json }
        var result = ""
        for scalar in json.unicodeScalars {
            if SafeText.isControl(scalar) {
                result += String(format: "\\u%04X", scalar.value)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
