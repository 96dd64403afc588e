import LifecycleObservers

/// The library's logger that `--logger` adds next to the demo's own lines, if any.
///
/// Both write straight to a file descriptor and never crash on a failing one: with `SIGPIPE`
/// ignored, a closed or broken stdout or stderr only drops lines, which the demo reports at exit.
struct DemoLogger {
    private let console: ConsoleLogger?
    private let json: JSONLinesLogger?

    /// `console`: a ``ConsoleLogger`` on stderr; `json`: a ``JSONLinesLogger`` on stdout; `nil`: none.
    init(kind: String?) {
        console = kind == "console" ? ConsoleLogger() : nil
        json = kind == "json" ? JSONLinesLogger() : nil
    }

    /// The observers to give the runner.
    var observers: [any LifecycleObserver] {
        [console as (any LifecycleObserver)?, json].compactMap { $0 }
    }

    /// The lines the logger could not write.
    var droppedLines: Int {
        (console?.droppedLines ?? 0) + (json?.droppedLines ?? 0)
    }
}
