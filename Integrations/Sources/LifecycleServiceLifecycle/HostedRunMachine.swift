/// What one run of a hosted service is doing, and what each fact about it means (pure: no task, no clock).
///
/// A run begins `starting`; the hosted service's ready signal moves it `up`; the Lifecycle `stop()`
/// moves it `stopping`; the end of its `run()` moves it `ended`. Where the run was when `run()` ended
/// says whether that end was the stop we asked for, a failed start, or a failure of a running service.
struct HostedRunMachine: Sendable, Equatable {
    /// Where a run is.
    enum Phase: Sendable, Equatable {
        /// `run()` was launched; the start waits for the ready signal.
        case starting
        /// Ready: the Lifecycle start has returned.
        case up
        /// Our `stop()` triggered the hosted group's graceful shutdown.
        case stopping
        /// `run()` has returned or thrown.
        case ended
    }

    /// What to do after the ready signal.
    enum ReadyAction: Sendable, Equatable {
        /// The first signal while starting: let the waiting start return.
        case resumeStart
        /// A second signal, or one after a stop or the end: nothing (the callback is safe to call twice).
        case ignore
    }

    /// What the end of `run()` means.
    enum RunEndedAction: Sendable, Equatable {
        /// It ended before it was ready: the start fails with it.
        case failStart
        /// It ended while up and nobody asked it to: the tree fails, once.
        case failTree
        /// It ended because our `stop()` asked it to: that stop may return.
        case finishStop
    }

    /// What our `stop()` should do.
    enum StopAction: Sendable, Equatable {
        /// Trigger the hosted group's graceful shutdown, then await the end of `run()`.
        case shutDownGracefully
        /// A stop already triggered it: only await the end.
        case awaitEnd
        /// `run()` has already ended (its failure was reported by the monitor): nothing to stop.
        case nothing
    }

    private(set) var phase = Phase.starting

    /// The hosted service said it is ready (or, with `.immediately`, its `run()` began).
    mutating func readySignalled() -> ReadyAction {
        switch phase {
        case .starting:
            phase = .up
            return .resumeStart
        case .up, .stopping, .ended:
            return .ignore
        }
    }

    /// The hosted `run()` returned or threw.
    mutating func runEnded() -> RunEndedAction {
        defer { phase = .ended }
        switch phase {
        case .starting: return .failStart
        case .up: return .failTree
        // `.ended` cannot happen (a run ends once); it is treated as the end of a stop, which waits for nothing.
        case .stopping, .ended: return .finishStop
        }
    }

    /// Our `stop()` was called (also a start's own rollback, after a failed or cancelled start).
    mutating func stopRequested() -> StopAction {
        switch phase {
        case .starting, .up:
            phase = .stopping
            return .shutDownGracefully
        case .stopping:
            return .awaitEnd
        case .ended:
            return .nothing
        }
    }
}
