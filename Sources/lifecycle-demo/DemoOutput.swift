import Lifecycle
import LifecycleObservers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The demo's lines: the library's ``ConsoleLogger``, or with `--json` its ``JSONLinesLogger``, on
/// standard output, each announcing when every service runs.
///
/// Both write straight to the descriptor (colour only when it is a terminal) and count the lines
/// they could not write, which the demo reports at exit.
struct DemoOutput {
    private let console: ConsoleLogger?
    private let json: JSONLinesLogger?

    init(json: Bool, root: ServiceID) {
        if json {
            self.console = nil
            self.json = JSONLinesLogger(fileDescriptor: STDOUT_FILENO).announcingAllRunning(of: root)
        } else {
            self.console = ConsoleLogger(fileDescriptor: STDOUT_FILENO).announcingAllRunning(of: root)
            self.json = nil
        }
    }

    /// The observer to give the runner.
    var observer: any LifecycleObserver {
        if let console { return console }
        return json ?? JSONLinesLogger(fileDescriptor: STDOUT_FILENO)
    }

    /// The lines it could not write.
    var droppedLines: Int { (console?.droppedLines ?? 0) + (json?.droppedLines ?? 0) }
}
