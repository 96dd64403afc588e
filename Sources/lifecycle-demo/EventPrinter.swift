import Lifecycle

/// Turns the runner's events into the demo's lines, as text or JSON, and keeps the timings.
///
/// Pure: it is fed one event at a time and returns what to print, so the order of the output is
/// the order of the stream (the order in which the coordinator emitted the events).
struct EventPrinter: Sendable {
    /// Start and stop timings of one service.
    struct Timing: Sendable {
        var startingAt: Duration?
        var startTook: Duration?
        var stoppingAt: Duration?
        var stopTook: Duration?
        /// Its stop was abandoned at its graceful shutdown timeout.
        var stopTimedOut = false
    }

    let root: ServiceID
    let json: Bool
    /// What asked for a stop whose cause is ``StopCause/requested`` (the demo's `--duration`).
    let requester: String
    private(set) var timings: [ServiceID: Timing] = [:]
    /// The services in the order they began starting, for the summary.
    private(set) var order: [ServiceID] = []
    private(set) var firstStartAt: Duration?
    private(set) var allRunningAt: Duration?
    private(set) var stopBeganAt: Duration?
    private(set) var lastStopAt: Duration?

    init(root: ServiceID, json: Bool, requester: String = "requested") {
        self.root = root
        self.json = json
        self.requester = requester
    }

    /// The startup time, once the root runs.
    var startup: Duration? {
        guard let firstStartAt, let allRunningAt else { return nil }
        return allRunningAt - firstStartAt
    }

