/// One line of ``JSONLinesLogger``'s output, as a value: encode it to write a line, decode a line
/// to read it back.
///
/// | key       | type            | meaning                                                         |
/// |-----------|-----------------|-----------------------------------------------------------------|
/// | `time`    | number          | seconds on the runner's clock since the runner was made         |
/// | `service` | string          | the service's name                                              |
/// | `id`      | integer         | the instance number (``ServiceID/number``), unique per process  |
/// | `from`    | string          | the state before (`idle`, `starting`, `running`, …)             |
/// | `to`      | string          | the state after; equal to `from` for non-transitions            |
/// | `error`   | string or null  | the error's description, on a failure                           |
/// | `cause`   | string or null  | why a stop was requested: `requested`, `signal 15`, …           |
/// | `kind`    | string          | `transition`, `taskFailed`, `stopRequested`, `restartScheduled`, `shutdownStalled`, `draining` |
/// | `attempt` | integer         | only on `restartScheduled`: which restart within the policy's window |
/// | `delay`   | number          | only on `restartScheduled`: seconds of backoff before that restart |
/// | `stopping`| array           | only on `shutdownStalled`: `[{"service": name, "id": number}]`  |
public struct JSONLifecycleRecord: Codable, Sendable, Equatable {
    /// Seconds on the runner's clock since the runner was made.
    public var time: Double
    /// The service's name.
    public var service: String
    /// The service's instance number, ``ServiceID/number``.
    public var id: Int
    /// The state before, as `ServiceState.rawValue`.
    public var from: String
    /// The state after, as `ServiceState.rawValue`.
    public var to: String
    /// The error's description (`String(describing:)`), or `nil`.
    public var error: String?
    /// The ``StopCause``'s description for a `stopRequested` event, or `nil`.
    public var cause: String?
    /// `transition`, `taskFailed`, `stopRequested`, `restartScheduled`, `shutdownStalled` or `draining`.
    public var kind: String
    /// For a `restartScheduled` event, which restart within the policy's window; otherwise `nil`
    /// (and the key is left out of the line).
    public var attempt: Int?
    /// For a `restartScheduled` event, the backoff in seconds before that restart; otherwise `nil`
    /// (and the key is left out of the line).
    public var delay: Double?
    /// For a `shutdownStalled` event, the services whose `stop()` still runs; otherwise `nil` (and
    /// the key is left out of the line).
    public var stopping: [Stopping]?

    /// One service of a stall report.
    public struct Stopping: Codable, Sendable, Equatable {
        /// The service's name.
        public var service: String
        /// The service's instance number.
        public var id: Int

        /// The entry of one service.
        public init(_ service: ServiceID) {
            self.service = service.name
            id = service.number
        }
    }

    /// The record of one event.
    public init(_ event: LifecycleEvent) {
        time = EventText.seconds(event.time)
        service = event.service.name
        id = event.service.number
        from = event.from.rawValue
        to = event.to.rawValue
        error = event.error.map { String(describing: $0) }
        cause = event.stopCause?.description
        kind = EventText.kindName(event.kind)
        if case .restartScheduled(let attempt, let delay) = event.kind {
            self.attempt = attempt
            self.delay = EventText.seconds(delay)
        }
        if case .shutdownStalled(let services) = event.kind { stopping = services.map(Stopping.init) }
    }

    /// The keys of a line; every one is written, `null` when empty, so a pipeline sees a fixed shape.
    private enum CodingKeys: String, CodingKey {
        case time, service, id, from, to, error, cause, kind, attempt, delay, stopping
    }

    /// Writes every key, with `null` for a missing error or cause.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode(service, forKey: .service)
        try container.encode(id, forKey: .id)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(error, forKey: .error)
        try container.encode(cause, forKey: .cause)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(attempt, forKey: .attempt)
        try container.encodeIfPresent(delay, forKey: .delay)
        try container.encodeIfPresent(stopping, forKey: .stopping)
    }

    /// The service's identity, as the event carried it.
    public var serviceID: ServiceID { ServiceID(name: service, number: id) }

    /// The state before, or `nil` when `from` names no state.
    public var fromState: ServiceState? { ServiceState(rawValue: from) }

    /// The state after, or `nil` when `to` names no state.
    public var toState: ServiceState? { ServiceState(rawValue: to) }

    /// The cause parsed back from its description (`signal 15` → `.signal(15)`), or `nil`.
    public var stopCause: StopCause? {
        guard let cause else { return nil }
        let words = cause.split(separator: " ")
        switch (words.first, words.count == 2 ? Int32(words[1]) : nil) {
        case ("requested", nil) where words.count == 1: return .requested
        case ("failure", nil) where words.count == 1: return .failure
        case ("cancellation", nil) where words.count == 1: return .cancellation
        case ("deadline", nil) where words.count == 1: return .deadline
        case ("signal", let number?): return .signal(number)
        case ("escalation", let number?): return .escalation(number)
        default: return nil
        }
    }

    /// The event's kind parsed back, with its cause for `stopRequested`; `nil` when unknown.
    public var eventKind: LifecycleEvent.Kind? {
        switch kind {
        case "transition": return .transition
        case "taskFailed": return .taskFailed
        case "stopRequested": return stopCause.map { .stopRequested($0) }
        case "restartScheduled":
            guard let attempt, let delay, delay.isFinite, delay >= 0 else { return nil }
            return .restartScheduled(attempt: attempt, delay: .nanoseconds(Int64(min(delay, 1e9) * 1e9)))
        case "shutdownStalled":
            return stopping.map { .shutdownStalled(stopping: $0.map { ServiceID(name: $0.service, number: $0.id) }) }
        case "draining": return .draining
        default: return nil
        }
    }
}
