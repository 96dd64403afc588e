import Foundation

/// What Mermaid draws for a label written with entity codes: `#35;` becomes `#`.
func mermaidDecoded(_ label: String) -> String {
    var result = ""
    var rest = Substring(label)
    while let match = rest.firstMatch(of: /#([0-9]+);/) {
        result += rest[..<match.range.lowerBound]
        result.unicodeScalars.append(Unicode.Scalar(UInt32(match.output.1)!)!)
        rest = rest[match.range.upperBound...]
    }
    return result + rest
}

/// The words Mermaid's Gantt grammar reads at the start of a line (in any case), whatever follows.
let ganttKeywords = [
    "title", "section", "click", "call", "gantt", "dateformat", "includes", "excludes", "axisformat", "todaymarker",
    "tickinterval", "weekday", "weekend", "topaxis", "inclusiveenddates", "acctitle", "accdescr", "href",
]
