import Foundation
import Analysis
import Harness

/// Formats `mean ± std` of values given as fractions, in percent points.
func pct(_ vals: [Double]) -> String {
    guard !vals.isEmpty else { return "—" }
    let m = Stats.mean(vals) * 100, s = Stats.std(vals) * 100
    return vals.count > 1 ? String(format: "%.1f ± %.1f", m, s) : String(format: "%.1f", m)
}

func num(_ v: Double, _ digits: Int = 3) -> String {
    guard v.isFinite else { return "—" }
    return String(format: "%.\(digits)g", v)
}

func params(_ n: Double) -> String {
    n >= 1e6 ? String(format: "%.2fM", n / 1e6) : String(format: "%.1fk", n / 1e3)
}

/// Renders one suite's results (one tier) as markdown, laid out as the papers' tables:
/// rows = methods, columns = tasks with their official metrics. Rendered from result
/// files only.
public struct SuiteReport {
    public var suite: String
    public var tier: String
    public var methodOrder: [String]
    public var results: [CellResult]
    /// Reference rows by task (`chance`, `linear`, …), computed from the same data.
    public var references: [String: TaskReference] = [:]

    public init(suite: String, tier: String, methodOrder: [String], results: [CellResult]) {
        self.suite = suite
        self.tier = tier
        self.methodOrder = methodOrder
        self.results = results.filter { $0.suite == suite && $0.tier == tier }
    }

    var dataKinds: Set<String> { Set(results.map(\.data)) }

    var methods: [String] {
        let present = Set(results.map(\.method))
        return methodOrder.filter(present.contains) + present.subtracting(methodOrder).sorted()
    }

    var tasks: [TaskInfo] {
        let present = Set(results.map(\.task))
        let all = TaskCatalog.text + TaskCatalog.image + TaskCatalog.speech
        return all.filter { present.contains($0.name) }
    }

    func cells(_ method: String, _ task: String? = nil) -> [CellResult] {
        results.filter { $0.method == method && (task == nil || $0.task == task!) }
    }

    /// The main table.
    public func table() -> String {
        let tasks = self.tasks
        var header = ["method"]
        for t in tasks { for title in t.metricTitles { header.append("\(t.title) \(title)") } }
        if tasks.count > 1 { header.append("avg") }
        header += ["fwd GFLOPs/ex", "active / total params", "experts (blocks) per token", "seeds"]
        var s = "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: header.count) + "\n"
        for m in methods {
            var row = [notConverged(m).isEmpty ? m : "\(m) †"]
            var seedCount = 0
            for t in tasks {
                let cs = cells(m, t.name)
                let ok = cs.filter(\.isOK)
                seedCount = max(seedCount, ok.count)
                let mark = notConverged(m, t.name).isEmpty ? "" : " †"
                for key in t.metricTitles.indices.map({ t.metrics[$0] }) {
                    if ok.isEmpty { row.append(cs.isEmpty ? "—" : "failed"); continue }
                    row.append(pct(ok.compactMap { $0.metrics[key] }) + mark)
                }
            }
            if tasks.count > 1 {
                // The suite score (the headline tasks, Scores.headlineTasks) per seed, then mean ± std.
                let avgs = Scores.suiteScores(results, suite: suite, method: m).valuesInKeyOrder
                row.append(avgs.isEmpty ? "—" : pct(avgs))
            }
            let ok = cells(m).filter(\.isOK)
            let flops = ok.compactMap { $0.flops?.forwardPerExampleCounted }
            row.append(flops.isEmpty ? "—" : num(Stats.mean(flops) / 1e9))
            let p = ok.compactMap(\.params)
            row.append(p.isEmpty ? "—" : "\(params(Stats.mean(p.map(\.active)))) / \(params(Double(p[0].total)))")
            let chosen = ok.compactMap(\.meanChosen)
            row.append(chosen.isEmpty ? "—" : String(format: "%.2f", Stats.mean(chosen)))
            row.append("\(seedCount)")
            s += "| " + row.joined(separator: " | ") + " |\n"
        }
        s += referenceRows(tasks: tasks, columns: header.count)
        return s
    }

