/// What the process knows of every service instance it has seen: identity, state, background tasks.
///
/// It is read synchronously from any thread (`service.state`, `addTask`), so it lives behind a
/// `Mutex` rather than in the coordinator actor. Entries hold their service weakly; an entry whose
/// service is gone is pruned as the table grows, so dropped trees leave nothing behind.
final class ServiceTable: Sendable {
    /// The one table of the process: a service shared by two trees has one state.
    static let shared = ServiceTable()

    /// The service whose background task the current task is (bound by ``addTask(to:_:reportFailure:)``),
    /// or whose restart's `stop()` or `start()` it runs (DESIGN §10): work of every tree holding it.
    @TaskLocal static var currentTaskOwner: ServiceID?

    /// What the table keeps of one service. A class so a lookup copies one reference, not a weak
    /// reference and a dictionary; a tree's plan keeps its services' records, so the coordinator's
    /// state writes need no lookup at all.
    final class Record: @unchecked Sendable {  // safe: fields only touched under `storage`'s lock
        // @unchecked Sendable: every field is read and written only inside `storage.withLock`
        // (the `Locked` pthread mutex of this table); a record handed out is opaque outside it.
        weak var object: (any Service)?
        let id: ServiceID
        var state: ServiceState = .idle
        /// Which life of the service this is: counted up at every `→ starting`. Background tasks
        /// belong to one life, so nothing of an earlier life can touch a later one.
        var life = 0
        /// The coordinator that holds the service (set when it begins a life): its background tasks
        /// report their failures there.
        weak var holder: Coordinator?
        var tasks: [Int: Task<Void, Never>] = [:]

        init(object: any Service, id: ServiceID) {
            self.object = object
            self.id = id
        }
    }

    private struct Storage {
        var entries: [ObjectIdentifier: Record] = [:]
        var lastNumber = 0
        var nextTaskToken = 0
        var pruneAt = 1024
    }

    private let storage = Locked(Storage())

    /// The identity of a service, given a number the first time the instance is seen.
    func identify(_ service: any Service) -> ServiceID {
        register(service).id
    }

    /// The identity and the record of a service, made the first time the instance is seen.
    func register(_ service: any Service) -> (id: ServiceID, record: Record) {
        let key = ObjectIdentifier(service)
        let known: Record? = storage.withLock { storage in
            guard let record = storage.entries[key], record.object === service else { return nil }
            return record
        }
        if let known { return (known.id, known) }
        // Read the user's `name` outside the lock: it is their code.
        let name = service.name
        let record: Record = storage.withLock { storage in
            if let record = storage.entries[key], record.object === service { return record }
            storage.lastNumber += 1
            let record = Record(object: service, id: ServiceID(name: name, number: storage.lastNumber))
            storage.entries[key] = record
            if storage.entries.count >= storage.pruneAt {
                storage.entries = storage.entries.filter { $0.value.object != nil }
                storage.pruneAt = max(1024, storage.entries.count * 2)
            }
            return record
        }
        return (record.id, record)
    }

    /// The state in a record a plan holds (its service is alive, so the record is current).
    func state(of record: Record) -> ServiceState {
        storage.withLock { _ in record.state }
    }

    /// Records a transition's new state, for synchronous readers, without a lookup; returns the
    /// service's life, a new one when the service begins `starting`.
    @discardableResult
    func setState(_ state: ServiceState, of record: Record, by coordinator: Coordinator) -> Int {
        storage.withLock { _ in
            record.state = state
            if state == .starting {
                record.life += 1
                record.holder = coordinator
            }
            return record.life
        }
    }

    /// The coordinator that last started the service, if it is still there.
    func holder(of service: any Service) -> Coordinator? {
        storage.withLock { storage in
            guard let entry = storage.entries[ObjectIdentifier(service)], entry.object === service else { return nil }
            return entry.holder
        }
    }

    /// The current life of a service (see ``Record/life``).
    func life(of record: Record) -> Int {
        storage.withLock { _ in record.life }
    }

    /// Takes the background tasks of one life out of a record, for a stop or a failed start to
    /// cancel and await; nothing when the service has begun a later life meanwhile.
    func takeTasks(of record: Record, life: Int) -> [Task<Void, Never>] {
        storage.withLock { _ in
            guard record.life == life else { return [] }
            defer { record.tasks = [:] }
            return Array(record.tasks.values)
        }
    }

    /// A fresh instance number from the one counter of the process, for identities made elsewhere
    /// (``BlockingServiceTable``), so that no two `ServiceID`s of the process share a number.
    func makeNumber() -> Int {
        storage.withLock { storage in
            storage.lastNumber += 1
            return storage.lastNumber
        }
    }

    /// The service's state; `idle` for an instance never started.
    func state(of service: any Service) -> ServiceState {
        storage.withLock { storage in
            guard let entry = storage.entries[ObjectIdentifier(service)], entry.object === service else { return .idle }
            return entry.state
        }
    }

    /// Binds a background task to a running or starting service.
    ///
    /// The task is made inside the lock's critical section but runs `operation` only after it was
    /// recorded, so a stop that takes the tasks always sees it.
    func addTask(
        to service: any Service, _ operation: @escaping @Sendable () async throws -> Void,
        reportFailure: @escaping @Sendable (Coordinator?, ServiceID, _ life: Int, any Error) async -> Void
    ) throws(LifecycleError) {
        let key = ObjectIdentifier(service)
        let id = identify(service)
        let result: Result<Void, LifecycleError> = storage.withLock { storage in
            guard let entry = storage.entries[key], entry.object === service,
                entry.state == .starting || entry.state == .running
            else {
                return .failure(.taskAddedWhileNotRunning(id, storage.entries[key]?.state ?? .idle))
            }
            storage.nextTaskToken += 1
            let token = storage.nextTaskToken
            let life = entry.life
            let holder = entry.holder
            entry.tasks[token] = Task { [weak self] in
                do {
                    try await Self.$currentTaskOwner.withValue(id) { try await operation() }
                } catch is CancellationError {
                } catch {
                    await reportFailure(holder, id, life, error)
                }
                self?.removeTask(token, key: key)
            }
            return .success(())
        }
        try result.get()
    }

    private func removeTask(_ token: Int, key: ObjectIdentifier) {
        _ = storage.withLock { $0.entries[key]?.tasks.removeValue(forKey: token) }
    }

}
