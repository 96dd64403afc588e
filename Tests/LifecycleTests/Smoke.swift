import Testing
@testable import Lifecycle
@Test func smoke() async throws {
    let s = ClosureService(name: "a")
    try await withRunning(s) { s in #expect(s.isRunning) }
    #expect(s.state == .stopped)
}
