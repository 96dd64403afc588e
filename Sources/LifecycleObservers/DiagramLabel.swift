import Foundation

/// A service's name made into a diagram label that no name can break: for Mermaid (flowchart and
/// Gantt) and for Graphviz DOT.
///
/// Every label is first made ``text(_:)``: control characters escaped (``SafeText``), cut to
/// ``maximumLength`` characters, an empty name drawn as ``emptyPlaceholder``. Each format then
/// escapes what its own parser would act on. Node and task ids never come from names, so labels
/// that look alike (two cut names, two services named the same) still draw as separate nodes.
enum DiagramLabel {
    /// The longest label in characters; a longer name is cut to one less and ends with `…`.
    ///
    /// Graphviz refuses a quoted string longer than 16 KB, and Mermaid a diagram longer than 50,000
    /// characters; neither helps a reader of a 100 KB name.
    static let maximumLength = 200

    /// What a service with an empty name is drawn as, so its node or bar is still visible.
    static let emptyPlaceholder = "(empty name)"

    /// `name` as a reader sees it in a diagram: escaped, at most ``maximumLength`` characters,
    /// never empty.
    static func text(_ name: String) -> String {
        guard !name.isEmpty else { return emptyPlaceholder }
        guard name.prefix(maximumLength + 1).count > maximumLength else { return SafeText.escaped(name) }
        return SafeText.escaped(String(name.prefix(maximumLength - 1))) + "…"
    }

    /// `text` with Mermaid's entity codes (`#35;` for `#`) for every character Mermaid's
    /// preprocessing or grammars act on.
    ///
    /// `%` (so no `%%` comment or `%%{init}%%` directive can form), `#` (entity codes themselves),
    /// `"` (the end of a quoted label), `:` and `;` (the end of a Gantt task's name), `<`, `>` and
    /// `&` (HTML), and `` ` `` (a Markdown string). Mermaid turns the codes back into the characters
    /// when it draws.
    static func mermaidEscaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if mermaidSpecial.contains(scalar) {
                result += mermaidEntity(scalar)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A Gantt task's name: ``mermaidEscaped(_:)``, and its first character as an entity code unless
    /// it is a letter that starts no Gantt keyword.
    ///
    /// Mermaid's Gantt grammar reads a keyword (`title`, `section`, `click`, `call`, `gantt`,
    /// `dateFormat`, `includes`, `excludes`, …, in any case), a date, a comment or leading spaces at
    /// the start of a line before it reads a task's name, whatever follows: "Title Service" would
    /// become the chart's title. A first character written as a code matches none of them.
    static func ganttTask(_ text: String) -> String {
        guard let first = text.unicodeScalars.first else { return text }
        let lowercased = text.lowercased()
        let isSafe = first.properties.isAlphabetic && !ganttKeywords.contains { lowercased.hasPrefix($0) }
        guard !isSafe else { return mermaidEscaped(text) }
        return mermaidEntity(first) + mermaidEscaped(String(text.unicodeScalars.dropFirst()))
    }

    /// `text` inside a DOT double-quoted string: the backslash and the quote escaped, `&` as `&amp;`
    /// (Graphviz reads HTML entities in labels).
    static func dotEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "&", with: "&amp;")
    }

    private static let mermaidSpecial: Set<Unicode.Scalar> = ["%", "#", "\"", ":", ";", "<", ">", "&", "`"]

    /// The words Mermaid's Gantt lexer matches at the start of a line, lowercased (it ignores case);
    /// `accdescr` also covers `accDescription`.
    private static let ganttKeywords = [
        "accdescr", "acctitle", "axisformat", "call", "click", "dateformat", "displaymode", "excludes", "gantt",
        "href", "includes", "inclusiveenddates", "section", "tickinterval", "title", "todaymarker", "topaxis",
        "weekday", "weekend",
    ]

    private static func mermaidEntity(_ scalar: Unicode.Scalar) -> String {
        "#\(scalar.value);"
    }
}
