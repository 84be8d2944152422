import Foundation
import Analysis
import Harness
import Routing

/// The survey table ("Improving Deep Learning Performance with Mixture of Experts and Sparse
/// Activation", 2025, Table 1) measured: each architecture's qualitative ratings
/// (computational cost, specialization, scalability) beside the measured values of the
/// `survey` suite's cells, with a rule-based verdict per architecture and column, the
/// expert-count sweep, and a plot. Rendered from result files only.
public struct SurveyReport {
    public static let suiteName = "survey"

    /// One row of the survey's Table 1 and the suite method that measures it.
    public struct Architecture: Equatable, Sendable {
        public var name: String
        public var method: String
        public var cost: String
        public var specialization: String
        public var scalability: String
    }

    /// The survey's six architectures with its ratings. "Sparse MoE (Top-K)" is measured by
    /// two methods (noisy top-k gating and top-2); "Classic MoE" and "Soft MoE" are both the
    /// suite's one dense-gated method, `soft`.
    public static let architectures: [Architecture] = [
        Architecture(name: "Classic MoE", method: "soft", cost: "High", specialization: "Moderate", scalability: "Limited"),
        Architecture(name: "Hierarchical MoE", method: "hierarchical", cost: "High", specialization: "High", scalability: "Moderate"),
        Architecture(name: "Sparse MoE (Top-K)", method: "noisy_topk", cost: "Low", specialization: "Moderate-High", scalability: "High"),
        Architecture(name: "Sparse MoE (Top-K)", method: "top2", cost: "Low", specialization: "Moderate-High", scalability: "High"),
        Architecture(name: "Soft MoE", method: "soft", cost: "High", specialization: "High", scalability: "Moderate"),
        Architecture(name: "Hard MoE", method: "hard", cost: "Low", specialization: "Moderate", scalability: "High"),
        Architecture(name: "Switch Transformers", method: "switch", cost: "Very Low", specialization: "Moderate", scalability: "Very High"),
    ]

    /// The methods run at 8, 16 and 32 experts (labels `<method>`, `<method>-e16`, `<method>-e32`).
    public static let sweepFamilies = ["switch", "top2", "noisy_topk"]
    public static let sweepSizes = [8, 16, 32]
    public static let reference = "dense"

    // MARK: The verdict rules (every threshold is printed in the report).

    public static let costScale = ["Very Low", "Low", "Moderate", "High"]
    public static let specializationScale = ["Moderate", "Moderate-High", "High"]
    public static let scalabilityScale = ["Limited", "Moderate", "High", "Very High"]

    /// Cost: forward FLOPs per token relative to dense, at most this = "Very Low or Low".
    public static let cheapRatio = 1.1
    /// Cost: at least this = "High"; between the two = "Low or Moderate".
    public static let expensiveRatio = 2.0
    /// Scalability: growth of forward FLOPs per token from 8 to 32 experts, at most this =
    /// "High or Very High"; at most `limitedGrowth` = "Moderate"; above it "Limited".
    public static let flatGrowth = 1.1
    public static let limitedGrowth = 2.0

    /// The ratings the measured FLOPs ratio supports.
    public static func costClasses(ratio r: Double) -> [String] {
        r <= cheapRatio ? ["Very Low", "Low"] : r < expensiveRatio ? ["Low", "Moderate"] : ["High"]
    }

    /// The ratings a measured growth of FLOPs per token (8 → 32 experts) supports.
    public static func scalabilityClasses(growth g: Double) -> [String] {
        g <= flatGrowth ? ["High", "Very High"] : g <= limitedGrowth ? ["Moderate"] : ["Limited"]
    }

    /// The specialization class of the architecture ranked `rank` (1 = the largest mean
    /// normalised MI) among `count`: the top third "High", the middle third
    /// "Moderate-High", the bottom third "Moderate".
    public static func specializationClass(rank: Int, of count: Int) -> String {
        guard count > 0 else { return "Moderate" }
        let third = min(2, max(0, (3 * (rank - 1)) / count))
        return specializationScale[2 - third]
    }

    /// "agrees" when `rating` is one of `measured`, "partly agrees (one step apart)" when it
    /// is next to one of them on `scale`, else "disagrees".
    public static func agreement(rating: String, measured: [String], scale: [String]) -> String {
        guard let i = scale.firstIndex(of: rating) else { return "not comparable" }
        let d = measured.compactMap { scale.firstIndex(of: $0) }.map { abs($0 - i) }.min() ?? Int.max
        return d == 0 ? "agrees" : d == 1 ? "partly agrees (one step apart)" : "disagrees"
    }

