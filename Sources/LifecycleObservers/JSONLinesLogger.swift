import Foundation

/// Writes one JSON object per event, one per line, for log pipelines.
///
/// ```json
/// {"cause":null,"error":null,"from":"starting","id":3,"kind":"transition","service":"Database","time":0.04,"to":"running"}
/// ```
///
/// The keys are sorted and always present (`null` when they do not apply); ``JSONLifecycleRecord``
/// documents each one and parses a line back. Lines go to standard output by default, or to a
/// closure (`JSONLinesLogger { line in … }`, given each line without its newline).
public struct JSONLinesLogger: LifecycleObserver {
    private let write: @Sendable (String) -> Void

    /// A logger writing to standard output.
    public init() {
        self.write = { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }

    /// A logger handing each line, without its trailing newline, to `write`.
    ///
    /// `write` is called from the observer's task, one line at a time, in event order.
    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Writes a line for each event until the stream finishes.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        let encoder = Self.makeEncoder()
        for await event in events {
            write(Self.line(for: event, encoder: encoder))
        }
    }

    /// The JSON line (without its newline) this logger writes for `event`.
    public static func line(for event: LifecycleEvent) -> String {
        line(for: event, encoder: makeEncoder())
    }

    private static func line(for event: LifecycleEvent, encoder: JSONEncoder) -> String {
        // Encoding a record of strings, numbers and nulls cannot fail; say so if it ever does.
        guard let data = try? encoder.encode(JSONLifecycleRecord(event)) else {
            return #"{"error":"JSONLinesLogger could not encode an event"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
