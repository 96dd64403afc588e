/// What a fault-injection campaign did, for RELIABILITY.md: trees, services, faults that fired.
struct FaultStatistics: CustomStringConvertible {
    var trees = 0
    var services = 0
    var treesSharingServices = 0
    var startThrew = 0
    var startTimedOut = 0
    var stopThrew = 0
    var stopTimedOut = 0
    var taskThrew = 0
    var stopRequests = 0
    var cancellations = 0
    var cancellationsWhileStopping = 0
    var violations = 0

    /// Counts what one run's services recorded.
    mutating func add(faults: [Faults], calls: [FaultRecorder.Entry], roots: Int, cancelled: Bool?) {
        trees += 1
        services += faults.count
        if roots > 1 { treesSharingServices += 1 }
        for entry in calls {
            let fault = faults[entry.service]
            switch entry.kind {
            case .startCalled where fault.startHangs: startTimedOut += 1
            case .startThrew where fault.startThrows: startThrew += 1
            case .stopCalled where fault.stopHangs: stopTimedOut += 1
            case .stopThrew where fault.stopThrows: stopThrew += 1
            case .taskThrew: taskThrew += 1
            default: break
            }
        }
        switch cancelled {
        case true?: cancellations += 1
        case false?: stopRequests += 1
        case nil: break
        }
    }

    static func + (lhs: FaultStatistics, rhs: FaultStatistics) -> FaultStatistics {
        var sum = lhs
        sum.trees += rhs.trees
        sum.services += rhs.services
        sum.treesSharingServices += rhs.treesSharingServices
        sum.startThrew += rhs.startThrew
        sum.startTimedOut += rhs.startTimedOut
        sum.stopThrew += rhs.stopThrew
        sum.stopTimedOut += rhs.stopTimedOut
        sum.taskThrew += rhs.taskThrew
        sum.stopRequests += rhs.stopRequests
        sum.cancellations += rhs.cancellations
        sum.cancellationsWhileStopping += rhs.cancellationsWhileStopping
        sum.violations += rhs.violations
        return sum
    }

    var description: String {
        """
        | runs (one or two trees) | \(trees) |
        | services | \(services) |
        | runs with two trees sharing services | \(treesSharingServices) |
        | start() threw | \(startThrew) |
        | start() passed startTimeout | \(startTimedOut) |
        | stop() threw | \(stopThrew) |
        | stop() passed gracefulShutdownTimeout | \(stopTimedOut) |
        | background task threw | \(taskThrew) |
        | requestStop() at a random moment | \(stopRequests) |
        | run task cancelled at a random moment | \(cancellations) |
        | run task also cancelled while stopping | \(cancellationsWhileStopping) |
        | invariant violations | \(violations) |
        """
    }
}
