/// The colour of each state in every diagram, so a state looks the same everywhere.
enum StateColour {
    /// The fill: grey idle, yellow starting, green running, orange stopping, blue stopped, red failed.
    static func fill(of state: ServiceState) -> String {
        switch state {
        case .idle: "#eeeeee"
        case .starting: "#fff3bf"
        case .running: "#d3f9d8"
        case .stopping: "#ffe8cc"
        case .stopped: "#dbe4ff"
        case .failed: "#ffc9c9"
        }
    }

    /// The border, a darker shade of the fill.
    static func stroke(of state: ServiceState) -> String {
        switch state {
        case .idle: "#868e96"
        case .starting: "#f59f00"
        case .running: "#2f9e44"
        case .stopping: "#e8590c"
        case .stopped: "#3b5bdb"
        case .failed: "#e03131"
        }
    }
}