    // MARK: The measurements.

    public var tier: String
    /// The survey suite's ok cells of this tier.
    public var results: [CellResult]
    /// The metric reported as accuracy (top-1).
    public var metric = "top1"
    /// Label values of the task (CIFAR-100: 100 classes), for the estimator's bias bound.
    public var classes = 100

    public init(results: [CellResult], tier: String) {
        self.tier = tier
        self.results = results.filter { $0.suite == SurveyReport.suiteName && $0.tier == tier && $0.isOK }
    }

    public func cells(_ label: String) -> [CellResult] { results.filter { $0.method == label } }

    public static func sweepLabel(_ family: String, experts: Int) -> String {
        experts == 8 ? family : "\(family)-e\(experts)"
    }

    /// Accuracy per seed (fractions).
    public func accuracies(_ label: String) -> [Double] { cells(label).compactMap { $0.metrics[metric] } }

    /// Mean counted forward FLOPs per example.
    public func flops(_ label: String) -> Double? {
        let v = cells(label).compactMap { $0.flops?.forwardPerExampleCounted }
        return v.isEmpty ? nil : Stats.mean(v)
    }

    public func flopsRatio(_ label: String) -> Double? {
        guard let f = flops(label), let d = flops(SurveyReport.reference), d > 0 else { return nil }
        return f / d
    }

    /// Mean seconds per training step (wall seconds of the cell over its steps).
    public func stepSeconds(_ label: String) -> Double? {
        let v = cells(label).filter { $0.trainSteps > 0 }.map { $0.wallSeconds / Double($0.trainSteps) }
        return v.isEmpty ? nil : Stats.mean(v)
    }

    public func stepRatio(_ label: String) -> Double? {
        guard let s = stepSeconds(label), let d = stepSeconds(SurveyReport.reference), d > 0 else { return nil }
        return s / d
    }

    /// Mean normalised MI over layers, one value per seed.
    public func specialization(_ label: String) -> [Double] { cells(label).compactMap { $0.specialization?.mean } }

    /// Max/mean top-1 load, mean over layers and seeds.
    public func load(_ label: String) -> Double? {
        let v = cells(label).flatMap { $0.specialization?.loadMaxOverMean ?? [] }
        return v.isEmpty ? nil : Stats.mean(v)
    }

    /// Growth of forward FLOPs per token from 8 to `to` experts (the sweep's own cells).
    public func growth(_ family: String, to experts: Int = 32) -> Double? {
        guard let a = flops(family), let b = flops(SurveyReport.sweepLabel(family, experts: experts)), a > 0 else { return nil }
        return b / a
    }

    public func stepGrowth(_ family: String, to experts: Int = 32) -> Double? {
        guard let a = stepSeconds(family), let b = stepSeconds(SurveyReport.sweepLabel(family, experts: experts)), a > 0 else { return nil }
        return b / a
    }

    /// The growth of FLOPs per token from 8 to 32 experts for a method: measured for the
    /// swept methods; projected for the others, from the 8-expert cells: soft evaluates
    /// every expert, so with one expert's forward FLOPs `x = (F_soft − F_dense) / 7` it
    /// grows as `(F_dense + 31x) / (F_dense + 7x)`; hard and hierarchical run one expert per
    /// token as Switch does, with a router of E outputs, so Switch's measured growth stands
    /// in for theirs.
    public func scalingGrowth(_ method: String) -> (growth: Double, how: String)? {
        if SurveyReport.sweepFamilies.contains(method) { return growth(method).map { ($0, "measured") } }
        switch method {
        case "soft":
            guard let s = flops("soft"), let d = flops(SurveyReport.reference), s > 0 else { return nil }
            let x = (s - d) / 7
            return ((d + 31 * x) / (d + 7 * x), "projected: every expert runs")
        case "hard", "hierarchical":
            return growth("switch").map { ($0, "projected from switch's sweep (one expert per token)") }
        default: return nil
        }
    }

    /// The routed 8-expert methods present, by their rank of mean normalised MI (1 = largest).
    public func specializationRanks() -> [String: Int] {
        let methods = Array(Set(SurveyReport.architectures.map(\.method))).filter { !specialization($0).isEmpty }
        let sorted = methods.sorted { (Stats.mean(specialization($0)), $1) > (Stats.mean(specialization($1)), $0) }
        var ranks: [String: Int] = [:]
        for (i, m) in sorted.enumerated() { ranks[m] = i + 1 }
        return ranks
    }

