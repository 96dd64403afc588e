import Hummingbird
import SQLiteNIO

/// A note, as the API returns it.
public struct Note: Codable, Equatable, Sendable, ResponseEncodable {
    /// Its number.
    public let id: Int
    /// What it says.
    public let text: String
    /// How many words it has, once a job counted them.
    public let words: Int?

    /// A note.
    public init(id: Int, text: String, words: Int?) {
        self.id = id
        self.text = text
        self.words = words
    }

    init?(row: SQLiteRow) {
        guard let id = row.column("id")?.integer, let text = row.column("text")?.string else { return nil }
        self.init(id: id, text: text, words: row.column("words")?.integer)
    }
}
