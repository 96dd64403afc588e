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
        let id = ServiceTable.shared.identify(service)
        guard let tree = runners[ObjectIdentifier(runner)] else { throw LifecycleError.notRunning(runner.rootID) }
        guard let position = tree.added.lastIndex(where: { $0.root.id == id }) else {
            throw LifecycleError.notAdded(id)
        }
        let key = ObjectIdentifier(runner)
        let plan = runners[key]!.added.remove(at: position)
        let call = nextNumber()
        runners[key]?.changing[call] = plan
        let errors = await walkRelease([.release(0, plan)], for: runner)
        runners[key]?.changing[call] = nil
        if let first = errors.first { throw first }
    }
}
