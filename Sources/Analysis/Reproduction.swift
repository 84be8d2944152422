import Foundation
import Harness

/// Compares re-run results with reference results (`moebench verify`, `make replicate`).
///
/// Two results of one cell agree when they are bit-identical (every metric, the final
/// training loss and the step count) if both ran on the same CPU kind (OpenBLAS kernel
/// family) with the same thread count; otherwise when every metric of the rerun lies within
/// the 95% confidence interval half-width of the reference's seeds of that task and method
/// (with fewer than two seeds, or a narrower interval, within `tolerance`, the nightly
/// regression's floor).
public enum Reproduction {
    public static let tolerance = Regression.minimumMetricTolerance

    public struct CellCheck: Sendable {
        public var id: String
        /// Same CPU kind and thread count: the rule is bit-identity.
        public var bitRule: Bool
        public var agree: Bool
        /// What differs, for the reader.
        public var detail: String
    }

    static func sameKind(_ a: CellResult, _ b: CellResult) -> Bool {
        a.environment.kernelKind == b.environment.kernelKind && a.environment.threads == b.environment.threads
    }

    public static func key(_ r: CellResult) -> String { "\(r.tier)/\(r.suite)/\(r.task)__\(r.method)__s\(r.seed)" }

    /// The 95% CI half-width of `metric` over the reference's seeds of `r`'s task and method.
    static func halfWidth(_ r: CellResult, metric: String, reference: [CellResult]) -> Double {
        let vals = reference.filter { $0.suite == r.suite && $0.task == r.task && $0.method == r.method && $0.isOK }
            .compactMap { $0.metrics[metric] }.filter(\.isFinite)
        guard vals.count >= 2 else { return 0 }
        let ci = Stats.meanInterval(vals)
        return (ci.high - ci.low) / 2
    }

    public static func compare(reference r: CellResult, rerun x: CellResult, allReference: [CellResult]) -> CellCheck {
        let id = key(r)
        guard x.isOK else { return CellCheck(id: id, bitRule: sameKind(r, x), agree: false, detail: "rerun failed: \(x.failure ?? "?")") }
        guard r.configHash == x.configHash else {
            return CellCheck(id: id, bitRule: false, agree: false, detail: "configuration hash \(x.configHash) vs reference \(r.configHash)")
        }
        if sameKind(r, x) {
            var diffs: [String] = []
            for m in Set(r.metrics.keys).union(x.metrics.keys).sorted() where r.metrics[m] != x.metrics[m] {
                diffs.append("\(m) \(fmt(r.metrics[m])) -> \(fmt(x.metrics[m]))")
            }
            if r.finalTrainLoss != x.finalTrainLoss { diffs.append("final loss \(fmt(r.finalTrainLoss)) -> \(fmt(x.finalTrainLoss))") }
            if r.trainSteps != x.trainSteps { diffs.append("steps \(r.trainSteps) -> \(x.trainSteps)") }
            return CellCheck(id: id, bitRule: true, agree: diffs.isEmpty,
                             detail: diffs.isEmpty ? "bit-identical" : "not bit-identical: " + diffs.joined(separator: "; "))
        }
        var diffs: [String] = [], within: [String] = []
        for m in r.metrics.keys.sorted() {
            guard let a = r.metrics[m] else { continue }
            guard let b = x.metrics[m] else { diffs.append("\(m) missing"); continue }
            let tol = max(halfWidth(r, metric: m, reference: allReference), tolerance)
            if abs(a - b) <= tol || (a.isNaN && b.isNaN) {
                within.append(String(format: "%@ %+.4f", m, b - a))
            } else {
                diffs.append(String(format: "%@ %.4f -> %.4f (tolerance %.4f)", m, a, b, tol))
            }
        }
        let kinds = "\(r.environment.kernelKind)/\(r.environment.threads)t vs \(x.environment.kernelKind)/\(x.environment.threads)t"
        return CellCheck(id: id, bitRule: false, agree: diffs.isEmpty,
                         detail: diffs.isEmpty ? "within tolerance (\(kinds)): " + within.joined(separator: ", ")
                                               : "outside tolerance (\(kinds)): " + diffs.joined(separator: "; "))
    }

