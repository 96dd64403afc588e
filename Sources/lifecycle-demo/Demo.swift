import Lifecycle
import LifecycleObservers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the demo with the command line's arguments and returns the exit code.
///
/// 0 after a clean stop (also after SIGINT/SIGTERM), 1 when the tree failed, 2 for bad usage.
func runDemo(arguments: [String]) async -> Int32 {
    let options: DemoOptions
    do {
        options = try DemoOptions.parse(arguments)
    } catch {
        printError("lifecycle-demo: \(error.message)\nrun 'lifecycle-demo --help' for the options")
        return 2
    }
    if options.help {
        printLine(DemoOptions.usage)
        return 0
    }
    let tree = makeDemoTree(options: options)
    if let format = options.diagram {
        // The diagram StateDiagrams/DemoTree.* is made of; every service idle, so it never changes by itself.
        let diagram = ServiceTreeDiagram(tree.root)
        printLine(format == "dot" ? diagram.dot() : diagram.mermaid())
        return 0
    }
    // The demo's own output is the library's: a ConsoleLogger (or, with --json, a JSONLinesLogger)
    // on stdout that also says when every service runs, then a TimingReport at exit.
    let root = tree.root.serviceID
    let output = DemoOutput(json: options.json, root: root)
    let recorder = EventRecorder()
    let logger = DemoLogger(kind: options.logger)
    // The default signals: SIGINT and SIGTERM stop the tree, a second one escalates. A stop that
    // lasts over a second names what it waits for (`--slow-stop` shows it).
    let runner = ServiceRunner(
        tree.root, observers: [output.observer, recorder] + logger.observers, stallReportInterval: .seconds(1),
        shutdownDeadline: options.deadline, drainTimeout: options.drain ?? .zero)
    if options.plan {
        do {
            printLine(try runner.plan().description)
            return 0
        } catch {
            printError("lifecycle-demo: \(error)")
            return 1
        }
    }
    if !options.json {
        printLine(
            "lifecycle-demo (seed \(tree.seed)): config → database → Parallel(cache, queue) → http → worker;"
                + " Ctrl-C stops it")
    }
    if let duration = options.duration {
        stop(runner, after: duration, onceRunning: root)
    }
    var failure: (any Error)?
    do {
        try await runner.run()
    } catch {
        failure = error
    }
    // run() returned after every observer consumed the last event: the recorder holds the whole run.
    let report = TimingReport(recorder.events, root: tree.root)
    printLine(options.json ? report.jsonLine() : report.table().dropLast().description)
    let dropped = output.droppedLines + logger.droppedLines
    if dropped > 0 {
        printError("lifecycle-demo: the loggers dropped \(dropped) lines they could not write")
    }
    if let failure {
        printError("lifecycle-demo: the tree failed: \(failure)")
        return 1
    }
    return 0
}

/// Asks `runner` to stop `duration` after `root` first reaches `running` (`--duration`).
private func stop(_ runner: ServiceRunner, after duration: Duration, onceRunning root: ServiceID) {
    let events = runner.events()
    Task {
        for await event in events where event.isTransition && event.service == root && event.to == .running {
            try? await Task.sleep(for: duration)
            runner.requestStop()
            return
        }
    }
}

/// Writes a line to stdout at once, in one `write`, so a parent process sees each line as it happens.
func printLine(_ line: String) {
    writeLine(line, to: STDOUT_FILENO)
}

/// Writes a line to stderr.
func printError(_ message: String) {
    writeLine(message, to: STDERR_FILENO)
}

private func writeLine(_ line: String, to descriptor: Int32) {
    var bytes = Array((line + "\n").utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

/// Makes SIGINT and SIGTERM deliverable to this (the main) thread.
///
/// A parent that spawned the demo from a thread that blocks signals (a Swift concurrency pool
/// thread, say) passes that mask on; the lifecycle's handler then would never run.
func unblockStopSignals() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}
