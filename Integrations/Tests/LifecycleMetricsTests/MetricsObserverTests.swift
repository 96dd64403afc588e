import CoreMetrics
import Lifecycle
import LifecycleMetrics
import MetricsTestKit
import Testing

struct Boom: Error {}

@Suite(.timeLimit(.minutes(1)))
struct MetricsObserverTests {
    let metrics = TestMetrics()

    func run(_ service: any Service) async throws {
        try await withRunning(service, observers: [MetricsObserver(factory: metrics)]) { _ in }
    }

    @Test func aCleanRunTimesEveryStartAndStopAndCountsTheStarts() async throws {
        let database = ClosureService(name: "database")
        let api = ClosureService(name: "api", dependencies: [database])
        try await run(api)
        for name in ["database", "api"] {
            let start = try metrics.expectTimer(
                "lifecycle_service_start_duration_seconds", [("service", name), ("outcome", "success")])
            #expect(start.values.count == 1)
            let stop = try metrics.expectTimer(
                "lifecycle_service_stop_duration_seconds", [("service", name), ("outcome", "success")])
            #expect(stop.values.count == 1)
            #expect(try metrics.expectCounter("lifecycle_service_starts_total", [("service", name)]).totalValue == 1)
        }
        #expect(try metrics.expectCounter("lifecycle_stop_requests_total", [("cause", "requested")]).totalValue == 1)
        #expect(metrics.counters(label: "lifecycle_service_failures_total").isEmpty)
    }

    @Test func theServicesMeterFollowsEachState() async throws {
        let database = ClosureService(name: "database")
        let api = ClosureService(name: "api", dependencies: [database])
        try await run(api)
        #expect(try metrics.expectMeter("lifecycle_services", [("state", "stopped")]).lastValue == 2)
        for state in ["starting", "running", "stopping"] {
            #expect(try metrics.expectMeter("lifecycle_services", [("state", state)]).lastValue == 0)
        }
        #expect(metrics.meters(label: "lifecycle_services", dimensions: [("state", "idle")]).isEmpty)
    }

    @Test func aFailedStartIsCountedAndTimedAsAFailure() async throws {
        let database = ClosureService(name: "database")
        let failing = ClosureService(name: "failing", dependencies: [database], start: { throw Boom() })
        await #expect(throws: Boom.self) { try await run(failing) }
        #expect(
            try metrics.expectCounter("lifecycle_service_failures_total", [("service", "failing"), ("phase", "start")])
                .totalValue == 1)
        _ = try metrics.expectTimer(
            "lifecycle_service_start_duration_seconds", [("service", "failing"), ("outcome", "failure")])
        #expect(try metrics.expectMeter("lifecycle_services", [("state", "failed")]).lastValue == 1)
        #expect(try metrics.expectMeter("lifecycle_services", [("state", "stopped")]).lastValue == 1)
    }

    @Test func aFailedStopAndAFailedTaskAreCountedByPhase() async throws {
        let broken = ClosureService(name: "broken", stop: { throw Boom() })
        let runner = ServiceRunner(broken, observers: [MetricsObserver(factory: metrics)], signals: Signals.none)
        try await runner.start()
        try broken.addTask { throw Boom() }
        await #expect(throws: Boom.self) { try await runner.wait() }
        try? await runner.stop()
        for phase in ["stop", "task"] {
            #expect(
                try metrics.expectCounter(
                    "lifecycle_service_failures_total", [("service", "broken"), ("phase", phase)]
                )
                .totalValue == 1)
        }
        _ = try metrics.expectTimer(
            "lifecycle_service_stop_duration_seconds", [("service", "broken"), ("outcome", "failure")])
        #expect(try metrics.expectCounter("lifecycle_stop_requests_total", [("cause", "failure")]).totalValue == 1)
    }

    @Test func twoServicesOfOneNameShareTheirMetricsAndNoDimensionIsAnInstanceNumber() async throws {
        let first = ClosureService(name: "shard")
        let second = ClosureService(name: "shard")
        let root = ClosureService(name: "root", dependencies: [Parallel(first, second)])
        try await run(root)
        #expect(try metrics.expectCounter("lifecycle_service_starts_total", [("service", "shard")]).totalValue == 2)
        let numbers = [first, second, root].map { "\($0.serviceID.number)" }
        let dimensionValues = (metrics.counters.map(\.dimensions) + metrics.timers.map(\.dimensions)).flatMap { $0 }
        #expect(dimensionValues.allSatisfy { !numbers.contains($0.1) })
    }

    @Test func eachMetricKeepsOneSetOfDimensionNames() async throws {
        let failing = ClosureService(name: "failing", start: { throw Boom() })
        let root = ClosureService(name: "root")
        try await run(root)
        await #expect(throws: Boom.self) { try await run(failing) }
        var names: [String: Set<[String]>] = [:]
        for counter in metrics.counters { names[counter.label, default: []].insert(counter.dimensions.map(\.0)) }
        for timer in metrics.timers { names[timer.label, default: []].insert(timer.dimensions.map(\.0)) }
        for meter in metrics.meters { names[meter.label, default: []].insert(meter.dimensions.map(\.0)) }
        #expect(names.values.allSatisfy { $0.count == 1 })
        #expect(names["lifecycle_service_start_duration_seconds"] == [["service", "outcome"]])
    }
}
