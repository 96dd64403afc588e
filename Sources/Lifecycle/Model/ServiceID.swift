/// The identity of one service instance, as events and errors name it.
///
/// Two instances with the same name are different `ServiceID`s: the identity is a number the
/// package gives each instance the first time it sees it, unique for the life of the process.
public struct ServiceID: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The service's ``Service/name`` when the package first saw the instance.
    public let name: String
    /// A number unique to the instance within this process (1, 2, 3, … in the order first seen).
    public let number: Int

    /// Creates an identity; the package makes these, tests may too.
    public init(name: String, number: Int) {
        self.name = name
        self.number = number
    }

    /// Equal when they name the same instance.
    public static func == (lhs: ServiceID, rhs: ServiceID) -> Bool { lhs.number == rhs.number }

    /// Hashes the instance number.
    public func hash(into hasher: inout Hasher) { hasher.combine(number) }

    /// The name, as a user reads it in a message.
    public var description: String { name }

    /// The name and the instance number, `Database#3`.
    public var debugDescription: String { "\(name)#\(number)" }
}
