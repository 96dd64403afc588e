import Foundation
import LifecycleTesting
import Testing

@testable import Lifecycle

/// Fault injection for changing a running tree (DESIGN §10–§11): from a seed, a random running
/// tree, then a random sequence of `add` (new subtrees sharing services with the tree and earlier
/// additions, starts that throw, cycles through the root), `remove` (earlier additions, and
/// services never added), crashes of services with a restart policy and a stop request in the
/// middle of an add; then the tree stops. Every event and every call is checked: the kit's
/// ``InvariantChecker``, and the change's own rules (lives never overlap, nothing starts or runs
/// while a dependency is down, every start stopped once, nothing left running, `add` refused after
/// the stop request).
///
/// `LIFECYCLE_CHANGE_SEEDS` (default 500) sets how many seeds run, `LIFECYCLE_CHANGE_SEED` (default
/// 1) the first one; a failure prints the command that runs its seed again alone.
@Suite(.timeLimit(.minutes(30))) struct ChangeFaultInjectionTests {
    @Test func randomAddsRemovesAndRestartsKeepEveryInvariant() async throws {
        await Self.campaign(overlap: ChangeRun.overlapSetting)
    }

    /// Changes and the tree's stop while a restart runs (each crash not left to settle), and trees
    /// failed by a full restart window. When this campaign was written, 505 of the first 2,000
    /// seeds failed; the restart fixes that followed brought it to 84, all on the event stream: the
    /// transitions a restart made of a service being added or removed reached no runner (its plan
    /// was in neither the tree nor its additions while the change was in flight). With the changes
    /// in flight counted as the tree's, 40,000 seeds pass (`LIFECYCLE_CHANGE_SEEDS=20000
    /// LIFECYCLE_CHANGE_MAX_FAILURES=100000`, seeds from 1 and from 20,001).
    @Test
    func changesAndStopsDuringRestartsKeepEveryInvariant() async throws {
        await Self.campaign(overlap: true)
    }

    /// Runs the seeds the environment asks for and records the first five failures.
    static func campaign(overlap: Bool) async {
        let first = setting("LIFECYCLE_CHANGE_SEED").flatMap(UInt64.init) ?? 1
        let count = setting("LIFECYCLE_CHANGE_SEEDS").flatMap(UInt64.init) ?? 500
        var failures: [(seed: UInt64, violations: [String])] = []
        var totals = ChangeRun.Totals()
        // `LIFECYCLE_CHANGE_MAX_FAILURES`: how many failing seeds end the campaign (default 5).
        let limit = setting("LIFECYCLE_CHANGE_MAX_FAILURES").flatMap(Int.init) ?? 5
        var ran = 0
        for seed in first..<(first + count) {
            ran += 1
            let run = ChangeRun(seed: seed, overlap: overlap)
            let violations = await run.run(totals: &totals)
            if !violations.isEmpty { failures.append((seed, violations)) }
            if failures.count >= limit { break }
        }
        print(
            "change fault injection (overlap: \(overlap)): \(ran) seeds from \(first), "
                + "\(failures.count) failing: \(totals)")
        // Per rule, how many failing seeds broke it (the kit's rules are read from its report).
        var byRule: [String: Int] = [:]
        for (_, violations) in failures {
            let text = violations.dropLast().joined(separator: "\n")
            let rules = Set(
                text.split(separator: "\n").compactMap { line -> String? in
                    let trimmed = line.drop { $0 == " " || $0 == "-" }
                    guard trimmed.hasPrefix("["), let end = trimmed.firstIndex(of: "]") else { return nil }
                    return String(trimmed[...end])
                })
            for rule in rules where rule != "[kit]" { byRule[rule, default: 0] += 1 }
        }
        if !byRule.isEmpty {
            print(
                "  failing seeds per rule: "
                    + byRule.sorted { $0.key < $1.key }.map { "\($0) \($1)" }.joined(separator: ", "))
        }
        for (seed, violations) in failures.prefix(5) {
            Issue.record(
                """
                seed \(seed) broke \(violations.count) rule(s); rerun with LIFECYCLE_CHANGE_SEED=\(seed) \
                LIFECYCLE_CHANGE_SEEDS=1 swift test --filter ChangeFaultInjectionTests
                \(violations.prefix(12).joined(separator: "\n"))
                """)
        }
    }

    /// A service added while a restart stops the dependents of its dependency (here the root's
    /// slow stop) must not run on that dependency while it stops: it is started after the restart,
    /// or stopped with the dependents. The add once counted the dependency as running, started the
    /// new service on it, and the restart then stopped the dependency under it (found by the
    /// campaign, seeds 8, 9, 11 with `LIFECYCLE_CHANGE_OVERLAP=1`; holds since a start waits while a
    /// dependency is pending in a restart).
    @Test
    func anAddDuringARestartDoesNotStartOnADependencyAboutToStop() async throws {
        let log = ProbeLog()
        let clock = ManualClock()
        let database = ChangeProbe(
            "database", policy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .none), log: log)
        let root = LifecycleTesting.ProbeService(
            "root", log: log, clock: clock, dependencies: [database], stop: .sleep(.seconds(1)))
        let runner = ServiceRunner(root, signals: [], stallReportInterval: nil)
        let events = collect(runner.events())
        try await runner.start()
        database.crash()
        await clock.waitForSleepers(1)  // the restart is inside the root's stop
        let api = ChangeProbe("api", dependencies: [database], log: log)
        let adding = Task { try await runner.add(api) }
        try await Task.sleep(for: .milliseconds(20))
        clock.advance(by: .seconds(1))
        try await adding.value
        let restarted = await ChangeRun.settle(
            log, crashed: database.serviceID, lives: 1, up: [database.serviceID, root.serviceID],
            state: { $0 == root.serviceID ? runner.state(of: root) : runner.state(of: database) })
        #expect(restarted)
        let stopping = Task { try await runner.stop() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        try await stopping.value
        let calls = log.calls.sorted { $0.sequence < $1.sequence }
        let dependencies = [
            database.serviceID: [], api.serviceID: [database.serviceID], root.serviceID: [database.serviceID],
        ]
        #expect(ChangeLifeCheck.violations(calls, dependencies: dependencies) == [], "\(log.transcript)")
        #expect(InvariantChecker(roots: [root, api]).check(await events.value, log: log) == nil)
    }

    /// A service crashing again while its restart still starts its dependents must not stop under a
    /// dependent whose `start()` is in flight: that start is cancelled or awaited, and the dependent
    /// stopped first. The second restart once stopped only the dependents marked running, so the
    /// dependency stopped while the dependent started and then ran on it (found by the campaign:
    /// seeds 1407 and 5432 of 20,000 before each restart was left to settle in the runner's state;
    /// holds since a restart waits for the calls in flight on its members).
    @Test
    func aCrashWhileItsDependentsRestartStopsThemFirst() async throws {
        let log = ProbeLog()
        let clock = ManualClock()
        let database = ChangeProbe(
            "database", policy: .onFailure(maxRestarts: 3, within: .seconds(60), backoff: .none), log: log)
        let root = LifecycleTesting.ProbeService(
            "root", log: log, clock: clock, dependencies: [database], start: .sleep(.seconds(1)))
        let runner = ServiceRunner(root, signals: [], stallReportInterval: nil)
        let events = collect(runner.events())
        let starting = Task { try await runner.start() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        try await starting.value
        database.crash()
        await clock.waitForSleepers(1)  // the restart is inside the root's start
        database.crash()
        try await Task.sleep(for: .milliseconds(20))
        // Let every start and stop that is left finish, then stop.
        let stopping = Task { try await runner.stop() }
        let deadline = ContinuousClock.now + .seconds(10) * FaultSettings.slowdown
        while ContinuousClock.now < deadline {
            clock.advance(by: .seconds(1))
            if runner.state(of: root) == .stopped, !runnerIsBusy(log) { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await stopping.value
        let calls = log.calls.sorted { $0.sequence < $1.sequence }
        let dependencies = [database.serviceID: [], root.serviceID: [database.serviceID]]
        #expect(ChangeLifeCheck.violations(calls, dependencies: dependencies) == [], "\(log.transcript)")
        #expect(InvariantChecker(root: root).check(await events.value, log: log) == nil)
    }

    /// Whether a start or a stop in `log` has begun and not ended.
    private func runnerIsBusy(_ log: ProbeLog) -> Bool {
        var open: [ServiceID: Int] = [:]
        for call in log.calls where call.phase != .task {
            open[call.service, default: 0] += call.kind == .began ? 1 : -1
        }
        return open.values.contains { $0 > 0 }
    }

    /// The same operations drawn from one seed make the same tree and the same choices.
    @Test func aSeedDrawsTheSameRunAgain() {
        var one = SeededRandom(seed: 42)
        var two = SeededRandom(seed: 42)
        #expect(ChangeRun.draw(&one) == ChangeRun.draw(&two))
    }

    private static func setting(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name]
    }
}

/// One seed's run: the tree, the operations and the checks.
struct ChangeRun {
    let seed: UInt64
    /// Whether changes and the stop may come while a restart runs (else each crash's restart
    /// settles first).
    var overlap = ChangeRun.overlapSetting

    /// What the runs did, over a campaign.
    struct Totals: CustomStringConvertible {
        var adds = 0, addsRefusedAsCycles = 0, addsFailed = 0, addsCancelled = 0
        var removes = 0, removesRefused = 0, crashes = 0, stopsDuringAdd = 0, restarts = 0

        var description: String {
            "\(adds) adds (\(addsRefusedAsCycles) cycles refused, \(addsFailed) failed starts, "
                + "\(addsCancelled) cancelled by a stop), \(removes) removes (\(removesRefused) notAdded), "
                + "\(crashes) crashes (\(restarts) restarts scheduled), \(stopsDuringAdd) stops during an add"
        }
    }

    /// The operation kinds, drawn by weight.
    enum Operation: Equatable { case add, remove, crash, pause }

    /// The operations of a run (also the test that a seed draws the same run again).
    static func draw(_ random: inout SeededRandom) -> [Operation] {
        (0..<Int.random(in: 2...10, using: &random)).map { _ in
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4: .add
            case 4..<6: .remove
            case 6..<9: .crash
            default: .pause
            }
        }
    }

    /// `LIFECYCLE_CHANGE_OVERLAP=1`: changes and the stop may come while a restart runs.
    static let overlapSetting = ProcessInfo.processInfo.environment["LIFECYCLE_CHANGE_OVERLAP"] == "1"

    /// Waits (real time, at most 10 s) until `crashed` lives again and every service in `up` is up.
    /// `lives`: how many lives `crashed` had before the crash (read before crashing it: the restart
    /// may be over before this is called).
    static func settle(
        _ log: ProbeLog, crashed: ServiceID, lives: Int, up: Set<ServiceID>,
        state: (ServiceID) -> ServiceState
    ) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10) * FaultSettings.slowdown
        while ContinuousClock.now < deadline {
            let calls = log.calls
            let again = calls.contains { $0.service == crashed && $0.life > lives && $0.phase == .start }
            // The runner marks a service running after its start returns: wait for that too.
            if again, up.isSubset(of: ChangeLifeCheck.upServices(calls)),
                up.allSatisfy({ state($0) == .running })
            {
                return true
            }
            try? await Task.sleep(for: .microseconds(200))
        }
        return false
    }

    /// Runs the seed's scenario and returns the rules it broke (empty when none).
    func run(totals: inout Totals) async -> [String] {
        var random = SeededRandom(seed: seed)
        let log = ProbeLog()
        var probes: [ChangeProbe] = []
        var violations: [String] = []
        var made = 0

        func policy(_ random: inout SeededRandom) -> RestartPolicy {
            guard random.chance(40) else { return .never }
            let backoff: Backoff =
                random.chance(50) ? .none : .constant(.microseconds(Int64.random(in: 1...500, using: &random)))
            return .onFailure(maxRestarts: 10_000, within: .seconds(60), backoff: backoff)
        }
        /// A probe depending on some of `pool`, in one or two stages.
        func make(
            _ prefix: String, on pool: [any Service], _ random: inout SeededRandom, failingStarts: Int = 0,
            startDelay: Duration = .zero, extra: [any Service] = []
        ) -> ChangeProbe {
            made += 1
            let chosen = pool.filter { _ in random.chance(35) } + extra
            var stages: [any DependencyElement] = []
            if chosen.count >= 2, random.chance(30) {
                stages.append(Parallel(Array(chosen.prefix(2))))
                stages += chosen.dropFirst(2).map { $0 as any DependencyElement }
            } else {
                stages = chosen.map { $0 as any DependencyElement }
            }
            let probe = ChangeProbe(
                "\(prefix)\(made)", dependencies: Dependencies(stages), policy: policy(&random), log: log,
                failingStarts: failingStarts, startDelay: startDelay)
            probes.append(probe)
            return probe
        }

        // The tree: a few services, each on some earlier ones; the root on every one nobody needs.
        var declared: [ChangeProbe] = []
        for _ in 0..<Int.random(in: 1...5, using: &random) {
            declared.append(make("s", on: declared, &random))
        }
        let needed = Set(declared.flatMap { $0.dependencies.stages.flatMap { $0 }.map(\.serviceID) })
        let tops = declared.filter { !needed.contains($0.serviceID) }
        made += 1
        let root = ChangeProbe("root\(made)", dependencies: Dependencies(tops), log: log)
        probes.append(root)

        let runner = ServiceRunner(root, signals: [], stallReportInterval: nil)
        let events = collect(runner.events())
        do {
            try await runner.start()
        } catch {
            return ["the tree did not start: \(error)"]
        }

        let state = { (id: ServiceID) in probes.first { $0.serviceID == id }.map(runner.state) ?? .idle }
        var added: [ChangeProbe] = []  // successful additions, in order (one entry per add)
        var stopRequested = false
        /// A full restart window failed the tree (overlapping crashes): changes are refused from then on.
        let treeFailed = { runner.snapshot().stopCause == .failure }
        /// `service` and its dependencies, transitively.
        func closure(_ service: any Service) -> Set<ServiceID> {
            var found: Set<ServiceID> = []
            var pending = [service]
            while let next = pending.popLast() {
                guard found.insert(next.serviceID).inserted else { continue }
                pending += next.dependencies.stages.flatMap { $0 }
            }
            return found
        }
        operations: for (step, operation) in Self.draw(&random).enumerated() {
            if treeFailed() { break operations }
            defer {
                // Between operations (each restart settled) exactly the tree and the additions run.
                if !overlap {
                    let expected = added.reduce(closure(root)) { $0.union(closure($1)) }
                    let up = ChangeLifeCheck.upServices(log.calls)
                    if up != expected {
                        let names = { (ids: Set<ServiceID>) in ids.map(\.name).sorted().joined(separator: ", ") }
                        violations.append(
                            "[running set] after step \(step) (\(operation)): running \(names(up)), "
                                + "expected \(names(expected))")
                    }
                }
            }
            switch operation {
            case .add:
                totals.adds += 1
                let pool: [any Service] = declared + added
                let cycle = random.chance(15)
                let again = !cycle && !added.isEmpty && random.chance(15)
                let service: ChangeProbe
                if again {
                    service = added.randomElement(using: &random)!
                } else {
                    var fresh: [ChangeProbe] = []
                    for index in 0..<Int.random(in: 1...3, using: &random) {
                        let failing = random.chance(12) ? 1 : 0
                        let extra: [any Service] = (cycle && index == 0) ? [root] : []
                        fresh.append(make("a", on: pool + fresh, &random, failingStarts: failing, extra: extra))
                    }
                    // The last one holds every fresh one nobody else needs, so all are in its tree.
                    let inner = Set(fresh.flatMap { $0.dependencies.stages.flatMap { $0 }.map(\.serviceID) })
                    let loose = fresh.dropLast().filter { !inner.contains($0.serviceID) }
                    if loose.isEmpty {
                        service = fresh.last!
                    } else {
                        service = make("a", on: [], &random, extra: loose + [fresh.last!])
                    }
                }
                do {
                    try await runner.add(service)
                    if cycle { violations.append("add of \(service.name), which depends on the root, succeeded") }
                    added.append(service)
                } catch LifecycleError.dependencyCycle(let path) {
                    totals.addsRefusedAsCycles += 1
                    if !cycle { violations.append("add of \(service.name) refused as a cycle \(path)") }
                } catch let error as Boom {
                    totals.addsFailed += 1
                    if cycle { violations.append("add of \(service.name) (a cycle) started and failed: \(error)") }
                } catch LifecycleError.notRunning where treeFailed() {
                    break operations
                } catch is CancellationError where treeFailed() {
                    break operations  // the failure's stop cancelled the add in flight
                } catch {
                    violations.append("add of \(service.name) threw \(error)")
                }
            case .remove:
                totals.removes += 1
                if !added.isEmpty, random.chance(75) {
                    let index = Int.random(in: 0..<added.count, using: &random)
                    let service = added[index]
                    do {
                        try await runner.remove(service)
                        added.remove(at: added.lastIndex { $0 === service }!)
                    } catch LifecycleError.notRunning where treeFailed() {
                        break operations
                    } catch {
                        violations.append(
                            "remove of \(service.name), added \(added.count { $0 === service }) time(s), threw \(error)"
                        )
                    }
                } else {
                    // A service of the tree, or one whose additions were all removed: never added now.
                    let candidates = probes.filter { probe in !added.contains { $0 === probe } }
                    let service = candidates.randomElement(using: &random)!
                    do {
                        try await runner.remove(service)
                        violations.append("remove of \(service.name), not added, succeeded")
                    } catch LifecycleError.notAdded(let id) where id == service.serviceID {
                        totals.removesRefused += 1
                    } catch LifecycleError.notRunning where treeFailed() {
                        break operations
                    } catch {
                        violations.append("remove of \(service.name), not added, threw \(error)")
                    }
                }
            case .crash:
                let restarting = probes.filter(\.restarts)
                guard let service = restarting.randomElement(using: &random) else { continue }
                totals.crashes += 1
                let before = ChangeLifeCheck.upServices(log.calls)
                let lives = log.calls(of: service.serviceID).map(\.life).max() ?? 0
                service.crash()
                if random.chance(50) { await Task.yield() }
                // Changes and stops during a restart hit known defects (see the disabled campaign
                // above); `LIFECYCLE_CHANGE_OVERLAP=1` lets them overlap anyway.
                if !overlap, before.contains(service.serviceID) {
                    if !(await Self.settle(log, crashed: service.serviceID, lives: lives, up: before, state: state)) {
                        violations.append("[restart] the restart after crashing \(service.name) did not settle")
                    }
                }
            case .pause:
                try? await Task.sleep(for: .microseconds(Int64.random(in: 1...300, using: &random)))
            }
        }

        // Sometimes the stop is requested while an add starts slow services.
        if random.chance(30) {
            totals.stopsDuringAdd += 1
            let slow = make(
                "late", on: declared + added, &random,
                startDelay: .microseconds(Int64.random(in: 1...400, using: &random)))
            let adding = Task { try await runner.add(slow) }
            for _ in 0..<Int.random(in: 0...3, using: &random) { await Task.yield() }
            runner.requestStop()
            stopRequested = true
            do {
                try await adding.value
            } catch is CancellationError {
                totals.addsCancelled += 1
            } catch LifecycleError.notRunning {
                // The stop request (or the tree's failure) came first.
            } catch {
                violations.append("add of \(slow.name) during the stop request threw \(error)")
            }
        } else if random.chance(30) {
            runner.requestStop()
            stopRequested = true
        }
        if stopRequested {
            let extra = ChangeProbe("refused\(made + 1)", log: log)
            do {
                try await runner.add(extra)
                violations.append("add after the stop request succeeded")
            } catch LifecycleError.notRunning(let id) where id == root.serviceID {
            } catch {
                violations.append("add after the stop request threw \(error)")
            }
        }
        do {
            try await runner.stop()
        } catch  where treeFailed() {
            // The failure that ended the tree, as stop() reports it.
        } catch {
            violations.append("stop threw \(error)")
        }
        let extra = ChangeProbe("refused\(made + 2)", log: log)
        do {
            try await runner.add(extra)
            violations.append("add after the stop succeeded")
        } catch LifecycleError.notRunning(let id) where id == root.serviceID {
        } catch {
            violations.append("add after the stop threw \(error)")
        }
        if (try? await runner.remove(added.first ?? root)) != nil {
            violations.append("remove after the stop succeeded")
        }

        // The checks.
        let recorded = await events.value
        totals.restarts += recorded.count {
            if case .restartScheduled = $0.kind { return true }
            return false
        }
        let checker = InvariantChecker(roots: probes)
        if let failure = checker.check(recorded, log: log) {
            violations.append("[kit] \(failure)")
        }
        var dependencies: [ServiceID: [ServiceID]] = [:]
        for probe in probes {
            dependencies[probe.serviceID] = probe.dependencies.stages.flatMap { $0 }.map(\.serviceID)
        }
        let calls = log.calls.sorted { $0.sequence < $1.sequence }
        violations += ChangeLifeCheck.violations(calls, dependencies: dependencies)
        for probe in probes {
            let mine = calls.filter { $0.service == probe.serviceID }
            let started = mine.count { $0.phase == .start && $0.kind == .returned }
            let stopped = mine.count { $0.phase == .stop && $0.kind == .began }
            if started != stopped {
                violations.append("[one stop per start] \(probe.name): \(started) starts, \(stopped) stops")
            }
        }
        if !violations.isEmpty {
            violations.append("calls:\n\(log.transcript)")
        }
        return violations
    }
}