    /// One row of the reproduction table: a suite and method's score, reference and rerun.
    public struct Row: Sendable {
        public var suite: String
        public var method: String
        public var reference: Double?
        public var rerun: Double?
        public var referenceCI: (low: Double, high: Double)?
        public var cells: Int
        public var bitRule: Bool
        public var agree: Bool
        public var note: String
    }

    /// Per suite and method: the suite score (mean over tasks, then over seeds) of the
    /// reference and of the rerun, and whether they agree: every cell bit-identical when every
    /// cell ran on the same CPU kind and thread count as its reference, else the rerun's mean
    /// within the reference seeds' 95% CI (at least ± `tolerance`).
    public static func table(reference: [CellResult], rerun: [CellResult]) -> [Row] {
        let refByKey = Dictionary(reference.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        let pairs = Set(reference.map { "\($0.suite)|\($0.method)" }).sorted()
        for p in pairs {
            let parts = p.split(separator: "|").map(String.init)
            let (suite, method) = (parts[0], parts[1])
            let refCells = reference.filter { $0.suite == suite && $0.method == method }
            let reCells = rerun.filter { $0.suite == suite && $0.method == method }
            let reByKey = Dictionary(reCells.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
            let refScores = Scores.suiteScores(reference, suite: suite, method: method).valuesInKeyOrder
            let reScores = Scores.suiteScores(rerun, suite: suite, method: method).valuesInKeyOrder
            let refMean = refScores.isEmpty ? nil : Stats.mean(refScores)
            let reMean = reScores.isEmpty ? nil : Stats.mean(reScores)
            let missing = refCells.filter { reByKey[key($0)] == nil }.count
            let checks = refCells.compactMap { r in reByKey[key(r)].map { compare(reference: r, rerun: $0, allReference: reference) } }
            let bitRule = !checks.isEmpty && checks.allSatisfy(\.bitRule)
            var row = Row(suite: suite, method: method, reference: refMean, rerun: reMean, referenceCI: nil,
                          cells: checks.count, bitRule: bitRule, agree: false, note: "")
            if missing > 0 {
                row.note = "\(missing) of \(refCells.count) cells not rerun"
            } else if bitRule {
                let off = checks.filter { !$0.agree }
                row.agree = off.isEmpty
                row.note = off.isEmpty ? "all \(checks.count) cells bit-identical" : "\(off.count) of \(checks.count) cells differ"
            } else if let refMean, let reMean {
                let ci = Stats.meanInterval(refScores)
                let half = max((ci.high - ci.low) / 2, tolerance)
                row.referenceCI = (refMean - half, refMean + half)
                row.agree = abs(reMean - refMean) <= half
                let same = refCells.filter { r in
                    reByKey[key(r)].map { $0.metrics == r.metrics && $0.finalTrainLoss == r.finalTrainLoss } ?? false
                }.count
                row.note = String(format: "rerun mean %@ the reference 95%% CI ± %.2f (%d of %d cells bit-identical nonetheless)",
                                  row.agree ? "within" : "outside", 100 * half, same, refCells.count)
            } else {
                row.note = "no complete suite score"
            }
            _ = refByKey
            rows.append(row)
        }
        return rows
    }

    public static func markdown(_ rows: [Row]) -> String {
        var lines = ["| suite | method | reference | rerun | rule | agree | note |", "|---|---|---:|---:|---|---|---|"]
        for r in rows {
            let ref = r.reference.map { String(format: "%.2f", 100 * $0) } ?? "—"
            let re = r.rerun.map { String(format: "%.2f", 100 * $0) } ?? "—"
            lines.append("| \(r.suite) | \(r.method) | \(ref) | \(re) | \(r.bitRule ? "bit-identical" : "95% CI") | \(r.agree ? "yes" : "NO") | \(r.note) |")
        }
        return lines.joined(separator: "\n")
    }

    static func fmt(_ v: Double?) -> String { v.map { String(format: "%.9g", $0) } ?? "none" }
}
