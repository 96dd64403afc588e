/// A service made of closures, for small cases and tests.
///
/// ```swift
/// let ticker = ClosureService(name: "ticker", start: { print("up") }, stop: { print("down") })
/// ```
public final class ClosureService: Service {
    /// The name given at creation.
    public let name: String
    /// The dependencies given at creation.
    public let dependencies: Dependencies
    private let onStart: @Sendable () async throws -> Void
    private let onStop: @Sendable () async throws -> Void

    /// A service whose `start()` and `stop()` call the given closures.
    public init(
        name: String,
        dependencies: Dependencies = [],
        start: @escaping @Sendable () async throws -> Void = {},
        stop: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.name = name
        self.dependencies = dependencies
        self.onStart = start
        self.onStop = stop
    }

    /// Calls the start closure.
    public func start() async throws { try await onStart() }

    /// Calls the stop closure.
    public func stop() async throws { try await onStop() }
}
