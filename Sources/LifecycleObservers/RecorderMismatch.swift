/// What an ``EventRecorder`` check found wrong, with every event recorded so far.
///
/// Its description is the message followed by the whole transcript, so a failing test shows what
/// actually happened, not only what was expected.
public struct RecorderMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was expected and what was found.
    public let message: String
    /// ``EventRecorder/transcript`` when the check ran.
    public let transcript: String

    /// A mismatch with its message and transcript.
    public init(message: String, transcript: String) {
        self.message = message
        self.transcript = transcript
    }

    /// The message, then the transcript.
    public var description: String {
        "\(message)\nevents recorded:\n\(transcript.isEmpty ? "  (none)" : transcript)"
    }
}
