/// What the command line asked the demo to do.
struct DemoOptions: Equatable {
    /// The names a user can pass to `--fail`, `--crash` and `--slow-stop`, in start order.
    static let serviceNames = ["config", "database", "cache", "queue", "http", "worker"]

    /// Stop by itself after this long once everything runs; `nil`: run until a signal.
    var duration: Duration?
    /// The service whose `start()` throws.
    var fail: String?
    /// The service whose background task throws a moment after it started.
    var crash: String?
    /// The crashing service restarts (with what depends on it) instead of failing the tree.
    var restart = false
    /// The service whose `stop()` hangs until its graceful shutdown timeout abandons it.
    var slowStop: String?
    /// The graceful shutdown timeout of the `--slow-stop` service.
    var slowStopTimeout: Duration = .seconds(2)
    /// Print events as JSON lines instead of text.
    var json = false
    /// The seed of the simulated timings; random when not given.
    var seed: UInt64?
    /// Print the help and exit.
    var help = false
    /// Print the tree as a diagram in this format (`mermaid` or `dot`) and exit.
    var diagram: String?
    /// Also log every event with the library's logger of this kind: `console` (``ConsoleLogger``,
    /// to stderr) or `json` (``JSONLinesLogger``, to stdout).
    var logger: String?
    /// Print the plan (the tree and its worst-case shutdown) and exit.
    var plan = false
    /// The runner's `shutdownDeadline`: the tree must fit it, and the stop escalates at 90 % of it.
    var deadline: Duration?
    /// The runner's `drainTimeout`: a stop first drains (http stops accepting connections).
    var drain: Duration?

    /// The longest time a flag takes, in seconds: about 31 years, far from where converting it to a
    /// `Duration` or a timer's deadline would overflow.
    static let maximumSeconds = 1_000_000_000.0

    static let usage = """
        usage: lifecycle-demo [options]

        Runs a small service tree and prints every lifecycle transition as it happens:
          config → database → Parallel(cache, queue) → http → worker
        Stops on Ctrl-C (SIGINT) or SIGTERM; a second signal while stopping escalates.

        options:
          --duration SECONDS      stop by itself this long after everything runs
          --fail SERVICE          that service's start() throws: watch the rollback
          --crash SERVICE         its background task throws after a moment: watch fail-fast
          --restart               with --crash: that service restarts instead (once it crashed,
                                  it and what depends on it restart; the rest keeps running)
          --slow-stop SERVICE     its stop() hangs: watch the graceful shutdown timeout
          --slow-stop-timeout S   that service's gracefulShutdownTimeout (default 2; needs --slow-stop)
          --json                  events as JSON lines on stdout
          --logger KIND           also log with the library's ConsoleLogger (console, to stderr)
                                  or JSONLinesLogger (json, to stdout)
          --seed N                seed of the simulated timings (default: random)
          --diagram FORMAT        print the tree as a diagram (mermaid or dot) and exit
          --plan                  print the plan (the tree, its worst-case shutdown) and exit
          --deadline S            shutdownDeadline: refuse a tree that cannot stop in time, and
                                  escalate by itself at 90 % of it once a stop began (this
                                  tree needs 50 s, plus --drain; see --plan)
          --drain S               drainTimeout: a stop first calls drain() (http stops accepting)
          --help                  this text

        Times are in seconds, above 0 and at most 1000000000, kept to the millisecond (a positive
        time under a millisecond counts as one). Each option may be given once.

        services: config, database, cache, queue, http, worker
        exit codes: 0 stopped cleanly (also after Ctrl-C/SIGTERM), 1 the tree failed, 2 bad usage
        """

    /// Reads the arguments (without the program name).
    ///
    /// - Throws: a ``UsageError`` whose message says what is wrong.
    static func parse(_ arguments: [String]) throws(UsageError) -> DemoOptions {
        var options = DemoOptions()
        var remaining = arguments[...]
        var given: Set<String> = []
        while let flag = remaining.popFirst() {
            // A repeated flag would silently keep its last value: refuse it instead.
            guard given.insert(flag).inserted else {
                throw UsageError("\(flag) was given twice; give each option once")
            }
            func value() throws(UsageError) -> String {
                guard let value = remaining.popFirst(), !value.hasPrefix("--") else {
                    throw UsageError("\(flag) needs a value")
                }
                return value
            }
            func service() throws(UsageError) -> String {
                let name = try value()
                guard serviceNames.contains(name) else {
                    throw UsageError(
                        "unknown service '\(name)' for \(flag); choose one of \(serviceNames.joined(separator: ", "))")
                }
                return name
            }
            func seconds() throws(UsageError) -> Duration {
                let text = try value()
                guard let number = Double(text), number > 0, number <= maximumSeconds else {
                    throw UsageError(
                        "\(flag) needs a number of seconds above 0 and at most \(Int(maximumSeconds)), not '\(text)'")
                }
                // To the millisecond, but never down to zero: the lifecycle refuses a zero timeout.
                return .milliseconds(max(1, Int64((number * 1000).rounded())))
            }
            switch flag {
            case "--duration": options.duration = try seconds()
            case "--fail": options.fail = try service()
            case "--crash": options.crash = try service()
            case "--slow-stop": options.slowStop = try service()
            case "--slow-stop-timeout": options.slowStopTimeout = try seconds()
            case "--restart": options.restart = true
            case "--json": options.json = true
            case "--seed":
                let text = try value()
                guard let seed = UInt64(text) else { throw UsageError("--seed needs a whole number, not '\(text)'") }
                options.seed = seed
            case "--diagram":
                let format = try value()
                guard ["mermaid", "dot"].contains(format) else {
                    throw UsageError("--diagram needs mermaid or dot, not '\(format)'")
                }
                options.diagram = format
            case "--logger":
                let kind = try value()
                guard ["console", "json"].contains(kind) else {
                    throw UsageError("--logger needs console or json, not '\(kind)'")
                }
                options.logger = kind
            case "--plan": options.plan = true
            case "--deadline": options.deadline = try seconds()
            case "--drain": options.drain = try seconds()
            case "--help", "-h": options.help = true
            default: throw UsageError("unknown option '\(flag)'")
            }
        }
        // Without a service to slow down, the timeout would silently do nothing.
        if given.contains("--slow-stop-timeout"), options.slowStop == nil {
            throw UsageError("--slow-stop-timeout needs --slow-stop SERVICE")
        }
        if options.restart, options.crash == nil {
            throw UsageError("--restart needs --crash SERVICE (the service that crashes and restarts)")
        }
        return options
    }
}

/// A command line the demo cannot run: the message says why.
struct UsageError: Error, Equatable {
    /// What is wrong, in one sentence.
    let message: String

    init(_ message: String) { self.message = message }
}
