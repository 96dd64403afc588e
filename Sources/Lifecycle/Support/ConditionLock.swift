#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value behind a `pthread_mutex_t`, with a condition variable to sleep on until the value says go.
///
/// The lock of the blocking side (``BlockingServiceTable``): a thread that must wait for another
/// thread's `start()` or `stop()` sleeps in ``withLock(waitingUntil:_:)`` with the mutex released.
/// Why pthreads and not `Synchronization.Mutex`: a blocking wait needs a condition variable, which
/// `Mutex` has not, and ThreadSanitizer intercepts pthread mutexes and condition variables, so it
/// sees the happens-before edges this lock makes.
final class ConditionLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is read and written only while `mutex` is held: in `withLock`,
    // and in `withLock(waitingUntil:_:)`, whose predicate runs with the mutex held (pthread_cond_wait
    // gives it back before returning). `Value` need not be Sendable: what it holds moves between
    // threads only through this mutex. Mutex and condition are heap-allocated so they never move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. `body` must not call back into this lock.
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Sleeps until `isReady` holds, then runs `body` with exclusive access to the value.
    ///
    /// The mutex is released while asleep; `isReady` is asked again after every ``wakeAll()``.
    func withLock<Result>(waitingUntil isReady: (Value) -> Bool, _ body: (inout Value) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !isReady(value) { pthread_cond_wait(condition, mutex) }
        return body(&value)
    }

    /// Sleeps until `isReady` holds; the mutex is released while asleep.
    func wait(until isReady: (Value) -> Bool) {
        withLock(waitingUntil: isReady, { _ in })
    }

    /// Wakes every thread sleeping in ``withLock(waitingUntil:_:)`` or ``wait(until:)``, to ask its condition again.
    func wakeAll() {
        pthread_cond_broadcast(condition)
    }
}
