import Lifecycle

/// The text of the kit's failure messages: events and calls, one per line, whatever the names hold.
enum Transcript {
    /// Every event, numbered, one per line: `  3  0.040s  Database#3  starting → running`.
    static func lines(of events: [LifecycleEvent]) -> String {
        guard !events.isEmpty else { return "  (none)" }
        return events.enumerated().map { index, event in
            let (seconds, attoseconds) = event.time.components
            let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            let time = "\(milliseconds / 1000).\(String(1000 + milliseconds % 1000).dropFirst())s"
            // Kinds other than these two change no state; they print as their case, whatever it is.
            var what = "\(event.kind) (while \(event.to))"
            if event.isTransition {
                what = "\(event.from) → \(event.to)"
            } else if let cause = event.stopCause {
                what = "stop requested (\(cause))"
            }
            if let error = event.error { what += "  error: \(escaped(String(describing: error)))" }
            return "  \(index)  \(time)  \(escaped(event.service.debugDescription))  \(what)"
        }.joined(separator: "\n")
    }

    /// `text` with its control characters and line breaks written as `\n` or `\u{1B}`, so one
    /// event stays one line.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _
            where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}"
                || scalar == "\u{2029}":
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
