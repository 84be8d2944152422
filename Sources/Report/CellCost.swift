import Analysis
import Harness

/// The measured cost of a set of results: how many succeeded, their summed wall times
/// (`wallSeconds`, taken by the process that ran each cell) and their seeds. What the suite
/// reports' *Cost* sections, the claims report's seed costs and `list suites` print.
struct CellCost {
    /// The figures are stated for 2 cores running one single-threaded cell each.
    static let jobs = 2

    var cells: Int
    var seconds: Double
    var seeds: Int

    /// Failed results are left out.
    init(_ results: [CellResult]) {
        let ok = results.filter(\.isOK)
        cells = ok.count
        seconds = ok.map(\.wallSeconds).reduce(0, +)
        seeds = Set(ok.map(\.seed)).count
    }

    var secondsPerSeed: Double { seeds > 0 ? seconds / Double(seeds) : 0 }
    /// About the wall time of running the cells `jobs` at a time.
    var wallSeconds: Double { seconds / Double(CellCost.jobs) }

    static func minutes(_ seconds: Double) -> String { String(format: "%.1f", seconds / 60) }
}
