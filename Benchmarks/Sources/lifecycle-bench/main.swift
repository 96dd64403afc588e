// lifecycle-bench: start + stop cost per service for Lifecycle trees, ServiceGroup and a bare-await floor.
//
//   swift run -c release --package-path Benchmarks lifecycle-bench [--sizes 10,1000,10000,100000]
//       [--servicegroup-max 10000] [--json results.json] [--systems floor,lifecycle,blocking,servicegroup,latency]
//
// The reports of LifecycleObservers (critical path, tree diagram) are measured on request:
//   swift run -c release --package-path Benchmarks lifecycle-bench --systems report --sizes 1000,4000,12000
//
// Each case runs in a child process of its own (this executable with --case), so the peak resident
// memory (VmHWM) of one case is not inflated by another's. Times are medians of repeated runs.
import Foundation

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

if let spec = option("--case") {
    guard let benchCase = Case(parsing: spec) else { fatalError("bad case \(spec)") }
    let result = try await measure(benchCase)
    print("RESULT \(result.medianNanoseconds) \(result.peakBytesPerService)")
    exit(0)
}

let sizes = (option("--sizes") ?? "10,1000,10000,100000").split(separator: ",").compactMap { Int($0) }
let groupLimit = Int(option("--servicegroup-max") ?? "10000") ?? 10_000
let jsonPath = option("--json")
let systems = Set((option("--systems") ?? "floor,lifecycle,blocking,servicegroup,latency").split(separator: ",").map(String.init))

var cases: [Case] = []
for size in sizes {
    cases.append(Case(.floor, "flat", size))
    for shape in Shape.allCases {
        cases.append(Case(.lifecycle, shape.rawValue, size, events: true))
        cases.append(Case(.lifecycle, shape.rawValue, size, events: false))
    }
    for shape in [Shape.wide, .chain] {
        cases.append(Case(.blocking, shape.rawValue, size, events: true))
        cases.append(Case(.blocking, shape.rawValue, size, events: false))
    }
    if size <= groupLimit { cases.append(Case(.servicegroup, "flat", size)) }
}
cases.append(Case(.latency, "parallel-sleep", 100))
cases.append(Case(.latency, "stop-reaction", 1_000))
// Reports of recorded runs, per service (per group for the tree): opt in with --systems report.
for size in sizes {
    for shape in ReportShape.allCases { cases.append(Case(.report, shape.rawValue, size)) }
}

func runChild(_ benchCase: Case) -> Measurement? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = ["--case", benchCase.description]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
        let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") })
    else {
        FileHandle.standardError.write(Data("\(benchCase): failed (status \(process.terminationStatus))\n".utf8))
        return nil
    }
    let fields = line.split(separator: " ")
    return Measurement(medianNanoseconds: Double(fields[1])!, peakBytesPerService: Double(fields[2])!)
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let space = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + space : space + text
}

func format(nanoseconds: Double) -> String {
    nanoseconds >= 1e6 ? String(format: "%.2f ms", nanoseconds / 1e6)
        : nanoseconds >= 1e3 ? String(format: "%.2f µs", nanoseconds / 1e3) : String(format: "%.0f ns", nanoseconds)
}

cases = cases.filter { systems.contains($0.system.rawValue) || $0.system == .floor }
var floors: [Int: Double] = [:]
var rows: [String] = []
var json: [String] = []
let header =
    "| \(pad("system", 22, left: true)) | \(pad("shape", 7, left: true)) | \(pad("N", 7)) | \(pad("per service", 11)) | \(pad("× floor", 8)) | \(pad("peak B/service", 14)) |"
print(header)
print("|" + [24, 9, 9, 13, 10, 16].map { String(repeating: "-", count: $0 - 1) + ":" }.joined(separator: "|") + "|")
for benchCase in cases {
    guard let result = runChild(benchCase) else { continue }
    if benchCase.system == .floor { floors[benchCase.count] = result.medianNanoseconds }
    let system: String
    switch benchCase.system {
    case .lifecycle: system = benchCase.events ? "Lifecycle, 1 consumer" : "Lifecycle, no subscriber"
    case .blocking: system = benchCase.events ? "Blocking, 1 consumer" : "Blocking, no subscriber"
    case .servicegroup: system = "ServiceGroup 2.13.0"
    case .floor: system = "floor (bare await)"
    case .latency: system = "latency"
    case .report: system = "report"
    }
    let isLatency = benchCase.system == .latency || benchCase.system == .report
    let ratio = isLatency ? "" : floors[benchCase.count].map { String(format: "%.1f", result.medianNanoseconds / $0) } ?? ""
    let row =
        "| \(pad(system, 22, left: true)) | \(pad(benchCase.shape, 7, left: true)) | \(pad(String(benchCase.count), 7)) | \(pad(format(nanoseconds: result.medianNanoseconds), 11)) | \(pad(ratio, 8)) | \(pad(isLatency ? "" : String(format: "%.0f", result.peakBytesPerService), 14)) |"
    print(row)
    fflush(nil)
    json.append(
        "{\"system\": \"\(benchCase.system.rawValue)\", \"events\": \(benchCase.events), \"shape\": \"\(benchCase.shape)\", \"n\": \(benchCase.count), \"ns\": \(result.medianNanoseconds), \"peakBytes\": \(result.peakBytesPerService)}"
    )
}
if sizes.contains(100_000), groupLimit < 100_000 {
    print("\nServiceGroup is capped at N = \(groupLimit) (--servicegroup-max): its stop is quadratic, minutes at 100,000.")
}
if let jsonPath {
    try ("[\n" + json.joined(separator: ",\n") + "\n]\n").write(toFile: jsonPath, atomically: true, encoding: .utf8)
}
