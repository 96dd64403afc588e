import Testing

@testable import Lifecycle

/// The pure decisions of a restart (DESIGN §10): backoff, the sliding window, the members' order.
struct RestartPlanTests {
    @Test func exponentialBackoffDoublesUpToItsMaximum() {
        let backoff = Backoff.exponential(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(
            (1...6).map(backoff.delay(forAttempt:)) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
                .seconds(1),
            ])
        #expect(backoff.delay(forAttempt: 0) == .milliseconds(100))
        #expect(backoff.delay(forAttempt: .max) == .seconds(1))
    }

    @Test func constantAndNoBackoffAndHostileValues() {
        #expect(Backoff.none.delay(forAttempt: 3) == .zero)
        #expect(Backoff.constant(.seconds(2)).delay(forAttempt: 9) == .seconds(2))
        #expect(Backoff.constant(.seconds(-2)).delay(forAttempt: 1) == .zero)
        #expect(Backoff.constant(.seconds(Int64.max)).delay(forAttempt: 1) == Duration.practicallyNever)
        let huge = Backoff.exponential(initial: .seconds(Int64.max / 2), maximum: .seconds(Int64.max))
        #expect(huge.delay(forAttempt: 50) == Duration.practicallyNever)
    }

    @Test func theWindowCountsRestartsAndSlides() {
        var history = RestartPlan.History()
        let policy = RestartPolicy.onFailure(maxRestarts: 2, within: .seconds(10), backoff: .constant(.seconds(1)))
        #expect(history.failed(at: .seconds(0), policy: policy) == .restart(attempt: 1, delay: .seconds(1)))
        #expect(history.failed(at: .seconds(5), policy: policy) == .restart(attempt: 2, delay: .seconds(1)))
        #expect(history.failed(at: .seconds(9), policy: policy) == .giveUp)
        // The restart at 0 s leaves the window at 10 s.
        #expect(history.failed(at: .seconds(10), policy: policy) == .restart(attempt: 2, delay: .seconds(1)))
        #expect(history.times == [.seconds(5), .seconds(10)])
    }

    @Test func neverAndZeroRestartsGiveUpAtOnce() {
        var history = RestartPlan.History()
        #expect(history.failed(at: .zero, policy: .never) == .giveUp)
        #expect(history.failed(at: .zero, policy: .onFailure(maxRestarts: 0)) == .giveUp)
        #expect(history.times.isEmpty)
    }

    @Test func membersAreTheFailedServiceAndItsDependentsInStartOrder() {
        let (a, b, c, d, e) = (id("a", 1), id("b", 2), id("c", 3), id("d", 4), id("e", 5))
        // e → d → b → a, d → c → a; c and e unrelated to b; e depends on d only.
        let dependencies: [ServiceID: [ServiceID]] = [a: [], b: [a], c: [a], d: [b, c], e: [d]]
        #expect(RestartPlan.members(restarting: b, dependencies: dependencies) == [b, d, e])
        #expect(RestartPlan.members(restarting: a, dependencies: dependencies) == [a, b, c, d, e])
        #expect(RestartPlan.members(restarting: e, dependencies: dependencies) == [e])
    }

    @Test func aDependentReachedTwiceIsTakenOnce() {
        let (a, b) = (id("a", 1), id("b", 2))
        #expect(RestartPlan.members(restarting: a, dependencies: [a: [], b: [a, a]]) == [a, b])
    }

    private func id(_ name: String, _ number: Int) -> ServiceID { ServiceID(name: name, number: number) }
}
