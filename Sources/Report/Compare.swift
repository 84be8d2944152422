import Foundation
import Analysis
import Harness

/// Two result sets side by side (`moebench compare A B`): per suite, method and task the
/// task score on each side and the difference B − A with its 95% interval. Where seeds pair
/// (the same seed succeeded on both sides) the interval is the paired t interval of the
/// per-seed differences; otherwise Welch's interval of the two means. A suite, method or
/// task present on one side only is reported as missing there: never as a regression.
public enum ResultComparison {
    public enum Presence: String, Sendable { case both, onlyA = "only in A", onlyB = "only in B" }

    /// How the interval of a row was obtained.
    public enum Pairing: String, Sendable {
        /// Paired t interval over the seeds present on both sides.
        case paired
        /// Welch's unequal-variance interval (fewer than two seeds on both sides).
        case unpaired = "unpaired (Welch)"
        /// Too few seeds for an interval: the difference of means only.
        case none = "no interval"
    }

    public struct Row: Equatable, Sendable {
        public var method: String
        /// A task name, or `avg` for the suite average.
        public var task: String
        public var presence: Presence
        /// Scores (fractions) by seed, successful cells only.
        public var a: [Int: Double]
        public var b: [Int: Double]
        /// Seeds with a score on both sides.
        public var pairedSeeds: [Int]
        public var pairing: Pairing
        /// B − A (fractions); nil unless both sides have a score.
        public var difference: Double?
        public var low: Double?
        public var high: Double?
    }

    public struct SuiteComparison: Equatable, Sendable {
        public var suite: String
        public var presence: Presence
        public var rows: [Row]
    }

    /// Compares results of one tier; `suites` restricts the suites (nil: every suite on
    /// either side).
    public static func compare(a: [CellResult], b: [CellResult], suites: [String]? = nil) -> [SuiteComparison] {
        let all = Set(a.map(\.suite)).union(b.map(\.suite))
        let chosen = suites.map { Set($0) } ?? all
        var out: [SuiteComparison] = []
        for suite in chosen.sorted() {
            let ra = a.filter { $0.suite == suite }, rb = b.filter { $0.suite == suite }
            let presence: Presence = ra.isEmpty && rb.isEmpty ? .both : ra.isEmpty ? .onlyB : rb.isEmpty ? .onlyA : .both
            if ra.isEmpty && rb.isEmpty { continue }
            guard presence == .both else { out.append(SuiteComparison(suite: suite, presence: presence, rows: [])); continue }
            let present = Set(ra.map(\.method)).union(rb.map(\.method))
            let methods = ReportWriter.methodOrder.filter(present.contains) + present.subtracting(ReportWriter.methodOrder).sorted()
            let taskNames = Set(ra.map(\.task)).union(rb.map(\.task))
            let tasks = (TaskCatalog.text + TaskCatalog.image + TaskCatalog.speech).map(\.name).filter(taskNames.contains)
                + taskNames.subtracting((TaskCatalog.text + TaskCatalog.image + TaskCatalog.speech).map(\.name)).sorted()
            var rows: [Row] = []
            for m in methods {
                for t in tasks {
                    let ca = ra.filter { $0.method == m && $0.task == t }, cb = rb.filter { $0.method == m && $0.task == t }
                    if ca.isEmpty && cb.isEmpty { continue }
                    rows.append(row(method: m, task: t, a: scores(ca, task: t), b: scores(cb, task: t),
                                    presence: ca.isEmpty ? .onlyB : cb.isEmpty ? .onlyA : .both))
                }
                // The suite average, when both sides ran the same tasks for this method.
                let ta = Set(ra.filter { $0.method == m }.map(\.task)), tb = Set(rb.filter { $0.method == m }.map(\.task))
                if tasks.count > 1, !ta.isEmpty, ta == tb {
                    rows.append(row(method: m, task: "avg", a: Scores.suiteScores(ra.filter { $0.method == m }, suite: suite, method: m),
                                    b: Scores.suiteScores(rb.filter { $0.method == m }, suite: suite, method: m), presence: .both))
                }
            }
            out.append(SuiteComparison(suite: suite, presence: .both, rows: rows))
        }
        return out
    }

