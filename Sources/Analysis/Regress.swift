import Foundation
import Harness

/// One checked quantity of the nightly baseline.
public struct BaselineEntry: Codable, Equatable, Sendable {
    public var suite: String
    public var task: String
    public var method: String
    /// A metric name, or "flops_forward" / "params_total" / "params_active".
    public var quantity: String
    public var value: Double
    /// Allowed worsening, in the quantity's units (metrics) ...
    public var absTolerance: Double
    /// ... or as a fraction of the value in either direction (FLOPs, parameters).
    public var relTolerance: Double
    /// How the tolerance was set, for the reader.
    public var rule: String
}

public struct Baseline: Codable, Equatable, Sendable {
    public var tier: String
    public var createdAt: String
    public var gitCommit: String
    public var entries: [BaselineEntry]
}

/// Builds and checks the nightly regression baseline.
///
/// Tolerances are written into the baseline: an accuracy-like metric may worsen by
/// `max(minimum, 2 · seed standard deviation)` (the spread over the baseline's seeds,
/// so noisy cells get a wider band), and FLOPs and parameter counts must match within
/// 0.1% in either direction.
public enum Regression {
    public static let minimumMetricTolerance = 0.03
    public static let exactTolerance = 0.001

    public static func makeBaseline(from results: [CellResult], tier: String, gitCommit: String) -> Baseline {
        var entries: [BaselineEntry] = []
        let groups = Dictionary(grouping: results.filter(\.isOK)) { "\($0.suite)|\($0.task)|\($0.method)" }
        for key in groups.keys.sorted() {
            let rs = groups[key]!
            let first = rs[0]
            let metricNames = Set(rs.flatMap { $0.metrics.keys }).sorted()
            for m in metricNames {
                let vals = rs.compactMap { $0.metrics[m] }.filter(\.isFinite)
                guard !vals.isEmpty else { continue }
                let sd = Stats.std(vals)
                let tol = max(minimumMetricTolerance, 2 * sd)
                entries.append(BaselineEntry(suite: first.suite, task: first.task, method: first.method, quantity: m,
                                             value: Stats.mean(vals), absTolerance: tol, relTolerance: 0,
                                             rule: "max(\(minimumMetricTolerance), 2 x seed std \(String(format: "%.4f", sd))) over \(vals.count) seeds"))
            }
            func exact(_ q: String, _ v: Double?) {
                guard let v, v.isFinite else { return }
                entries.append(BaselineEntry(suite: first.suite, task: first.task, method: first.method, quantity: q,
                                             value: v, absTolerance: 0, relTolerance: exactTolerance, rule: "exact within 0.1%"))
            }
            exact("flops_forward", rs.compactMap { $0.flops?.forwardPerExampleCounted }.first.map { _ in
                Stats.mean(rs.compactMap { $0.flops?.forwardPerExampleCounted }) })
            exact("params_total", first.params.map { Double($0.total) })
        }
        return Baseline(tier: tier, createdAt: ISO8601DateFormatter().string(from: Date()), gitCommit: gitCommit, entries: entries)
    }

    public struct Row: Equatable {
        public var entry: BaselineEntry
        public var fresh: Double?
        public var regressed: Bool
        public var note: String
    }

    /// Compares fresh results with the baseline, entry by entry. A baseline entry with no
    /// fresh result counts as a regression (a cell disappeared or failed).
    public static func compare(baseline: Baseline, fresh results: [CellResult]) -> [Row] {
        let groups = Dictionary(grouping: results) { "\($0.suite)|\($0.task)|\($0.method)" }
        return baseline.entries.map { e in
            let rs = (groups["\(e.suite)|\(e.task)|\(e.method)"] ?? [])
            let ok = rs.filter(\.isOK)
            if ok.isEmpty {
                let why = rs.first?.failure ?? "no result"
                return Row(entry: e, fresh: nil, regressed: true, note: "missing: \(why)")
            }
            let vals: [Double]
            switch e.quantity {
            case "flops_forward": vals = ok.compactMap { $0.flops?.forwardPerExampleCounted }
            case "params_total": vals = ok.compactMap { $0.params.map { Double($0.total) } }
            default: vals = ok.compactMap { $0.metrics[e.quantity] }
            }
            guard !vals.isEmpty else { return Row(entry: e, fresh: nil, regressed: true, note: "missing quantity") }
            let v = Stats.mean(vals)
            if !v.isFinite { return Row(entry: e, fresh: v, regressed: true, note: "not finite") }
            if e.relTolerance > 0 {
                let rel = abs(v - e.value) / max(abs(e.value), 1e-12)
                return Row(entry: e, fresh: v, regressed: rel > e.relTolerance,
                           note: String(format: "%+.3f%%", 100 * (v - e.value) / max(abs(e.value), 1e-12)))
            }
            let worse = metricHigherIsBetter(e.quantity) ? e.value - v : v - e.value
            return Row(entry: e, fresh: v, regressed: worse > e.absTolerance,
                       note: String(format: "%+.4f (tolerance %.4f)", v - e.value, e.absTolerance))
        }
    }

    /// A markdown table of the comparison, regressions first.
    public static func markdown(_ rows: [Row]) -> String {
        var s = "| suite | task | method | quantity | baseline | fresh | change | verdict |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows.sorted(by: { ($0.regressed ? 0 : 1, $0.entry.suite, $0.entry.task) < ($1.regressed ? 0 : 1, $1.entry.suite, $1.entry.task) }) {
            let e = r.entry
            let fresh = r.fresh.map { formatQuantity($0) } ?? "—"
            s += "| \(e.suite) | \(e.task) | \(e.method) | \(e.quantity) | \(formatQuantity(e.value)) | \(fresh) | \(r.note) | \(r.regressed ? "**REGRESSED**" : "ok") |\n"
        }
        let bad = rows.filter(\.regressed).count
        s += "\n\(rows.count - bad) passed, \(bad) regressed\n"
        return s
    }

    static func formatQuantity(_ v: Double) -> String {
        abs(v) >= 1e4 ? String(format: "%.4g", v) : String(format: "%.4f", v)
    }
}