    /// The lines an event prints; `allRunning` is true for the event that made the whole tree run.
    mutating func lines(for event: LifecycleEvent) -> (lines: [String], allRunning: Bool) {
        let took = record(event)
        var lines = [json ? jsonLine(event, took: took) : textLine(event, took: took)]
        let allRunning = event.isTransition && event.service == root && event.to == .running
        if allRunning, allRunningAt != nil {
            // The root ran before: a restart brought it back.
            lines.append(json ? #"{"kind":"all_running_again"}"# : "all services running again after the restart")
            return (lines, false)
        }
        if allRunning {
            allRunningAt = event.time
            let startup = milliseconds(startup ?? .zero)
            lines.append(
                json
                    ? #"{"kind":"all_running","startup_ms":\#(startup)}"#
                    : "all services running (startup \(startup) ms); press Ctrl-C to stop")
        }
        return (lines, allRunning)
    }

    /// The timing summary printed at exit.
    func summary() -> [String] {
        let shutdown = stopBeganAt.flatMap { began in lastStopAt.map { $0 - began } }
        if json {
            let services = order.map { id in
                let timing = timings[id] ?? Timing()
                return #"{"service":\#(quoted(id.name)),"start_ms":\#(number(timing.startTook)),"#
                    + #""stop_ms":\#(number(timing.stopTook)),"stop_timed_out":\#(timing.stopTimedOut)}"#
            }
            return [
                #"{"kind":"summary","startup_ms":\#(number(startup)),"shutdown_ms":\#(number(shutdown)),"#
                    + #""services":[\#(services.joined(separator: ","))]}"#
            ]
        }
        var lines = [
            "startup \(startup.map { "\(milliseconds($0)) ms" } ?? "did not complete"), "
                + "shutdown \(shutdown.map { "\(milliseconds($0)) ms" } ?? "none")",
            "  \(pad("service", 10)) \(pad("start", 8, right: true)) \(pad("stop", 8, right: true))",
        ]
        for id in order {
            let timing = timings[id] ?? Timing()
            let start = timing.startTook.map { "\(milliseconds($0)) ms" } ?? "-"
            let stop = timing.stopTook.map { "\(milliseconds($0)) ms" } ?? "-"
            let timedOut = timing.stopTimedOut ? " (timed out)" : ""
            lines.append("  \(pad(id.name, 10)) \(pad(start, 8, right: true)) \(pad(stop, 8, right: true))\(timedOut)")
        }
        return lines
    }

    // MARK: Recording

    /// Records the event's time; returns how long the step it ends took.
    private mutating func record(_ event: LifecycleEvent) -> Duration? {
        guard event.isTransition else {
            if event.stopCause != nil, stopBeganAt == nil { stopBeganAt = event.time }
            return nil
        }
        var timing = timings[event.service] ?? Timing()
        defer { timings[event.service] = timing }
        switch (event.from, event.to) {
        case (_, .starting):
            if firstStartAt == nil { firstStartAt = event.time }
            if !order.contains(event.service) { order.append(event.service) }
            timing.startingAt = event.time
            return nil
        case (.starting, _):
            timing.startTook = timing.startingAt.map { event.time - $0 }
            return timing.startTook
        case (_, .stopping):
            if stopBeganAt == nil { stopBeganAt = event.time }
            timing.stoppingAt = event.time
            return nil
        default:
            lastStopAt = event.time
            timing.stopTook = timing.stoppingAt.map { event.time - $0 }
            timing.stopTimedOut = isStopTimeout(event.error)
            return timing.stopTook
        }
    }

    // MARK: Formatting

    private func textLine(_ event: LifecycleEvent, took: Duration?) -> String {
        var what: String
        switch event.kind {
        case .transition: what = "\(event.from) → \(event.to)"
        case .taskFailed: what = "background task failed"
        case .stopRequested(let cause): what = "stop requested (\(describe(cause, requester: requester)))"
        case .restartScheduled(let attempt, let delay):
            what =
                "restart \(attempt) in \(milliseconds(delay)) ms: "
                + "it and what depends on it restart, the rest keeps running"
        case .shutdownStalled(let stopping):
            what = "shutdown stalled, still stopping: \(stopping.map(\.name).joined(separator: ", "))"
        case .draining: what = "draining: stop taking new work, finish what is in flight"
        }
        if let took {
            what = pad(what, 22) + " \(pad("\(milliseconds(took))", 4, right: true)) ms"
            // The time is the timeout, not how long the stop took: it never finished.
            if isStopTimeout(event.error) { what += ", timed out" }
        }
        if let error = event.error { what += "  error: \(error)" }
        return "\(pad(seconds(event.time), 8, right: true))  \(pad(event.service.name, 9)) \(what)"
    }

    private func jsonLine(_ event: LifecycleEvent, took: Duration?) -> String {
        let kind: String
        switch event.kind {
        case .transition: kind = "transition"
        case .taskFailed: kind = "task_failed"
        case .stopRequested: kind = "stop_requested"
        case .restartScheduled: kind = "restart_scheduled"
        case .shutdownStalled: kind = "shutdown_stalled"
        case .draining: kind = "draining"
        }
        let fields = [
            #""time":\#(Double(milliseconds(event.time)) / 1000)"#,
            #""service":\#(quoted(event.service.name))"#,
            #""id":\#(event.service.number)"#,
            #""kind":"\#(kind)""#,
            #""from":"\#(event.from)""#,
            #""to":"\#(event.to)""#,
            #""took_ms":\#(number(took))"#,
            #""error":\#(event.error.map { quoted("\($0)") } ?? "null")"#,
            #""cause":\#(event.stopCause.map { quoted(describe($0, requester: requester)) } ?? "null")"#,
        ]
        return "{\(fields.joined(separator: ","))}"
    }
}

/// Whether `error` says a stop was abandoned at its graceful shutdown timeout.
func isStopTimeout(_ error: (any Error)?) -> Bool {
    if case .stopTimedOut = error as? LifecycleError { return true }
    return false
}

/// `SIGINT`, `SIGTERM`, or the number, for the causes of a stop.
func describe(_ cause: StopCause, requester: String) -> String {
    func name(_ number: Int32) -> String {
        switch number {
        case 2: "SIGINT"
        case 15: "SIGTERM"
        default: "signal \(number)"
        }
    }
    switch cause {
    case .signal(let number): return name(number)
    case .escalation(let number): return "\(name(number)) again: escalating, stops are cancelled"
    case .requested: return requester
    case .failure: return "failure"
    case .cancellation: return "cancellation"
    case .deadline: return "90 % of --deadline passed: escalating, stops are cancelled"
    }
}

private func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
}

private func seconds(_ duration: Duration) -> String {
    let total = milliseconds(duration)
    let fraction = String(total % 1000)
    return "\(total / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
}

private func number(_ duration: Duration?) -> String {
    duration.map { "\(milliseconds($0))" } ?? "null"
}

private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

/// A JSON string literal.
private func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
