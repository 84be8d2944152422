import Foundation
import Analysis
import Harness

/// The report tables as data: `reports/csv/<suite>.csv` (other tiers: `<tier>-<suite>.csv`),
/// one row per method × task; `<suite>-routing.csv`, one row per method × task × routed
/// layer; `<suite>-difficulty.csv`, one row per method × task × proxy difficulty level.
/// Numbers are written in full precision (the shortest text that reads back as the same
/// double), metrics as fractions as in the result files; an empty field means "no value".
/// Column names are stable (documented in the README, section "Tables as CSV").
public enum CSVTables {
    /// The leading columns of the main table; one `<metric>_mean`, `<metric>_sd` pair per
    /// metric of the suite's tasks follows them, then `trailingColumns`.
    public static let leadingColumns = ["suite", "tier", "data", "task", "method", "n", "failed", "seeds", "score_mean", "score_sd"]
    public static let trailingColumns = ["fwd_flops_per_example", "active_params", "total_params", "experts_per_token"]
    public static let difficultyColumns = ["suite", "tier", "task", "method", "level", "n", "examples", "metric_mean", "metric_sd",
                                           "experts_per_token"]
    public static let routingColumns = ["suite", "tier", "task", "method", "layer", "n", "experts_per_token_mean",
                                        "experts_per_token_sd", "max_over_mean_load"]

    /// Writes the CSV files of one suite report into `dir`; returns them.
    public static func write(_ r: SuiteReport, prefix: String, dir: URL) throws -> [URL] {
        let main = dir.appendingPathComponent("\(prefix).csv")
        try atomicWrite(Data(mainTable(r).utf8), to: main)
        var out = [main]
        let routing = routingTable(r)
        if routing.split(separator: "\n").count > 1 {
            let f = dir.appendingPathComponent("\(prefix)-routing.csv")
            try atomicWrite(Data(routing.utf8), to: f)
            out.append(f)
        }
        let difficulty = difficultyTable(r)
        if difficulty.split(separator: "\n").count > 1 {
            let f = dir.appendingPathComponent("\(prefix)-difficulty.csv")
            try atomicWrite(Data(difficulty.utf8), to: f)
            out.append(f)
        }
        return out
    }

    /// Metric keys of the suite's tasks, in table order, each once.
    static func metricKeys(_ r: SuiteReport) -> [String] {
        var seen = Set<String>(), keys: [String] = []
        for t in r.tasks { for k in t.metrics where seen.insert(k).inserted { keys.append(k) } }
        return keys
    }

    static func field(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "" }
        return "\(v)"
    }

    static func quote(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func meanSD(_ v: [Double]) -> (String, String) {
        v.isEmpty ? ("", "") : (field(Stats.mean(v)), field(Stats.std(v)))
    }

    /// The main table: one row per method × task with at least one cell.
    public static func mainTable(_ r: SuiteReport) -> String {
        let keys = metricKeys(r)
        var rows = [leadingColumns + keys.flatMap { ["\($0)_mean", "\($0)_sd"] } + trailingColumns]
        for m in r.methods {
            for t in r.tasks {
                let cs = r.cells(m, t.name)
                guard !cs.isEmpty else { continue }
                let ok = cs.filter(\.isOK).sorted { $0.seed < $1.seed }
                let scores = ok.compactMap { TaskCatalog.score(task: t.name, metrics: $0.metrics) }
                var row = [r.suite, r.tier, Set(cs.map(\.data)).sorted().joined(separator: " "), t.name, m,
                           "\(ok.count)", "\(cs.count - ok.count)", ok.map { "\($0.seed)" }.joined(separator: " ")]
                let (sm, ss) = meanSD(scores)
                row += [sm, ss]
                for k in keys {
                    let (a, b) = meanSD(ok.compactMap { $0.metrics[k] })
                    row += [a, b]
                }
                let flops = ok.compactMap { $0.flops?.forwardPerExampleCounted }
                let params = ok.compactMap(\.params)
                let chosen = ok.compactMap(\.meanChosen)
                row.append(flops.isEmpty ? "" : field(Stats.mean(flops)))
                row.append(params.isEmpty ? "" : field(Stats.mean(params.map(\.active))))
                row.append(params.isEmpty ? "" : "\(params.map(\.total).max()!)")
                row.append(chosen.isEmpty ? "" : field(Stats.mean(chosen)))
                rows.append(row)
            }
        }
        return rows.map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Experts (blocks) chosen per token (sequence) per routed layer: one row per method ×
    /// task × layer, with the busiest unit's load over the mean load.
    public static func routingTable(_ r: SuiteReport) -> String {
        var rows = [routingColumns]
        for m in r.methods {
            for t in r.tasks {
                let ok = r.cells(m, t.name).filter { $0.isOK && !$0.routing.isEmpty }
                guard !ok.isEmpty else { continue }
                for l in Set(ok.flatMap { $0.routing.map(\.layer) }).sorted() {
                    let st = ok.compactMap { $0.routing.first { $0.layer == l } }
                    let (a, b) = meanSD(st.map(\.meanChosen))
                    let imbalance: [Double] = st.compactMap { x in
                        let loads = x.assignedPerUnit.map(Double.init), mean = Stats.mean(loads)
                        return mean > 0 ? loads.max()! / mean : nil
                    }
                    rows.append([r.suite, r.tier, t.name, m, "\(l)", "\(st.count)", a, b,
                                 imbalance.isEmpty ? "" : field(Stats.mean(imbalance))])
                }
            }
        }
        return rows.map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// The task's primary metric and the experts chosen per proxy difficulty level: one row
    /// per method × task × level.
    public static func difficultyTable(_ r: SuiteReport) -> String {
        var rows = [difficultyColumns]
        for m in r.methods {
            for t in r.tasks {
                let ok = r.cells(m, t.name).filter(\.isOK)
                for l in Set(ok.flatMap { $0.byDifficulty.keys }).sorted() {
                    let recs = ok.compactMap { $0.byDifficulty[l] }
                    let (a, b) = meanSD(recs.map(\.metric))
                    let chosen = recs.map(\.meanChosen).filter { $0 > 0 }
                    rows.append([r.suite, r.tier, t.name, m, l, "\(recs.count)", field(Stats.mean(recs.map { Double($0.examples) })),
                                 a, b, chosen.isEmpty ? "" : field(Stats.mean(chosen))])
                }
            }
        }
        return rows.map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Parses CSV text (RFC 4180 quoting) into rows of fields.
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], fieldText = ""
        var quoted = false, afterQuote = false
        var it = Array(text).makeIterator()
        while let ch = it.next() {
            if quoted {
                if ch == "\"" { quoted = false; afterQuote = true } else { fieldText.append(ch) }
                continue
            }
            switch ch {
            case "\"":
                if afterQuote { fieldText.append("\"") }
                quoted = true
            case ",": row.append(fieldText); fieldText = ""
            case "\n": row.append(fieldText); rows.append(row); row = []; fieldText = ""
            case "\r": break
            default: fieldText.append(ch)
            }
            afterQuote = false
        }
        if !fieldText.isEmpty || !row.isEmpty { row.append(fieldText); rows.append(row) }
        return rows
    }
}
