// swift-tools-version: 6.0
import PackageDescription

// Bridges from Lifecycle to the Swift server ecosystem (DESIGN §14). A package of its own so that
// the root package keeps no dependencies; it is consumed by path (see the README).
let package = Package(
    name: "LifecycleIntegrations",
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .library(name: "LifecycleServiceLifecycle", targets: ["LifecycleServiceLifecycle"]),
        .library(name: "LifecycleLogging", targets: ["LifecycleLogging"]),
        .library(name: "LifecycleMetrics", targets: ["LifecycleMetrics"]),
    ],
    dependencies: [
        .package(name: "Lifecycle", path: ".."),
        // The versions this machine has (and the lowest each bridge is tested with).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "LifecycleServiceLifecycle",
            dependencies: [
                .product(name: "Lifecycle", package: "Lifecycle"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LifecycleLogging",
            dependencies: [
                .product(name: "Lifecycle", package: "Lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LifecycleMetrics",
            dependencies: [
                .product(name: "Lifecycle", package: "Lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "LifecycleServiceLifecycleTests",
            dependencies: [
                "LifecycleServiceLifecycle",
                "LifecycleLogging",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LifecycleLoggingTests",
            dependencies: ["LifecycleLogging", .product(name: "InMemoryLogging", package: "swift-log")]
        ),
        .testTarget(
            name: "LifecycleMetricsTests",
            dependencies: ["LifecycleMetrics", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
