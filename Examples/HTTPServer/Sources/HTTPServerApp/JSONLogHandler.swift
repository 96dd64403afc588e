import Foundation
import Logging
import Synchronization

/// A swift-log handler writing one JSON object per record, one per line.
///
/// Keys: `time` (ISO 8601, UTC), `level`, `label`, `message`, `error` when there is one, and each
/// metadata key with its value as text (a metadata key named like one of these is prefixed `meta.`).
public struct JSONLogHandler: LogHandler {
    /// The handler's own metadata.
    public var metadata: Logger.Metadata = [:]
    /// Metadata added at each record.
    public var metadataProvider: Logger.MetadataProvider?
    /// The lowest level written.
    public var logLevel: Logger.Level
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler for `label` writing lines to standard output, or to `write`.
    public init(
        label: String, level: Logger.Level = .info,
        write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardOutput
    ) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    /// One metadata value.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes the record as one line.
    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        let reserved: Set = ["time", "level", "label", "message", "error"]
        for (key, value) in merged { fields[reserved.contains(key) ? "meta.\(key)" : key] = "\(value)" }
        fields["time"] = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["message"] = "\(event.message)"
        if let error = event.error { fields["error"] = "\(error)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(fields), let line = String(data: data, encoding: .utf8) else { return }
        write(line)
    }

    /// Writes `line` and a newline to standard output in one call, so lines of concurrent records never mix.
    public static let standardOutput: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        outputLock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }

    private static let outputLock = Mutex(())
}
