/// Something that can stand in a dependency list: a ``Service`` (a stage of its own) or a ``Parallel`` group.
public protocol DependencyElement: Sendable {
    /// The services of the stage this element makes.
    var stageServices: [any Service] { get }
}

/// Services that start together and stop together: one stage of a dependency list.
///
/// `[a, Parallel(b, c), d]` starts a, then b and c concurrently, then d; it stops d, then b and c
/// concurrently, then a.
public struct Parallel: DependencyElement {
    /// The services of the group.
    public let stageServices: [any Service]

    /// A group of the given services. An empty group is refused when the tree starts.
    public init(_ services: any Service...) {
        stageServices = services
    }

    /// A group of the services of an array, for trees built at run time: `Parallel(shards)`.
    public init(_ services: [any Service]) {
        stageServices = services
    }
}

/// A service's dependencies: sequential stages, each one service or a ``Parallel`` group.
///
/// Written as an array literal, `[database, Parallel(cache, queue), server]`, or built from an
/// array of ``DependencyElement``s at run time: `Dependencies(elements)`.
public struct Dependencies: Sendable, ExpressibleByArrayLiteral {
    /// The element of the literal: a service or a `Parallel` group.
    public typealias ArrayLiteralElement = any DependencyElement

    /// The stages in start order; each holds the services that start together.
    public let stages: [[any Service]]

    /// Dependencies from an array literal.
    public init(arrayLiteral elements: any DependencyElement...) {
        self.init(elements)
    }

    /// Dependencies from an array of stages built at run time.
    public init(_ elements: [any DependencyElement]) {
        stages = elements.map(\.stageServices)
    }

    /// Whether there are no stages.
    public var isEmpty: Bool { stages.isEmpty }
}
