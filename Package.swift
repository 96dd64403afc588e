// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Lifecycle",
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .library(name: "Lifecycle", targets: ["Lifecycle"]),
        .library(name: "LifecycleObservers", targets: ["LifecycleObservers"]),
        .library(name: "LifecycleTesting", targets: ["LifecycleTesting"]),
        .executable(name: "lifecycle-demo", targets: ["lifecycle-demo"]),
    ],
    targets: [
        .target(name: "Lifecycle"),
        .target(name: "LifecycleObservers", dependencies: ["Lifecycle"]),
        .target(name: "LifecycleTesting", dependencies: ["Lifecycle"]),
        .executableTarget(name: "lifecycle-demo", dependencies: ["Lifecycle", "LifecycleObservers"]),
        .testTarget(name: "LifecycleTests", dependencies: ["Lifecycle", "LifecycleTesting"]),
        .testTarget(name: "LifecycleTestingTests", dependencies: ["LifecycleTesting", "LifecycleObservers"]),
        .testTarget(name: "LifecycleObserversTests", dependencies: ["LifecycleObservers"]),
        .testTarget(name: "LifecycleDemoTests", dependencies: ["lifecycle-demo"]),
    ],
    swiftLanguageModes: [.v6]
)