    /// Names of the reference rows present, in table order.
    var referenceNames: [String] {
        let present = Set(references.values.flatMap { $0.rows.map(\.name) })
        let order = ["chance", "chance: constant transcript", "linear"]
        return order.filter(present.contains) + present.subtracting(order).sorted()
    }

    /// The reference rows, in the main table's columns (metrics and average; the compute
    /// columns empty).
    func referenceRows(tasks: [TaskInfo], columns: Int) -> String {
        var s = ""
        let headline = Set(Scores.headlineTasks(results, suite: suite))
        for name in referenceNames {
            var row = ["*\(name)*"]
            var scores: [Double] = []
            for t in tasks {
                let r = references[t.name]?.row(name)
                for key in t.metrics { row.append(r?.metrics[key].map { String(format: "%.1f", $0 * 100) } ?? "—") }
                if headline.contains(t.name), let r, let sc = TaskCatalog.score(task: t.name, metrics: r.metrics) { scores.append(sc) }
            }
            if tasks.count > 1 { row.append(scores.count == headline.count ? String(format: "%.1f", Stats.mean(scores) * 100) : "—") }
            while row.count < columns { row.append("—") }
            s += "| " + row.joined(separator: " | ") + " |\n"
        }
        return s
    }

    /// What the reference rows are, per task (the constant predicted, the model fitted).
    public func referenceNotes() -> String {
        guard !references.isEmpty else { return "" }
        var s = "Reference rows (in italics) are computed by `moebench report` from the same training and evaluation examples as the cells (cached under `results/\(tier)/\(suite)/reference/`, keyed by the data): "
        s += "`chance` predicts without looking at the input: the majority training class (the five most frequent for top-5), the mean training score for regression (the Pearson and Spearman correlations of a constant are undefined and shown as 0), the empty transcript for speech; "
        s += "`chance: constant transcript` is the best constant transcript found by greedy search (appending, one at a time, whichever of the 20 most frequent training words lowers the training WER most); "
        s += "`linear` is a logistic regression (classification; AdaGrad, epochs chosen on a held-out tenth of the training split by log-loss, then refitted on all of it) or a ridge regression (STS-B; exact solution, λ chosen on the held-out tenth by Pearson) on hashed unigram and bigram indicators (sentence pairs: each sentence's n-grams, the n-grams they share, and unigram/bigram overlap ratios), and for images a softmax regression on the normalised pixels (Adam, epochs chosen on a held-out tenth by accuracy).\n\n"
        s += "| task | row | how |\n|---|---|---|\n"
        for t in tasks {
            guard let ref = references[t.name] else { continue }
            for r in ref.rows { s += "| \(t.title) | \(r.name) | \(r.detail.replacingOccurrences(of: "|", with: "\\|")) |\n" }
        }
        return s
    }

    /// Cells of `method` (on `task`, or on any task) whose loss still fell by more than the
    /// convergence threshold over the last fifth of the run.
    func notConverged(_ method: String, _ task: String? = nil) -> [CellResult] {
        cells(method, task).filter { $0.isOK && $0.curve?.converged == false }
    }

