/// Changing a running tree (DESIGN §11): services added as a new last stage of the root, and removed.
extension Coordinator {
    /// Starts `service` and its dependencies for the runner's running tree; those already running
    /// in any tree are counted, not started again. On failure what this call started is stopped.
    func add(_ service: any Service, to runner: ServiceRunner) async throws {
        guard runners[ObjectIdentifier(runner)] != nil else { throw LifecycleError.notRunning(runner.rootID) }
        let plan = try TreePlan(root: service)
        if let path = plan.path(to: runner.rootID) {
            // The root would depend on the service (its new last stage) and the service on the root.
            throw LifecycleError.dependencyCycle([runner.rootID] + path)
        }
        // Snapshots, the drain and the shutdown status see the added services (DESIGN §12).
        runner.track(plan)
        let key = ObjectIdentifier(runner)
        let call = nextNumber()
        runners[key]?.changing[call] = plan
        do {
            try await acquireTree(0, of: plan, for: runner)
        } catch {
            runners[key]?.changing[call] = nil
            throw error
        }
        runners[key]?.changing[call] = nil
        guard runners[key] != nil else {
            // Cannot happen: the runner's stop waits for the changes in flight. Not left running.
            _ = await walkRelease([.release(0, plan)], for: runner)
            throw LifecycleError.notRunning(runner.rootID)
        }
        runners[key]!.added.append(plan)
    }

    /// Stops a service `add` started for the runner (the newest such addition of it) and the
    /// dependencies nobody else holds, in reverse order.
    func remove(_ service: any Service, from runner: ServiceRunner) async throws {
        let removal = try beginRemoval(of: service, from: runner)
        if let first = await finishRemoval(removal, for: runner).first { throw first }
    }

    /// A removal taken out of the tree and not yet walked: its plan, and the call it is tracked by.
    struct Removal: Sendable {
        let plan: TreePlan
        let call: Int
    }

    /// Takes the newest addition of `service` out of the tree; it is the tree's (for events) until
    /// ``finishRemoval(_:for:)`` has stopped it.
    func beginRemoval(of service: any Service, from runner: ServiceRunner) throws -> Removal {
        let id = ServiceTable.shared.identify(service)
        let key = ObjectIdentifier(runner)
        guard let tree = runners[key] else { throw LifecycleError.notRunning(runner.rootID) }
        guard let position = tree.added.lastIndex(where: { $0.root.id == id }) else {
            throw LifecycleError.notAdded(id)
        }
        let removal = Removal(plan: runners[key]!.added.remove(at: position), call: nextNumber())
        runners[key]?.changing[removal.call] = removal.plan
        return removal
    }

    /// Stops a removal's service and the dependencies nobody else holds; returns the stops' errors.
    func finishRemoval(_ removal: Removal, for runner: ServiceRunner) async -> [any Error] {
        let errors = await walkRelease([.release(0, removal.plan)], for: runner)
        runners[ObjectIdentifier(runner)]?.changing[removal.call] = nil
        return errors
    }
}
