/// User-provided text (service names, error descriptions) made safe to show on one line of a
/// terminal, a log file or a diagram label.
///
/// Every control character is shown escaped, Swift-style: `\n`, `\r`, `\t`, and `\u{1B}` for the
/// others. That covers the C0 controls (line feed, carriage return, vertical tab, form feed, escape,
/// bell, NUL, …), DEL, the C1 controls (NEL `U+0085`, the 8-bit CSI `U+009B`, …) and the Unicode line
/// and paragraph separators `U+2028` and `U+2029`. So a name can neither break a line, nor move the
/// cursor, nor start a terminal escape sequence. Everything else, a backslash included, is kept as
/// it is: the escapes are for reading, the JSON lines keep the exact text.
enum SafeText {
    /// `text` with its control characters escaped.
    static func escaped(_ text: String) -> String {
        // Most names hold nothing to escape: hand them back untouched.
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar): result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether a terminal or a line-oriented reader could act on `scalar` instead of showing it.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