    func x(_ v: Double?) -> String { v.map { String(format: "%.2fx", $0) } ?? "—" }
    func mi(_ v: [Double]) -> String {
        guard !v.isEmpty else { return "—" }
        return v.count > 1 ? String(format: "%.3f ± %.3f", Stats.mean(v), Stats.std(v)) : String(format: "%.3f", Stats.mean(v))
    }

    /// The main table: the survey's architectures (dense as the reference) with measured
    /// values and the survey's ratings.
    public func table() -> String {
        var s = "| architecture (survey) | method | seeds | top-1 accuracy (%) | forward FLOPs / token vs dense | step time vs dense | specialization (NMI) | top-1 load max/mean | FLOPs growth 8 → 32 experts | survey: cost | survey: specialization | survey: scalability |\n"
        s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n"
        var rows: [(String, String, String, String, String)] = [("dense (reference)", SurveyReport.reference, "—", "—", "—")]
        rows += SurveyReport.architectures.map { ($0.name, $0.method, $0.cost, $0.specialization, $0.scalability) }
        for (name, m, c, sp, sc) in rows {
            let g = m == SurveyReport.reference ? nil : scalingGrowth(m)
            let growth = g.map { String(format: "%.2fx", $0.growth) + ($0.how == "measured" ? "" : " (projected)") } ?? "—"
            let l = load(m).map { String(format: "%.2f", $0) } ?? "—"
            s += "| \(name) | `\(m)` | \(cells(m).count) | \(pct(accuracies(m))) | \(x(flopsRatio(m))) | \(x(stepRatio(m))) | \(mi(specialization(m))) | \(l) | \(growth) | \(c) | \(sp) | \(sc) |\n"
        }
        return s
    }

    /// One verdict sentence per architecture and column.
    public func verdicts() -> [String] {
        let ranks = specializationRanks()
        var out: [String] = []
        for a in SurveyReport.architectures {
            let who = "\(a.name) (`\(a.method)`)"
            if let r = flopsRatio(a.method) {
                let measured = SurveyReport.costClasses(ratio: r)
                let step = stepRatio(a.method).map { String(format: "; step time %.2fx dense", $0) } ?? ""
                out.append("\(who): \(a.cost) cost — measured \(String(format: "%.2f", r))x dense FLOPs (\(measured.joined(separator: " or ")))\(step): \(SurveyReport.agreement(rating: a.cost, measured: measured, scale: SurveyReport.costScale)).")
            } else {
                out.append("\(who): \(a.cost) cost — not measured (no cells of `\(a.method)` or of dense).")
            }
            if let rank = ranks[a.method] {
                let cls = SurveyReport.specializationClass(rank: rank, of: ranks.count)
                out.append("\(who): \(a.specialization) specialization — measured NMI \(mi(specialization(a.method))), rank \(rank) of \(ranks.count) (\(cls)): \(SurveyReport.agreement(rating: a.specialization, measured: [cls], scale: SurveyReport.specializationScale)).")
            } else {
                out.append("\(who): \(a.specialization) specialization — not measured (no specialization records).")
            }
            if let g = scalingGrowth(a.method) {
                let measured = SurveyReport.scalabilityClasses(growth: g.growth)
                out.append("\(who): \(a.scalability) scalability — \(g.how == "measured" ? "measured" : g.how + ",") FLOPs per token grow \(String(format: "%.2f", g.growth))x from 8 to 32 experts (\(measured.joined(separator: " or "))): \(SurveyReport.agreement(rating: a.scalability, measured: measured, scale: SurveyReport.scalabilityScale)).")
            } else {
                out.append("\(who): \(a.scalability) scalability — not measured (the sweep's cells are missing).")
            }
        }
        return out
    }

    /// The expert-count sweep: per family and size, FLOPs per token, step time, accuracy.
    public func scalabilityTable() -> String {
        var s = "| method | experts | seeds | forward MFLOPs / example | vs dense | vs 8 experts | step time (ms) | vs 8 experts | top-1 accuracy (%) | specialization (NMI) |\n"
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for f in SurveyReport.sweepFamilies {
            for e in SurveyReport.sweepSizes {
                let l = SurveyReport.sweepLabel(f, experts: e)
                guard !cells(l).isEmpty else { continue }
                let fl = flops(l).map { String(format: "%.3f", $0 / 1e6) } ?? "—"
                let ms = stepSeconds(l).map { String(format: "%.1f", $0 * 1000) } ?? "—"
                s += "| `\(l)` | \(e) | \(cells(l).count) | \(fl) | \(x(flopsRatio(l))) | \(x(growth(f, to: e))) | \(ms) | \(x(stepGrowth(f, to: e))) | \(pct(accuracies(l))) | \(mi(specialization(l))) |\n"
            }
        }
        return s
    }

