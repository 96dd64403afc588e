#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole lines written to a file descriptor with `write(2)`; a line that cannot be written is
/// dropped and counted, never a crash.
///
/// A logger runs inside the program it watches, so its output failing (a closed standard output, a
/// pipe whose reader left, a full disk) must not take the program down. Each line goes out with its
/// newline in as many `write` calls as it takes: interrupted calls (`EINTR`) are repeated, partial
/// writes continued, and a non-blocking descriptor that is full (`EAGAIN`) is waited for with
/// `poll`, as a blocking one would be. Any other error (`EPIPE`, `EBADF`, `ENOSPC`, `EIO`, …) drops
/// the rest of the line and adds one to ``droppedLines``.
///
/// - Important: `SIGPIPE` is left alone. When the process has not ignored it, the kernel ends the
///   process on a write to a pipe without a reader, before `write` can return `EPIPE`, as it does for
///   `print`. Ignore it (`signal(SIGPIPE, SIG_IGN)`; systemd does so for its services by default) to
///   have those lines dropped and counted instead.
final class DescriptorOutput: Sendable {
    /// The descriptor written to; the output never closes it.
    let descriptor: Int32
    private let dropped = Locked(0)

    /// An output to `descriptor`.
    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// How many lines could not be written, wholly or in part.
    var droppedLines: Int { dropped.withLock { $0 } }

    /// Writes `line` and a newline, or counts it as dropped.
    func write(line: String) {
        let bytes = Array((line + "\n").utf8)
        if !writeAll(bytes, to: descriptor) {
            dropped.withLock { $0 += 1 }
        }
    }
}

/// Writes every byte of `bytes`; `false` when an error other than an interruption stopped it.
private func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written > 0 {
            offset += written
            continue
        }
        // A write of some bytes that wrote none makes no progress: give up rather than spin.
        guard written < 0 else { return false }
        switch errno {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            guard waitUntilWritable(descriptor) else { return false }
        default:
            return false
        }
    }
    return true
}

/// Blocks until a non-blocking `descriptor` can take more bytes; `false` when `poll` itself fails.
private func waitUntilWritable(_ descriptor: Int32) -> Bool {
    var request = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
    while poll(&request, 1, -1) < 0 {
        guard errno == EINTR else { return false }
    }
    return true
}
