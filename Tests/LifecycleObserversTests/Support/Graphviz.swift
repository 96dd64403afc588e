import Foundation

/// Graphviz's `dot`, when it is installed (CI installs it; the tests that need it skip otherwise).
enum Graphviz {
    /// Where `dot` is on the `PATH`, if anywhere.
    static let executable: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":")
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent("dot") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// Whether `dot` is installed.
    static var isInstalled: Bool { executable != nil }

    /// Renders `source` to SVG; returns the exit status and what `dot` said on standard error.
    static func renderSVG(_ source: String) throws -> (status: Int32, errors: String) {
        guard let executable else { return (-1, "dot is not installed") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lifecycle-\(UUID()).dot")
        try Data(source.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-Tsvg", "-o", "/dev/null", file.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: said, as: UTF8.self))
    }
}
