/// What the process knows of every blocking service instance: identity, its ``StateMachine``, and
/// which threads wait for another thread's `start()` or `stop()` of it.
///
/// One table and one lock for the process, so a service shared by trees running on several threads
/// has one machine and one count of holders (DESIGN §3). The lock (a ``ConditionLock``) is held only
/// to ask a machine and record its answer, never while a service's `start()` or `stop()` runs: unrelated
/// trees never wait for each other. A thread that meets a start (or stop) in flight on another
/// thread sleeps on the lock's condition until that thread settles its ticket.
final class BlockingServiceTable: Sendable {
    /// The one table of the process.
    static let shared = BlockingServiceTable()

    /// What a thread acquiring a service must do next.
    enum Grant: Equatable {
        /// The service runs for this holder now: counted, or another thread's start of it succeeded.
        case held
        /// This thread starts it: its dependencies in order, then ``dependenciesStarted(_:)`` and `start()`.
        case start
    }

    /// The last holder let a service go: emit `transition`, call `stop()`, then release its dependencies.
    struct Stop {
        let transition: Transition
        /// The tree the service was started from (possibly another thread's) and its node there:
        /// that node's dependencies are what the service holds.
        let plan: BlockingTreePlan
        let index: Int
    }

    private enum Outcome {
        case done
        case failed(any Error)
    }

    /// A class, so that a lookup mutates it in place instead of copying its weak reference (a slow
    /// runtime call) in and out of the dictionary at every step.
    private final class Entry: @unchecked Sendable {
        // @unchecked Sendable: every Entry is reached only through `storage`, so it is read and
        // written only while `storage`'s ConditionLock (its pthread mutex) is held.

        /// Compared by identity only, to tell a new instance at a reused address from the old one.
        weak var object: AnyObject?
        let id: ServiceID
        /// The service's machine; threads waiting for another thread's start or stop of it are
        /// parked in it as tickets.
        var machine: StateMachine<Int>
        /// Where the service was started from, while it starts and runs; keeps that tree alive.
        var startedFrom: (plan: BlockingTreePlan, index: Int)?

        init(object: AnyObject, id: ServiceID, machine: StateMachine<Int>) {
            self.object = object
            self.id = id
            self.machine = machine
        }
    }

    private struct Storage {
        var entries: [ObjectIdentifier: Entry] = [:]
        /// Outcomes handed to waiting threads, by ticket; a waiter takes its own out.
        var outcomes: [Int: Outcome] = [:]
        var lastTicket = 0
        var pruneAt = 1024

        mutating func ticket() -> Int {
            lastTicket += 1
            return lastTicket
        }

        /// Hands `outcome` to every ticket; the caller then wakes the sleepers.
        mutating func settle(_ tickets: [Int], with outcome: Outcome) {
            for ticket in tickets { outcomes[ticket] = outcome }
        }
    }

    private let storage = ConditionLock(Storage())

    // MARK: Identity and state

    /// The identity of a service, given a number the first time the instance is seen.
    func identify(_ service: any BlockingService) -> ServiceID {
        let key = ObjectIdentifier(service)
        if let id = storage.withLock({ $0.entries[key].flatMap { $0.object === service ? $0.id : nil } }) {
            return id
        }
        // Read the user's `name` outside the lock: it is their code.
        let name = service.name
        let number = ServiceTable.shared.makeNumber()
        return storage.withLock { storage in
            if let entry = storage.entries[key], entry.object === service { return entry.id }
            let id = ServiceID(name: name, number: number)
            storage.entries[key] = Entry(object: service, id: id, machine: StateMachine<Int>(service: id))
            if storage.entries.count >= storage.pruneAt {
                // A service that starts or runs is held by its tree, so only finished ones are pruned.
                storage.entries = storage.entries.filter { $0.value.object != nil }
                storage.pruneAt = max(1024, storage.entries.count * 2)
            }
            return id
        }
    }

    /// The service's state; `idle` for an instance never started.
    func state(of service: any BlockingService) -> ServiceState {
        storage.withLock { storage in
            guard let entry = storage.entries[ObjectIdentifier(service)], entry.object === service else { return .idle }
            return entry.machine.state
        }
    }

    // MARK: Starting

    /// One more holder asks for node `index` of `plan`; sleeps while another thread starts or stops it.
    ///
    /// - Throws: the error that ended another thread's start of it, when this holder waited for that start.
    func acquire(_ index: Int, of plan: BlockingTreePlan) throws -> Grant {
        let key = ObjectIdentifier(plan.nodes[index].service)
        while true {
            let (action, ticket) = storage.withLock { storage -> (StateMachine<Int>.AcquireAction, Int) in
                // The plan holds the service, so its entry (made by `identify`) is there. A ticket
                // is parked in the machine when this thread must wait.
                let action = storage.entries[key]!.machine.acquireRequested()
                switch action {
                case .countHolder:
                    return (action, 0)
                case .startDependencies:
                    storage.entries[key]!.startedFrom = (plan, index)
                    return (action, 0)
                case .waitForStart, .waitForStop, .waitForEarlierLife:
                    let ticket = storage.ticket()
                    storage.entries[key]!.machine.park(token: ticket, waiter: ticket)
                    return (action, ticket)
                }
            }
            switch action {
            case .countHolder:
                return .held
            case .startDependencies:
                return .start
            case .waitForStart:
                // Counted already; the other thread's outcome is this holder's too.
                switch wait(for: ticket) {
                case .done: return .held
                case .failed(let error): throw error
                }
            case .waitForStop, .waitForEarlierLife:
                // Not counted: once that stop finished, ask again (and start it afresh).
                _ = wait(for: ticket)
            }
        }
    }

