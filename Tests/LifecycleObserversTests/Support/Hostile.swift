import LifecycleObservers

/// Names and error texts a user does not fully control (a tenant's name, a server's reply), each
/// of which broke an output once.
enum Hostile {
    /// Every way a line can break: LF, CR, CRLF, VT, FF, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR.
    static let lineBreaks = ["\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}"]

    /// A name per line break, each followed by text that forges an event line.
    static let brokenNames = lineBreaks.map { "db\($0)   0.001s  API  stopping → stopped" }

    /// Terminal control: colour, OSC window title ended by BEL, cursor movement, 8-bit CSI, NUL, DEL.
    static let terminalNames = [
        "\u{1B}[31mred\u{1B}[0m", "\u{1B}]0;owned\u{07}", "up\u{1B}[2A", "csi\u{9B}31m", "nul\u{0}x", "del\u{7F}x",
        "bell\u{07}", "tab\tx",
    ]

    /// Names that begin like a Mermaid Gantt keyword, a date or a comment, or hold a directive.
    static let mermaidNames = [
        "Title Service", "Section Cache", "Click Tracker", "Call Router", "Gantt Exporter", "2024-06-01 backfill",
        "Includes Resolver", "Excludes Filter", "%CPU sampler", "5% canary", "dateFormat YYYY", "axisFormat %H",
        "todayMarker off", "tickInterval 1day", "weekday monday", "accTitle: owned", "  title indented",
        "cache\n%% the rest is a comment", "a %%{init: {\"theme\": \"dark\"}}%% b", "#quot; entity",
        "colon: semi; hash #",
        "<b>html</b> & `markdown`", "   ", "",
    ]

    /// A quote and a backslash, and DOT's own escapes.
    static let quotingNames = [#"say "hi" \ bye"#, #"left\l right\r node\N"#, "&amp; &#60;"]

    /// Every hostile name.
    static let names = brokenNames + terminalNames + mermaidNames + quotingNames

    /// A name of 100,000 characters: past Graphviz's limit on a quoted string.
    static let longName = String(repeating: "x", count: 100_000)

    /// The events of one run of a service named `name`, its stop abandoned with an error whose text
    /// is the name too.
    static func run(of name: String, number: Int) -> [LifecycleEvent] {
        let id = ServiceID(name: name, number: number)
        return [
            Fixture.event(id, .idle, .starting, at: 0),
            Fixture.event(id, .starting, .running, at: 10),
            Fixture.event(id, .running, .running, at: 20, kind: .stopRequested(.requested)),
            Fixture.event(id, .running, .stopping, at: 20),
            Fixture.event(id, .stopping, .failed, at: 30, error: Boom("refused: \(name)")),
        ]
    }
}

extension StringProtocol {
    /// Whether the text holds a character a terminal or a line reader acts on: a C0 or C1 control,
    /// DEL, or a line or paragraph separator.
    var hasControlCharacters: Bool {
        unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: true
            default: false
            }
        }
    }
}