    /// The number of experts of a cell: its `experts` option, else the label's `-eN`, else 8.
    static func experts(_ r: CellResult) -> Int {
        if case .int(let e)? = r.config.method.options["experts"] { return e }
        if let i = r.method.range(of: "-e", options: .backwards), let e = Int(r.method[i.upperBound...]) { return e }
        return 8
    }

    /// The Miller–Madow bias of the plug-in MI from an `rows × cols` table of `n` counts, in nats.
    public static func millerMadowBias(rows: Int, cols: Int, n: Int) -> Double {
        n > 0 ? Double((rows - 1) * (cols - 1)) / (2 * Double(n)) : .nan
    }

    /// Per routed label: experts, tokens per layer, the bias bound in nats and in NMI units
    /// (over ln C, the entropy of C balanced labels), and the measured mean NMI.
    public func biasTable() -> String { biasSummary()?.table ?? "" }

    /// The bias table and its largest bound relative to the measured NMI.
    func biasSummary() -> (table: String, worst: (label: String, share: Double))? {
        var worst = (label: "", share: 0.0)
        let labels = SurveyReport.architectures.map(\.method).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            + SurveyReport.sweepFamilies.flatMap { f in SurveyReport.sweepSizes.dropFirst().map { SurveyReport.sweepLabel(f, experts: $0) } }
        var s = "| method | experts E | tokens N per layer | bias bound (nats) | bias bound (NMI units) | measured NMI | bound / measured |\n|---|---:|---:|---:|---:|---:|---:|\n"
        var any = false
        for l in labels {
            let cs = cells(l).filter { $0.specialization != nil }
            guard let first = cs.first else { continue }
            any = true
            let e = SurveyReport.experts(first)
            let n = Int(Stats.mean(cs.map { Double($0.specialization!.tokens) }).rounded())
            let b = SurveyReport.millerMadowBias(rows: e, cols: classes, n: n)
            let bn = b / log(Double(classes))
            let m = Stats.mean(specialization(l))
            if m > 0, bn / m > worst.share { worst = (l, bn / m) }
            s += "| `\(l)` | \(e) | \(n) | \(String(format: "%.4f", b)) | \(String(format: "%.4f", bn)) | \(String(format: "%.3f", m)) | \(m > 0 ? String(format: "%.0f%%", bn / m * 100) : "—") |\n"
        }
        return any ? (s, worst) : nil
    }

    // MARK: The plot.

    /// Top-1 accuracy against forward FLOPs per token relative to dense: one point per
    /// architecture (± SD over seeds), the sweep as lines through 8, 16 and 32 experts.
    /// `zoomed`: without `soft`, so the axis spans only the methods near dense's cost.
    public func plot(zoomed: Bool = false) -> XYPlot? {
        var series: [PlotSeries] = []
        var seeds: [Int] = []
        func point(_ l: String) -> (x: Double, y: Double, err: Double)? {
            let a = accuracies(l)
            guard !a.isEmpty, let r = flopsRatio(l) else { return nil }
            seeds.append(a.count)
            return (r, Stats.mean(a) * 100, Stats.std(a) * 100)
        }
        for m in (zoomed ? [] : ["soft"]) + ["hierarchical", "hard"] {
            if let p = point(m) { series.append(PlotSeries(label: m, points: [p], connect: false)) }
        }
        for f in SurveyReport.sweepFamilies {
            var pts: [(x: Double, y: Double, err: Double)] = []
            var labels: [String] = [], scales: [Double] = []
            for (i, e) in SurveyReport.sweepSizes.enumerated() {
                if let p = point(SurveyReport.sweepLabel(f, experts: e)) {
                    pts.append(p); labels.append("\(e)"); scales.append([0.75, 1.05, 1.4][min(i, 2)])
                }
            }
            guard !pts.isEmpty else { continue }
            var s = PlotSeries(label: "\(f) (E = \(labels.joined(separator: ", ")))", points: pts, connect: true,
                               style: MethodStyle.style(for: f))
            s.pointLabels = labels
            s.pointScales = scales
            series.append(s)
        }
        // Dense, the reference at 1x, last: drawn on top of the routed methods near it.
        if let p = point(SurveyReport.reference) { series.append(PlotSeries(label: SurveyReport.reference, points: [p], connect: false)) }
        guard !series.isEmpty else { return nil }
        let hi = seeds.max() ?? 0
        var p = XYPlot(title: "Survey architectures, \(tier) tier: accuracy vs forward FLOPs" + (zoomed ? " (without soft)" : ""),
                       xLabel: "forward FLOPs per token relative to dense (counted)", yLabel: "top-1 accuracy (%)", series: series)
        p.note = (hi <= 1 ? "Markers: one seed each, no error bars. " : "Markers: mean; error bars: ± SD over \(SuitePlots.seedsPhrase(seeds)). ")
            + "Lines: the expert-count sweep; marker size grows with the number of experts (8, 16, 32), written beside the marker where there is room. Higher is better."
        return p
    }

