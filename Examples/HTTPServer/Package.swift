// swift-tools-version: 6.0
import PackageDescription

// A Hummingbird 2 server run by Lifecycle (DESIGN §15): `swift run HTTPServer` (see README.md).
// The versions are the ones this machine has; Lifecycle and its integrations come by path.
let package = Package(
    name: "HTTPServer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "HTTPServer", targets: ["HTTPServer"])
    ],
    dependencies: [
        .package(name: "Lifecycle", path: "../.."),
        .package(name: "LifecycleIntegrations", path: "../../Integrations"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "HTTPServerApp",
            dependencies: [
                .product(name: "Lifecycle", package: "Lifecycle"),
                .product(name: "LifecycleObservers", package: "Lifecycle"),
                .product(name: "LifecycleServiceLifecycle", package: "LifecycleIntegrations"),
                .product(name: "LifecycleLogging", package: "LifecycleIntegrations"),
                .product(name: "LifecycleMetrics", package: "LifecycleIntegrations"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(name: "HTTPServer", dependencies: ["HTTPServerApp"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServerApp", "HTTPServer"]),
    ],
    swiftLanguageModes: [.v6]
)