    /// Per method and task: the cells not converged and the largest relative fall of the
    /// loss over the last fifth.
    public func convergence() -> String {
        let withCurve = results.filter { $0.isOK && $0.curve?.lastFifthDrop != nil }
        guard !withCurve.isEmpty else { return "" }
        var s = "A cell is **not converged** (marked †, and its method's row with it) when its mean training loss fell by more than \(String(format: "%.0f", LossCurve.convergenceThreshold * 100)) % from the first to the second half of the last fifth of its steps (the mean of the 17th and 18th twentieths against that of the 19th and 20th), and by more than \(LossCurve.convergenceFloor) in absolute terms (a loss near zero, as on a task learnt to saturation, has nothing left to learn). "
        s += "Each entry: cells not converged / cells with a curve, then the largest relative fall among them.\n\n"
        s += "| method | " + tasks.map(\.title).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: tasks.count) + "\n"
        for m in methods {
            var row = [m]
            for t in tasks {
                let cs = withCurve.filter { $0.method == m && $0.task == t.name }
                guard !cs.isEmpty else { row.append("—"); continue }
                let bad = cs.filter { $0.curve?.converged == false }.count
                let worst = cs.compactMap { $0.curve?.lastFifthDrop }.max() ?? 0
                row.append("\(bad)/\(cs.count) (\(String(format: "%+.1f", worst * 100)) %)")
            }
            s += "| " + row.joined(separator: " | ") + " |\n"
        }
        return s
    }

    /// Mean primary metric at each evaluation point of the curves, and the mean training loss
    /// of the first and last twentieth, per method and task.
    public func learningCurves() -> String {
        let withCurve = results.filter { $0.isOK && !($0.curve?.eval.isEmpty ?? true) }
        guard !withCurve.isEmpty else { return "" }
        var s = "| method | task | metric | subset | " + ["at 1/3", "at 2/3", "at end"].joined(separator: " | ") +
            " | loss, first 20th | loss, last 20th |\n|---|---|---|---|---|---|---|---|---|\n"
        for m in methods {
            for t in tasks {
                let cs = withCurve.filter { $0.method == m && $0.task == t.name }
                guard let c0 = cs.first?.curve else { continue }
                var row = [m, t.title, c0.metric, c0.evalSubset]
                for k in 0..<3 {
                    let v = cs.compactMap { $0.curve!.eval.count > k ? $0.curve!.eval[k].value : nil }
                    row.append(pct(v))
                }
                row.append(num(Stats.mean(cs.compactMap { $0.curve!.segments.first?.meanLoss }), 4))
                row.append(num(Stats.mean(cs.compactMap { $0.curve!.segments.last?.meanLoss }), 4))
                s += "| " + row.joined(separator: " | ") + " |\n"
            }
        }
        return s
    }

    /// Mean experts (blocks) chosen per token (sequence), per routed layer and task.
    public func routingByLayer() -> String {
        var s = ""
        for m in methods {
            let ok = cells(m).filter { $0.isOK && !$0.routing.isEmpty }
            guard !ok.isEmpty else { continue }
            let layers = Set(ok.flatMap { $0.routing.map(\.layer) }).sorted()
            if s.isEmpty {
                s = "| method | task | " + layers.map { "layer \($0)" }.joined(separator: " | ") + " | max/mean load |\n|---|---|" +
                    String(repeating: "---|", count: layers.count + 1) + "\n"
            }
            for t in tasks {
                let cs = ok.filter { $0.task == t.name }
                guard !cs.isEmpty else { continue }
                var row = [m, t.title]
                var imbalance: [Double] = []
                for l in layers {
                    let st = cs.compactMap { $0.routing.first { $0.layer == l } }
                    row.append(st.isEmpty ? "—" : String(format: "%.2f", Stats.mean(st.map(\.meanChosen))))
                    for x in st {
                        let loads = x.assignedPerUnit.map(Double.init)
                        let mean = Stats.mean(loads)
                        if mean > 0 { imbalance.append(loads.max()! / mean) }
                    }
                }
                row.append(imbalance.isEmpty ? "—" : String(format: "%.2f", Stats.mean(imbalance)))
                s += "| " + row.joined(separator: " | ") + " |\n"
            }
        }
        return s
    }

    /// Routing and the primary metric against the proxy difficulty level.
    public func byDifficulty() -> String {
        let levels = Set(results.flatMap { $0.byDifficulty.keys }).sorted()
        guard !levels.isEmpty else { return "" }
        var s = "| method | " + levels.map { "level \($0): metric" }.joined(separator: " | ") + " | " +
            levels.map { "level \($0): experts/token" }.joined(separator: " | ") + " |\n|---|" +
            String(repeating: "---|", count: 2 * levels.count) + "\n"
        for m in methods {
            let ok = cells(m).filter(\.isOK)
            guard !ok.isEmpty else { continue }
            var row = [m]
            for l in levels { row.append(pct(ok.compactMap { $0.byDifficulty[l]?.metric })) }
            for l in levels {
                let v = ok.compactMap { $0.byDifficulty[l]?.meanChosen }.filter { $0 > 0 }
                row.append(v.isEmpty ? "—" : String(format: "%.3f", Stats.mean(v)))
            }
            s += "| " + row.joined(separator: " | ") + " |\n"
        }
        return s
    }

    /// Robustness: per method, the score on the clean examples and on each shifted set (mean
    /// ± SD over seeds, in points of the compared metric) and the drop (clean minus the mean
    /// over the sets), per task with shifted records.
    public func robustness() -> String {
        let withShift = results.filter { Robustness.drop($0) != nil }
        guard !withShift.isEmpty else { return "" }
        func ms(_ v: [Double]) -> String {
            guard !v.isEmpty else { return "—" }
            return v.count > 1 ? String(format: "%.1f ± %.1f", Stats.mean(v), Stats.std(v)) : String(format: "%.1f", v[0])
        }
        var s = ""
        for t in tasks {
            let rs = withShift.filter { $0.task == t.name }
            guard let first = rs.first, let d0 = Robustness.drop(first), let rec = first.shifted else { continue }
            let sets = Set(rs.flatMap { Robustness.drop($0)!.sets.keys }).sorted()
            let metricName = d0.metric == "wer" ? "100 − WER" : d0.metric
            s += "**\(t.title)** — \(metricName), points, on the first \(rec.examples) examples of each set (the clean column is the same examples unshifted); drop = clean − mean over the \(sets.count) shifted sets.\n\n"
            s += "| method | clean | " + sets.joined(separator: " | ") + " | drop |\n|---|---|" + String(repeating: "---|", count: sets.count + 1) + "\n"
            for m in methods {
                let ds = rs.filter { $0.method == m }.compactMap(Robustness.drop)
                guard !ds.isEmpty else { continue }
                var row = [m, ms(ds.map(\.clean))]
                for set in sets { row.append(ms(ds.compactMap { $0.sets[set] })) }
                row.append("**" + ms(ds.map(\.drop)) + "**")
                s += "| " + row.joined(separator: " | ") + " |\n"
            }
            s += "\n"
        }
        return s
    }

    /// What the run cost, per task: the cells' measured wall times (`wallSeconds`, taken by
    /// the process that ran the cell: data loading, training and every evaluation, shifted
    /// sets included), summed into minutes of cells, and per seed (all methods of one seed).
    public func cost() -> String {
        let ok = results.filter(\.isOK)
        guard !ok.isEmpty else { return "" }
        var s = "| task | cells | seconds per cell: median (min–max) | min of cells | seeds | min of cells per seed |\n|---|---|---|---|---|---|\n"
        var rows: [(title: String, cells: [CellResult])] = tasks.map { t in (t.title, ok.filter { $0.task == t.name }) }
        if rows.count > 1 { rows.append(("**all**", ok)) }
        for (title, cs) in rows where !cs.isEmpty {
            let w = cs.map(\.wallSeconds).sorted()
            let c = CellCost(cs)
            s += "| \(title) | \(c.cells) | \(String(format: "%.0f (%.0f–%.0f)", Stats.quantile(sorted: w, 0.5), w.first!, w.last!)) | "
                + "\(CellCost.minutes(c.seconds)) | \(c.seeds) | \(CellCost.minutes(c.secondsPerSeed)) |\n"
        }
        let all = CellCost(ok)
        let threadCounts = Set(ok.map(\.environment.threads)).sorted()
        let threads = threadCounts.map(String.init).joined(separator: " or ")
        s += "\nThe cells ran with \(threads) engine thread\(threadCounts == [1] ? "" : "s") each. Run as `--jobs J --threads 1` on J cores, a replication's wall time is about the minutes of cells / J: "
        s += "\(CellCost.minutes(all.wallSeconds)) min at \(CellCost.jobs) jobs for these \(all.cells) cells, plus writing the proxy data on a fresh checkout, the reference rows and the reports. "
        s += "A cell that shared its core with other work reads slower than alone.\n"
        return s
    }

    /// Which builds and machines the results came from: commits (with their code
    /// fingerprints) and CPU kinds (OpenBLAS kernels) with thread counts, each with its cells.
    public func provenance() -> String {
        func counted(_ keys: [String]) -> String {
            Dictionary(grouping: keys) { $0 }.map { ($0.key, $0.value.count) }.sorted { ($1.1, $0.0) < ($0.1, $1.0) }
                .map { "\($0.0) (\($0.1) cell\($0.1 == 1 ? "" : "s"))" }.joined(separator: ", ")
        }
        let commits = counted(results.map { r in
            "`\(r.environment.gitCommit)`" + (r.environment.codeFingerprint.map { " fingerprint `\($0)`" } ?? " (no fingerprint)")
        })
        let kinds = counted(results.map { "\($0.environment.kernelKind), \($0.environment.threads) thread\($0.environment.threads == 1 ? "" : "s")" })
        return "**Provenance:** commit \(commits). **CPU kind:** \(kinds)."
    }

    public func markdown(title: String, notes: [String] = [], plots: [(String, String)] = []) -> String {
        let data = dataKinds.sorted().joined(separator: ", ")
        var s = "# \(title): \(tier) tier\n\n"
        s += "**Tier:** \(tier). **Data:** \(data.isEmpty ? "none" : data)"
        if dataKinds.contains("proxy") {
            s += " — synthetic proxy data written by `moebench data proxy` in the real on-disk formats (see its `PROXY.md`); absolute numbers are not comparable with the papers', only the comparison between methods is"
        }
        s += ".\n\n"
        s += "Rendered by `moebench report` from the result files under `results/\(tier)/\(suite)/`; never edited by hand. "
        s += "Metrics are percentages, mean ± sample standard deviation over seeds. GFLOPs are the engine's counted forward FLOPs per example (one multiply-add = 2 FLOPs); active parameters are those used per example.\n\n"
        s += provenance() + "\n\n"
        for n in notes { s += n + "\n\n" }
        s += "## Results\n\n" + table() + "\n"
        let headline = Scores.headlineDescription(results, suite: suite)
        if tasks.count > 1, !headline.isEmpty { s += "The `avg` column is the suite score. " + headline + "\n\n" }
        let refs = referenceNotes()
        if !refs.isEmpty { s += refs + "\n" }
        let conv = convergence()
        if !conv.isEmpty { s += "## Convergence\n\n" + conv + "\n" }
        let lc = learningCurves()
        if !lc.isEmpty { s += "## Learning curves\n\nThe primary metric (percent) on a fixed evaluation subset after a third, two thirds and all of the steps, mean ± SD over seeds, and the mean training loss of the first and last twentieth of the steps.\n\n" + lc + "\n" }
        let r = routingByLayer()
        if !r.isEmpty { s += "## Routing: experts (blocks) chosen per token (sequence), per layer\n\nMax/mean load is the busiest unit's share over the mean (1.00 = perfectly balanced).\n\n" + r + "\n" }
        let rob = robustness()
        if !rob.isEmpty { s += "## Robustness under distribution shift\n\nEach cell is also evaluated on shifted copies of its evaluation set, written by the suite beside the dataset (`shifted_eval`; see docs/suite-files.md), and on the same examples unshifted. Mean ± SD over seeds.\n\n" + rob }
        let d = byDifficulty()
        if !d.isEmpty { s += "## Against the proxy difficulty level\n\nDo harder inputs get more experts? Level 1 is easiest.\n\n" + d + "\n" }
        let c = cost()
        if !c.isEmpty { s += "## Cost\n\n" + c + "\n" }
        for (caption, path) in plots { s += "![\(caption)](\(path))\n\n" }
        let failed = results.filter { !$0.isOK }
        if !failed.isEmpty {
            s += "## Failed cells\n\n"
            for f in failed.sorted(by: { ($0.task, $0.method, $0.seed) < ($1.task, $1.method, $1.seed) }) {
                s += "- \(f.task) / \(f.method) / seed \(f.seed): \(f.failure ?? "unknown")\n"
            }
            s += "\n"
        }
        return s
    }
}