    /// The dependencies of `node` are running: the returned transition (`idle → starting`) is emitted
    /// and `start()` is called.
    func dependenciesStarted(_ node: BlockingTreePlan.Node) throws(LifecycleError) -> Transition {
        try storage.withLock { storage throws(LifecycleError) in
            try storage.entries[ObjectIdentifier(node.service)]!.machine.dependenciesStarted()
        }
    }

    /// A dependency of `node` failed: it never reached `starting`; the holders waiting get `error`.
    func dependenciesFailed(_ node: BlockingTreePlan.Node, error: any Error) {
        storage.withLock { storage in
            let key = ObjectIdentifier(node.service)
            let tickets = storage.entries[key]!.machine.dependenciesFailed()
            storage.entries[key]!.startedFrom = nil
            storage.settle(tickets, with: .failed(error))
        }
        storage.wakeAll()
    }

    /// `start()` returned: the service runs for every holder counted so far, waiting ones included.
    func startReturned(_ node: BlockingTreePlan.Node) throws(LifecycleError) -> Transition {
        try endStart(of: node, with: .done) { machine throws(LifecycleError) in try machine.startReturned() }
    }

    /// `start()` threw: the service is failed, its `stop()` is not called; the waiting holders get `error`.
    func startFailed(_ node: BlockingTreePlan.Node, error: any Error) throws(LifecycleError) -> Transition {
        try endStart(of: node, with: .failed(error)) { machine throws(LifecycleError) in
            try machine.startFailed()
        }
    }

    /// Tells the machine how the start ended and hands that outcome to the threads waiting for it,
    /// even when the machine refuses (a defect): nobody sleeps forever.
    private func endStart(
        of node: BlockingTreePlan.Node, with outcome: Outcome,
        _ tell: (inout StateMachine<Int>) throws(LifecycleError) -> (Transition, [Int])
    ) throws(LifecycleError) -> Transition {
        let result: Result<Transition, LifecycleError> = storage.withLock { storage in
            let key = ObjectIdentifier(node.service)
            let told = Result { () throws(LifecycleError) in try tell(&storage.entries[key]!.machine) }
            if case .failed = outcome { storage.entries[key]!.startedFrom = nil }
            switch told {
            case .success(let (transition, tickets)):
                storage.settle(tickets, with: outcome)
                return .success(transition)
            case .failure(let refusal):
                storage.settle(storage.entries[key]!.machine.dependenciesFailed(), with: .failed(refusal))
                return .failure(refusal)
            }
        }
        storage.wakeAll()
        return try result.get()
    }

    // MARK: Stopping

    /// A holder lets node `index` of `plan` go; returns what to stop when it was the last one.
    ///
    /// - Throws: ``LifecycleError/illegalTransition(_:from:to:)`` when the service does not run.
    func releaseRequested(_ index: Int, of plan: BlockingTreePlan) throws(LifecycleError) -> Stop? {
        try storage.withLock { storage throws(LifecycleError) in
            let key = ObjectIdentifier(plan.nodes[index].service)
            switch try storage.entries[key]!.machine.releaseRequested() {
            case .keepRunning:
                return nil
            case .callStop(let transition):
                let startedFrom = storage.entries[key]!.startedFrom ?? (plan, index)
                storage.entries[key]!.startedFrom = nil
                return Stop(transition: transition, plan: startedFrom.plan, index: startedFrom.index)
            case .waitForRestartStep, .leaveRestart:
                // Blocking services have no restart policy (DESIGN §10 is for async trees).
                let state = storage.entries[key]!.machine.state
                throw .illegalTransition(plan.nodes[index].id, from: state, to: .stopping)
            }
        }
    }

    /// `stop()` returned (or threw, `failed`): the returned transition is emitted, and the threads
    /// that waited for this stop ask again.
    func stopFinished(_ node: BlockingTreePlan.Node, failed: Bool) throws(LifecycleError) -> Transition {
        let result: Result<Transition, LifecycleError> = storage.withLock { storage in
            let key = ObjectIdentifier(node.service)
            let told = Result { () throws(LifecycleError) in
                try storage.entries[key]!.machine.stopFinished(failed: failed)
            }
            return told.map { transition, tickets in
                storage.settle(tickets, with: .done)
                return transition
            }
        }
        storage.wakeAll()
        return try result.get()
    }

    // MARK: Waiting

    /// Sleeps until another thread settled `ticket`, and takes its outcome.
    private func wait(for ticket: Int) -> Outcome {
        storage.withLock(
            waitingUntil: { $0.outcomes[ticket] != nil },
            { $0.outcomes.removeValue(forKey: ticket)! })
    }
}
