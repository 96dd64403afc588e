import Foundation

/// An open file descriptor on which every write fails, each in its own way.
enum FailingDescriptor: String, CaseIterable, CustomStringConvertible {
    /// `/dev/full`: every write fails with `ENOSPC`, as on a full disk (Linux only).
    case fullDevice
    /// `/dev/null` opened for reading only: every write fails with `EBADF`.
    case readOnly

    /// The kinds this system has.
    static var available: [FailingDescriptor] {
        allCases.filter { $0 != .fullDevice || FileManager.default.fileExists(atPath: "/dev/full") }
    }

    var description: String { rawValue }

    /// Opens a new descriptor; close it when done.
    func open() throws -> Int32 {
        let descriptor =
            switch self {
            case .fullDevice: Foundation.open("/dev/full", O_WRONLY)
            case .readOnly: Foundation.open("/dev/null", O_RDONLY)
            }
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return descriptor
    }
}

/// A pipe: a logger writes into `writeEnd`, the test reads what arrived from `readEnd`.
struct TestPipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    /// Closes the write end and returns everything written, as lines.
    func closeAndReadLines() -> [String] {
        close(writeEnd)
        let handle = FileHandle(fileDescriptor: readEnd, closeOnDealloc: true)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
}