    static func scores(_ cells: [CellResult], task: String) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for c in cells where c.isOK {
            if let s = TaskCatalog.score(task: task, metrics: c.metrics) { out[c.seed] = s }
        }
        return out
    }

    static func row(method: String, task: String, a: [Int: Double], b: [Int: Double], presence: Presence) -> Row {
        let paired = Set(a.keys).intersection(b.keys).sorted()
        var r = Row(method: method, task: task, presence: presence, a: a, b: b, pairedSeeds: paired, pairing: .none,
                    difference: nil, low: nil, high: nil)
        guard !a.isEmpty, !b.isEmpty else { return r }
        let va = a.keys.sorted().map { a[$0]! }, vb = b.keys.sorted().map { b[$0]! }
        if paired.count >= 2 {
            let d = paired.map { b[$0]! - a[$0]! }
            let ci = Stats.meanInterval(d)
            (r.pairing, r.difference, r.low, r.high) = (.paired, Stats.mean(d), ci.low, ci.high)
        } else if let w = Stats.welch(vb, va) {
            (r.pairing, r.difference, r.low, r.high) = (.unpaired, w.difference, w.low, w.high)
        } else {
            r.difference = Stats.mean(vb) - Stats.mean(va)
        }
        return r
    }

    /// The comparison as markdown: one table per suite, scores in percent points.
    public static func markdown(_ suites: [SuiteComparison], nameA: String, nameB: String, tier: String) -> String {
        var s = "# Comparison, \(tier) tier\n\nA = `\(nameA)`, B = `\(nameB)`. Scores are task scores in percent "
        s += "(the mean of the task's metrics, error rates as 1 − rate, as in the suite averages), mean ± SD over seeds (n). "
        s += "B − A with its 95% interval: paired t over the seeds both sides ran, else Welch's. "
        s += "Nothing here is a regression verdict: a suite or cell on one side only is listed as missing.\n\n"
        func side(_ v: [Int: Double]) -> String {
            guard !v.isEmpty else { return "—" }
            let x = v.keys.sorted().map { v[$0]! * 100 }
            return x.count > 1 ? String(format: "%.2f ± %.2f (%d)", Stats.mean(x), Stats.std(x), x.count) : String(format: "%.2f (1)", x[0])
        }
        for sc in suites {
            let title = "## \(ReportWriter.suiteTitles[sc.suite] ?? sc.suite) (`\(sc.suite)`)"
            guard sc.presence == .both else {
                s += "\(title)\n\nMissing: \(sc.presence == .onlyA ? "only in A; B has no results for this suite" : "only in B; A has no results for this suite").\n\n"
                continue
            }
            s += "\(title)\n\n| method | task | A | B | B − A | 95% interval | interval |\n|---|---|---:|---:|---:|---|---|\n"
            for r in sc.rows {
                let diff = r.difference.map { String(format: "%+.2f", $0 * 100) } ?? "—"
                let ci = r.low.flatMap { lo in r.high.map { String(format: "[%+.2f, %+.2f]", lo * 100, $0 * 100) } } ?? "—"
                let how: String
                switch r.presence {
                case .onlyA: how = "missing in B"
                case .onlyB: how = "missing in A"
                case .both:
                    if r.a.isEmpty || r.b.isEmpty { how = "no successful seed in \(r.a.isEmpty ? "A" : "B")" }
                    else if r.pairing == .paired { how = "paired, seeds \(r.pairedSeeds.map(String.init).joined(separator: " "))" }
                    else { how = r.pairing.rawValue }
                }
                s += "| \(r.method) | \(r.task == "avg" ? "**avg**" : TaskCatalog.info(r.task)?.title ?? r.task) | \(side(r.a)) | \(side(r.b)) | \(diff) | \(ci) | \(how) |\n"
            }
            let withCI = sc.rows.filter { $0.low != nil }
            let up = withCI.filter { $0.low! > 0 }.count, down = withCI.filter { $0.high! < 0 }.count
            s += "\n\(withCI.count) rows with an interval: B above A in \(up), below in \(down), interval containing 0 in \(withCI.count - up - down).\n\n"
        }
        return s
    }
}
