import Lifecycle

// Placeholder until the demo issue lands.
try await ClosureService(name: "demo").run(signals: Signals.none)
