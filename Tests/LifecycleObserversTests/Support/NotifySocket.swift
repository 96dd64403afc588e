import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A datagram socket a test binds and hands to a ``SystemdNotifier`` as `NOTIFY_SOCKET`: what
/// systemd would listen on, a file path or an abstract name.
final class NotifySocket: Sendable {
    /// The value of `NOTIFY_SOCKET`: the path, or `@` and the abstract name.
    let name: String
    private let descriptor: Int32
    private let path: String?

    init(abstract: Bool) {
        #if os(Linux)
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #else
            descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        precondition(descriptor >= 0, "socket() failed: \(errno)")
        let unique = "lifecycle-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var bytes: [UInt8]
        if abstract {
            name = "@" + unique
            path = nil
            bytes = [0] + Array(unique.utf8)
        } else {
            let file = NSTemporaryDirectory() + unique + ".sock"
            name = file
            path = file
            bytes = Array(file.utf8)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        precondition(bound == 0, "bind() failed: \(errno)")
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    /// The environment of a process systemd started with this socket.
    var environment: [String: String] { ["NOTIFY_SOCKET": name] }

    /// Reads datagrams as they come, as systemd would (the queue of a datagram socket is short:
    /// a sender facing a full one drops its message), until the returned task is cancelled.
    func listen() -> Task<[String], Never> {
        Task {
            var messages: [String] = []
            while !Task.isCancelled {
                messages += drain()
                try? await Task.sleep(for: .milliseconds(1))
            }
            return messages + drain()
        }
    }

    /// Every datagram waiting now, in order, without blocking.
    func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            guard count > 0 else { return messages }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
    }
}