    /// Writes the plot as `<prefix>-table1-accuracy-flops.png` and `.svg`, and the same
    /// without soft as `<prefix>-table1-accuracy-flops-zoom`; returns their markdown
    /// captions and paths, and the files.
    public func writePlots(prefix: String, plotDir: URL) throws -> (plots: [(String, String)], files: [URL]) {
        var plots: [(String, String)] = [], files: [URL] = []
        for zoomed in [false, true] {
            guard let p = plot(zoomed: zoomed), !(zoomed && cells("soft").isEmpty) else { continue }
            let url = plotDir.appendingPathComponent("\(prefix)-table1-accuracy-flops\(zoomed ? "-zoom" : "").png")
            files += try p.figure().write(png: url, scale: SuitePlots.pngScale)
            let what = zoomed ? "The same without soft, the axis zoomed onto the methods near dense's cost"
                : "Top-1 accuracy against forward FLOPs per token relative to dense, with the expert-count sweep"
            plots.append(("\(what) (vector: plots/\(url.deletingPathExtension().lastPathComponent).svg)", "plots/\(url.lastPathComponent)"))
        }
        return (plots, files)
    }

    // MARK: The markdown.

    /// The survey sections of `reports/survey.md` (placed before the suite's generic tables).
    public func sections(plots: [(String, String)] = []) -> String {
        let seedCounts = Set(results.map(\.method)).map { cells($0).count }
        let seeds = seedCounts.isEmpty ? "no seeds" : SuitePlots.seedsPhrase(seedCounts)
        var s = "## The survey's Table 1, measured\n\n"
        s += "The survey (\"Improving Deep Learning Performance with Mixture of Experts and Sparse Activation\", 2025) rates six architectures qualitatively in its Table 1. "
        s += "Each is measured here on the same backbone, data and budget (CIFAR-100 proxy data, \(seeds)), with 8 experts for every routed method and `dense` as the reference. "
        s += "**Mapping:** Classic MoE is `soft`: soft gating over all experts, weights `softmax(x W_r)` (Jacobs et al. 1991). "
        s += "The survey's Soft MoE is also `soft`: the suite has one dense-gated variant, so the Classic MoE and Soft MoE rows show the same cells and differ only in the survey's ratings. "
        s += "Sparse MoE (Top-K) is measured twice, by noisy top-k gating (`noisy_topk`, k = 2, Shazeer et al. 2017) and by top-2 (`top2`); Hierarchical MoE is `hierarchical` (a group gate picks one of 2 groups of 4, an expert gate one expert inside it); Hard MoE is `hard` (top-1, gate weight fixed to 1); Switch Transformers is `switch` (top-1).\n\n"
        s += "**Columns.** Top-1 accuracy: mean ± sample SD over seeds (percent). "
        s += "Forward FLOPs per token vs dense: the engine's counted forward FLOPs per example (`flops.forwardPerExampleCounted`) over dense's (every example has the same number of tokens, so the ratio per example is the ratio per token). "
        s += "Step time vs dense: wall seconds over training steps of the same cells, mean over seeds, over dense's; measured side by side on this machine, shared with other work, and noisy (it includes evaluation and start-up, and cells ran two at a time): read it as a rough check of the FLOPs ratio. "
        s += "Specialization: the normalised mutual information `I(top-1 expert; class) / H(class)` on the evaluation set, per routed layer, averaged over layers, then mean ± SD over seeds (soft's top-1 expert is that of its largest gate weight). "
        s += "Top-1 load max/mean (from the specialization record): the busiest expert's share of top-1 tokens over the mean share (1 = balanced), mean over layers and seeds. "
        s += "FLOPs growth 8 → 32 experts: forward FLOPs per token at 32 experts over those at 8, measured for the swept methods; for the others projected (see the scalability rule).\n\n"
        s += table() + "\n"
        s += "### Verdicts\n\n"
        s += "Each verdict compares the survey's rating with the ratings the measurement supports, under these rules:\n\n"
        s += "- **Cost** (forward FLOPs per token relative to dense, r): r ≤ \(String(format: "%.1f", SurveyReport.cheapRatio))x supports Very Low or Low; \(String(format: "%.1f", SurveyReport.cheapRatio))x < r < \(String(format: "%.0f", SurveyReport.expensiveRatio))x supports Low or Moderate (more than one expert's work per token, far below all of them); r ≥ \(String(format: "%.0f", SurveyReport.expensiveRatio))x supports High. Scale: Very Low < Low < Moderate < High. The step-time ratio is quoted beside it, not used.\n"
        s += "- **Specialization** (mean normalised MI): the routed 8-expert methods are ranked by their mean over seeds (1 = most specialized); the top third of the ranks supports High, the middle third Moderate-High, the bottom third Moderate (with six methods: ranks 1–2, 3–4, 5–6). Scale: Moderate < Moderate-High < High. The ranks are relative: they say which architectures specialize more here, not how much in absolute terms, and neighbours within one SD of each other may swap between runs.\n"
        s += "- **Scalability** (growth g of forward FLOPs per token from 8 to 32 experts at fixed k): g ≤ \(String(format: "%.1f", SurveyReport.flatGrowth))x (the cost per token does not grow with the experts) supports High or Very High; \(String(format: "%.1f", SurveyReport.flatGrowth))x < g ≤ \(String(format: "%.0f", SurveyReport.limitedGrowth))x supports Moderate; g > \(String(format: "%.0f", SurveyReport.limitedGrowth))x supports Limited. Scale: Limited < Moderate < High < Very High. `switch`, `top2` and `noisy_topk` are measured by the sweep; `soft` is projected from its 8-expert cells (it runs every expert: with one expert's forward FLOPs x = (F_soft − F_dense) / 7, F(32) / F(8) = (F_dense + 31x) / (F_dense + 7x)); `hard` and `hierarchical` (one expert per token, a router of E outputs) take Switch's measured growth.\n"
        s += "- A verdict **agrees** when the survey's rating is among those supported, **partly agrees** when it is one step away on the scale, and **disagrees** otherwise.\n\n"
        for v in verdicts() { s += "- " + v + "\n" }
        s += "\n## Scalability: the expert-count sweep\n\n"
        s += "`switch` (k = 1), `top2` and `noisy_topk` (k = 2) at 8, 16 and 32 experts, everything else fixed. Forward FLOPs per example counted by the engine; \"vs 8 experts\" is the ratio to the same method's 8-expert cells; step time is wall seconds per training step (same caveats as above); accuracy mean ± SD over seeds.\n\n"
        s += scalabilityTable() + "\n"
        for (caption, path) in plots { s += "![\(caption)](\(path))\n\n" }
        let bias = biasSummary()
        if let bias {
            s += "## The mutual-information estimator\n\n"
            s += "The MI is the plug-in estimate from the counts of (top-1 expert, class) pairs over the evaluation tokens. "
            s += "It is biased upwards; to first order the bias is (R − 1)(C − 1) / (2N) nats (Miller–Madow), for an R × C table of N counts: here R = E experts, C = \(classes) classes and N the tokens counted per layer (the record's `tokens`). "
            s += "In NMI units it is divided by ln \(classes) = \(String(format: "%.3f", log(Double(classes)))) nats, the class entropy of balanced classes. "
            s += "The bound for each table size, beside the measured mean NMI:\n\n"
            s += bias.table + "\n"
            s += String(format: "The largest bound here is %.0f%% of the measured value (`%@`). ", bias.worst.share * 100, bias.worst.label)
            s += "Where the last column is a few percent the bias is negligible beside the measured values; where it is larger (few tokens, many experts), part of the measured MI, and of its growth with E, is estimator bias: the sweep's rise of NMI with the number of experts should be read against the bound's own rise.\n\n"
        }
        return s
    }
}
