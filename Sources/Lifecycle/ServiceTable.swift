/// What the process knows of every service instance it has seen: identity, state, background tasks.
///
/// It is read synchronously from any thread (`service.state`, `addTask`), so it lives behind a
/// `Mutex` rather than in the coordinator actor. Entries hold their service weakly; an entry whose
/// service is gone is pruned as the table grows, so dropped trees leave nothing behind.
final class ServiceTable: Sendable {
    /// The one table of the process: a service shared by two trees has one state.
    static let shared = ServiceTable()

    /// A class so a lookup copies one reference, not a weak reference and a dictionary.
    private final class Entry: @unchecked Sendable {  // safe: only touched under `storage`'s lock
        // @unchecked Sendable: every field is read and written only inside `storage.withLock`
        // (the `Locked` pthread mutex of this table); entries never escape that closure.
        weak var object: (any Service)?
        let id: ServiceID
        var state: ServiceState = .idle
        var tasks: [Int: Task<Void, Never>] = [:]

        init(object: any Service, id: ServiceID) {
            self.object = object
            self.id = id
        }
    }

    private struct Storage {
        var entries: [ObjectIdentifier: Entry] = [:]
        var lastNumber = 0
        var nextTaskToken = 0
        var pruneAt = 1024
    }

    private let storage = Locked(Storage())

    /// The identity of a service, given a number the first time the instance is seen.
    func identify(_ service: any Service) -> ServiceID {
        let key = ObjectIdentifier(service)
        if let id = storage.withLock({ $0.entries[key].flatMap { $0.object === service ? $0.id : nil } }) {
            return id
        }
        // Read the user's `name` outside the lock: it is their code.
        let name = service.name
        return storage.withLock { storage in
            if let entry = storage.entries[key], entry.object === service { return entry.id }
            storage.lastNumber += 1
            let id = ServiceID(name: name, number: storage.lastNumber)
            storage.entries[key] = Entry(object: service, id: id)
            if storage.entries.count >= storage.pruneAt {
                storage.entries = storage.entries.filter { $0.value.object != nil }
                storage.pruneAt = max(1024, storage.entries.count * 2)
            }
            return id
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

    /// Records a transition's new state, for synchronous readers.
    func setState(_ state: ServiceState, of service: any Service) {
        storage.withLock { storage in
            let key = ObjectIdentifier(service)
            if storage.entries[key]?.object === service { storage.entries[key]!.state = state }
        }
    }

    /// Binds a background task to a running or starting service.
    ///
    /// The task is made inside the lock's critical section but runs `operation` only after it was
    /// recorded, so a stop that takes the tasks always sees it.
    func addTask(
        to service: any Service, _ operation: @escaping @Sendable () async throws -> Void,
        reportFailure: @escaping @Sendable (ServiceID, any Error) async -> Void
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
            storage.entries[key]!.tasks[token] = Task { [weak self] in
                do {
                    try await operation()
                } catch is CancellationError {
                } catch {
                    await reportFailure(id, error)
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

    /// Takes the service's background tasks out of the table, for the stop to cancel and await.
    func takeTasks(of service: any Service) -> [Task<Void, Never>] {
        storage.withLock { storage in
            let key = ObjectIdentifier(service)
            guard storage.entries[key]?.object === service, let tasks = storage.entries[key]?.tasks else { return [] }
            storage.entries[key]!.tasks = [:]
            return Array(tasks.values)
        }
    }

    /// How many entries still name a live service: for leak tests.
    var liveEntryCount: Int {
        storage.withLock { $0.entries.values.count { $0.object != nil } }
    }
}
