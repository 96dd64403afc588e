/// Carries out, on the calling thread, what the state machines decide for a tree of blocking services.
///
/// The blocking twin of ``Coordinator``: the same facts go to the same ``StateMachine`` (through the
/// ``BlockingServiceTable``), and every transition it returns is emitted. Both walks are iterative, with
/// an explicit stack, so a chain of 10,000 services needs no deep call stack. `start()` and `stop()`
/// run on the calling thread with no lock held.
enum BlockingCoordinator {
    /// Publishes a transition of a service, with the error of a failure.
    typealias Emit = (Transition, ServiceID, (any Error)?) -> Void

    /// Makes the root of `plan` run: dependencies first, in list order, each once (facet's semantics).
    ///
    /// On failure, everything this call started is stopped in reverse order, the failed service's
    /// `stop()` is not called, and the original error is rethrown (DESIGN §4).
    static func start(_ plan: BlockingTreePlan, emit: Emit) throws {
        let table = BlockingServiceTable.shared
        // The services this thread is starting, root first, each with how many of its dependencies
        // it holds so far; `pending` is the next one to ask for.
        var path: [(index: Int, acquired: Int)] = []
        var pending: Int? = 0
        while true {
            let result: Result<Void, any Error>
            if let index = pending {
                pending = nil
                do {
                    if try table.acquire(index, of: plan) == .start {
                        path.append((index, 0))
                        continue
                    }
                    result = .success(())
                } catch {
                    result = .failure(error)
                }
            } else {
                let (index, acquired) = path[path.count - 1]
                let dependencies = plan.nodes[index].dependencies
                if acquired < dependencies.count {
                    pending = dependencies[acquired]
                    continue
                }
                path.removeLast()
                do {
                    try startService(plan.nodes[index], emit: emit)
                    result = .success(())
                } catch {
                    // Its own stop() is not called; its dependencies stop in reverse.
                    _ = release(dependencies.map { (plan, $0) }, emit: emit)
                    result = .failure(error)
                }
            }
            switch result {
            case .success:
                guard !path.isEmpty else { return }
                path[path.count - 1].acquired += 1
            case .failure(let error):
                // Every service on the path fails with it, innermost first: each stops what it holds,
                // so the whole attempt is undone in reverse start order.
                while let (index, acquired) = path.popLast() {
                    _ = release(plan.nodes[index].dependencies[..<acquired].map { (plan, $0) }, emit: emit)
                    table.dependenciesFailed(plan.nodes[index], error: error)
                }
                throw error
            }
        }
    }

    /// Calls `start()` of a service whose dependencies run, between its two transitions.
    private static func startService(_ node: BlockingTreePlan.Node, emit: Emit) throws {
        let table = BlockingServiceTable.shared
        let starting: Transition
        do {
            starting = try table.dependenciesStarted(node)
        } catch {
            table.dependenciesFailed(node, error: error)
            throw error
        }
        emit(starting, node.id, nil)
        do {
            try node.service.start()
        } catch {
            emit(try table.startFailed(node, error: error), node.id, error)
            throw error  // the user's own error, unwrapped (DESIGN §4)
        }
        emit(try table.startReturned(node), node.id, nil)
    }

    /// Lets the given services go, last first; each one's last holder stops it, then its dependencies.
    ///
    /// Never throws and never skips: every error is collected, in the order it happened, and the
    /// remaining stops still run.
    static func release(_ services: [(plan: BlockingTreePlan, index: Int)], emit: Emit) -> [any Error] {
        let table = BlockingServiceTable.shared
        // Last in, first out: the list is released from its end, and a stopped service's dependencies,
        // pushed in list order, are released (in reverse) before anything below them on the stack.
        var stack = services
        var errors: [any Error] = []
        while let (plan, index) = stack.popLast() {
            let node = plan.nodes[index]
            let stop: BlockingServiceTable.Stop?
            do {
                stop = try table.releaseRequested(index, of: plan)
            } catch {
                errors.append(error)
                continue
            }
            guard let stop else { continue }  // other dependents still hold it
            emit(stop.transition, node.id, nil)
            var stopError: (any Error)?
            do {
                try node.service.stop()
            } catch {
                stopError = error
                errors.append(error)
            }
            do {
                emit(try table.stopFinished(node, failed: stopError != nil), node.id, stopError)
            } catch {
                errors.append(error)
            }
            // The service as it was started, possibly by another tree: its dependencies are what it holds.
            stack += stop.plan.nodes[stop.index].dependencies.map { (stop.plan, $0) }
        }
        return errors
    }
}
