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
    // The default signals: SIGINT and SIGTERM stop the tree, a second one escalates. A stop that
    // lasts over a second names what it waits for (`--slow-stop` shows it).
    let logger = DemoLogger(kind: options.logger)
    let runner = ServiceRunner(
        tree.root, observers: logger.observers, stallReportInterval: .seconds(1), shutdownDeadline: options.deadline,
        drainTimeout: options.drain ?? .zero)
    if options.plan {
        do {
            printLine(try runner.plan().description)
            return 0
        } catch {
            printError("lifecycle-demo: \(error)")
            return 1
        }
    }
    let events = runner.events()
    if !options.json {
        printLine("lifecycle-demo (seed \(tree.seed)): config → database → Parallel(cache, queue) → http → worker")
    }
    let printing = Task {
        var printer = EventPrinter(
            root: tree.root.serviceID, json: options.json,
            requester: options.duration.map { "--duration \($0) elapsed" } ?? "requested")
        for await event in events {
            let (lines, allRunning) = printer.lines(for: event)
            for line in lines { printLine(line) }
            if allRunning, let duration = options.duration {
                Task {
                    try await Task.sleep(for: duration)
                    runner.requestStop()
                }
            }
        }
        return printer
    }
    var failure: (any Error)?
    do {
        try await runner.run()
    } catch {
        failure = error
    }
    let printer = await printing.value
    for line in printer.summary() { printLine(line) }
    if logger.droppedLines > 0 {
        printError(
            "lifecycle-demo: the \(options.logger ?? "") logger dropped \(logger.droppedLines) lines it could not write"
        )
    }
    if let failure {
        printError("lifecycle-demo: the tree failed: \(failure)")
        return 1
    }
    return 0
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
