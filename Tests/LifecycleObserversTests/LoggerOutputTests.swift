import Foundation
import LifecycleObservers
import Testing

/// Both loggers that write to a file descriptor: a failing one must never crash the program.
@Suite(.timeLimit(.minutes(1))) struct LoggerOutputTests {
    /// A logger writing to a descriptor, and how to read how many lines it dropped.
    enum Kind: String, CaseIterable, CustomStringConvertible {
        case console, jsonLines

        var description: String { rawValue }

        func logger(writingTo descriptor: Int32) -> (observer: any LifecycleObserver, dropped: () -> Int) {
            switch self {
            case .console:
                let logger = ConsoleLogger(fileDescriptor: descriptor)
                return (logger, { logger.droppedLines })
            case .jsonLines:
                let logger = JSONLinesLogger(fileDescriptor: descriptor)
                return (logger, { logger.droppedLines })
            }
        }

        /// The lines it writes for `events`.
        func lines(for events: [LifecycleEvent]) -> [String] {
            switch self {
            case .console: ConsoleLogger.lines(for: events)
            case .jsonLines: events.map(JSONLinesLogger.line(for:))
            }
        }
    }

    @Test(arguments: Kind.allCases, FailingDescriptor.available)
    func aLoggerWritingToAFailingDescriptorDropsAndCountsEveryLine(_ kind: Kind, _ failing: FailingDescriptor)
        async throws
    {
        let descriptor = try failing.open()
        defer { close(descriptor) }
        let logger = kind.logger(writingTo: descriptor)
        await logger.observer.observe(stream(of: Fixture.failingRun))
        #expect(logger.dropped() == Fixture.failingRun.count)
    }

    @Test(arguments: Kind.allCases)
    func aLoggerWritingToADescriptorWritesEveryLineAndDropsNone(_ kind: Kind) async throws {
        let pipe = try TestPipe()
        let logger = kind.logger(writingTo: pipe.writeEnd)
        await logger.observer.observe(stream(of: Fixture.failingRun))
        #expect(pipe.closeAndReadLines() == kind.lines(for: Fixture.failingRun))
        #expect(logger.dropped() == 0)
    }
}
