/// The names of service types, made once per type: the default ``Service/name``.
///
/// `String(describing:)` on a metatype walks the runtime's conformance tables, a few hundred
/// nanoseconds each time; a tree of many instances of one type pays it once.
final class TypeNames: Sendable {
    /// The cache of the process.
    static let shared = TypeNames()

    private let names = Locked<[ObjectIdentifier: String]>([:])

    /// `String(describing: type)`, computed the first time a type is asked for.
    func name(of type: Any.Type) -> String {
        let key = ObjectIdentifier(type)
        if let name = names.withLock({ $0[key] }) { return name }
        let name = String(describing: type)
        names.withLock { $0[key] = name }
        return name
    }
}
