import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tells systemd (a `Type=notify` unit) how the tree is doing, over the `NOTIFY_SOCKET` datagram socket.
///
/// ```swift
/// let api = API()
/// try await api.run(observers: [SystemdNotifier(root: api)])
/// ```
///
/// - `READY=1` when the root reaches `running` (systemd then counts the unit as started);
/// - `STOPPING=1` at the first stop request, so systemd knows the stop is the service's own;
/// - `STATUS=…` lines on the root's changes, on failures, on the drain and on stall reports
///   (`systemctl status` shows the last one);
/// - `WATCHDOG=1` every half `WATCHDOG_USEC` while the root runs, when `WATCHDOG_USEC` is set and
///   `WATCHDOG_PID` is unset or names this process.
///
/// `NOTIFY_SOCKET` may be a path (`/run/systemd/notify`) or an abstract name (`@name`). When it is
/// unset, empty or of another kind, nothing is sent at all and the notifier only consumes the events.
/// A message that cannot be sent at once (no listener, a full queue) is dropped and counted in
/// ``failedMessages``: sending never blocks and never stops the tree.
/// The notifier needs no dependency: it writes the datagrams itself.
public struct SystemdNotifier: LifecycleObserver {
    /// Where the messages go: the socket address, or `nil` for nowhere.
    private let address: SocketAddress?
    /// Half of `WATCHDOG_USEC`, when the watchdog applies to this process.
    private let watchdogInterval: Duration?
    private let root: ServiceID
    private let failures = Locked(0)

    /// A notifier for the tree under `root`, reading `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
    /// `WATCHDOG_PID` from `environment` (the process's own by default; tests pass their own).
    public init(root: any Service, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(root: root.serviceID, environment: environment)
    }

    /// A notifier for the tree whose root has this identity.
    public init(root: ServiceID, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.root = root
        address = environment["NOTIFY_SOCKET"].flatMap(SocketAddress.init)
        watchdogInterval = Self.watchdogInterval(environment)
    }

    /// Whether `NOTIFY_SOCKET` named a socket this notifier can send to.
    public var isEnabled: Bool { address != nil }

    /// How many messages could not be sent (no listener, a full buffer). Safe from any thread.
    public var failedMessages: Int { failures.withLock { $0 } }

    /// Sends the messages the events call for until the stream finishes; the watchdog stops then.
    public func observe(_ events: AsyncStream<LifecycleEvent>) async {
        var watchdog: Task<Void, Never>?
        var hasStopped = false
        for await event in events {
            guard address != nil else { continue }
            let isRootTransition = event.service == root && event.isTransition
            // The pings end, and have ended, before STOPPING=1 or the root's next state is sent.
            if let running = watchdog, event.stopCause != nil || (isRootTransition && event.to != .running) {
                running.cancel()
                await running.value
                watchdog = nil
            }
            for message in messages(for: event, hasStopped: &hasStopped) { send(message) }
            if isRootTransition, event.to == .running, !hasStopped, watchdog == nil, let interval = watchdogInterval {
                watchdog = Task { [self] in
                    while !Task.isCancelled {
                        send("WATCHDOG=1")
                        try? await Task.sleep(for: interval)
                    }
                }
            }
        }
        watchdog?.cancel()
        await watchdog?.value
    }

    /// The messages one event calls for, each one datagram.
    func messages(for event: LifecycleEvent, hasStopped: inout Bool) -> [String] {
        switch event.kind {
        case .transition where event.service == root:
            let status = "STATUS=\(Self.line(root.name)) \(event.to)"
            let failure = event.error.map { " (\(Self.line(String(describing: $0))))" } ?? ""
            return event.to == .running ? ["READY=1\n" + status] : [status + failure]
        case .transition:
            guard event.to == .failed, let error = event.error else { return [] }
            return ["STATUS=\(Self.line(event.service.name)) failed: \(Self.line(String(describing: error)))"]
        case .taskFailed:
            let error = event.error.map { Self.line(String(describing: $0)) } ?? "unknown error"
            return ["STATUS=\(Self.line(event.service.name)) background task failed: \(error)"]
        case .stopRequested(let cause):
            guard !hasStopped else { return ["STATUS=stopping (\(cause))"] }
            hasStopped = true
            return ["STOPPING=1\nSTATUS=stopping (\(cause))"]
        case .draining:
            return ["STATUS=draining"]
        case .restartScheduled(let attempt, let delay):
            return ["STATUS=\(Self.line(event.service.name)) restarts (attempt \(attempt), in \(delay))"]
        case .shutdownStalled(let stopping):
            return [
                "STATUS=shutdown stalled, still stopping: \(stopping.map { Self.line($0.name) }.joined(separator: ", "))"
            ]
        }
    }

    /// Sends one datagram; a failure is counted, never thrown.
    private func send(_ message: String) {
        guard let address, !address.send(message) else { return }
        failures.withLock { $0 += 1 }
    }

    /// Text kept on one line: a line break would start a new assignment in the message.
    static func line(_ text: String) -> String {
        text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}"
                ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined()
    }

    /// Half of `WATCHDOG_USEC`, when it is a positive number and `WATCHDOG_PID` is unset or this process.
    static func watchdogInterval(_ environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else {
            return nil
        }
        if let pid = environment["WATCHDOG_PID"], !pid.isEmpty, pid != String(getpid()) { return nil }
        return .microseconds(Int64(clamping: max(1, microseconds / 2)))
    }
}

#if os(Linux)
    /// No `SIGPIPE` for a send to a socket whose listener left.
    private let noSignal = Int32(MSG_NOSIGNAL)
#else
    private let noSignal: Int32 = 0
#endif

/// A `NOTIFY_SOCKET` address: a path, or an abstract name (`@name`, a leading NUL on the wire).
struct SocketAddress: Sendable, Equatable {
    /// The bytes of `sun_path`, a leading NUL for an abstract name, no trailing NUL.
    let path: [UInt8]
    let isAbstract: Bool

    /// The address `NOTIFY_SOCKET` names; `nil` when it is empty, too long, or not a Unix socket.
    init?(_ value: String) {
        var bytes = Array(value.utf8)
        switch bytes.first {
        case UInt8(ascii: "/"):
            isAbstract = false
        case UInt8(ascii: "@"):
            isAbstract = true
            bytes[0] = 0
        default:
            return nil  // unset, empty, or another family (`vsock:`): nothing to send to
        }
        guard bytes.count > 1, !bytes.dropFirst().contains(0) else { return nil }
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        // A path needs its terminating NUL inside `sun_path`; an abstract name does not.
        guard bytes.count + (isAbstract ? 0 : 1) <= capacity else { return nil }
        path = bytes
    }

    /// Sends one datagram; returns whether it went.
    func send(_ message: String) -> Bool {
        #if os(Linux)
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (isAbstract ? 0 : 1)
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { payload in
                    // Never blocks: a listener that does not read (a full queue) costs a dropped
                    // message, never a thread of the observer's pool.
                    sendto(
                        descriptor, payload.baseAddress, payload.count, Int32(MSG_DONTWAIT) | noSignal, socketAddress,
                        socklen_t(length))
                }
            }
        }
        return sent == bytes.count
    }
}
