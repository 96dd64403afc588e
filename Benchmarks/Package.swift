// swift-tools-version: 6.0
// The benchmarks of Lifecycle, in a package of their own so the root package keeps no dependencies
// (DESIGN §0). Run: swift run -c release --package-path Benchmarks lifecycle-bench
import PackageDescription

// A path dependency's identity is its folder's name, which differs between clones (CI clones elsewhere):
// derive it from this package's own location rather than spelling it.
let rootIdentity = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? "lifecycle"

let package = Package(
    name: "LifecycleBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "lifecycle-bench",
            dependencies: [
                .product(name: "Lifecycle", package: rootIdentity),
                .product(name: "LifecycleObservers", package: rootIdentity),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
