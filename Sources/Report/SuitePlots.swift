import Foundation
import Analysis
import Harness
import Routing

/// The plots of one suite's report, each written as PNG and SVG: the headline score against
/// forward compute, experts chosen per layer, and one load heat map per routed method.
/// Every title names the suite and the tier; every method keeps its colour and marker
/// (`MethodStyle`) across plots.
public enum SuitePlots {
    /// Pixels per point of the PNGs (the SVGs are resolution-free).
    public static let pngScale = 2.0

    /// Writes the plots of `report` into `plotDir` as `<prefix>-<kind>.png` and `.svg`;
    /// returns the markdown captions with the PNGs' paths relative to the reports folder,
    /// and every file written.
    public static func write(_ report: SuiteReport, prefix: String, plotDir: URL) throws -> (plots: [(String, String)], files: [URL]) {
        var plots: [(String, String)] = []
        var files: [URL] = []
        func emit(_ f: Figure, _ kind: String, _ caption: String) throws {
            let url = plotDir.appendingPathComponent("\(prefix)-\(kind).png")
            files += try f.write(png: url, scale: pngScale)
            plots.append(("\(caption) (vector: plots/\(prefix)-\(kind).svg)", "plots/\(url.lastPathComponent)"))
        }
        if let p = scoreVsFlops(report) {
            let what = headline(report).errorRate ? "Word error rate (lower is better)" : "Suite score (higher is better)"
            try emit(try p.figure(), "accuracy-flops", "\(what) against forward GFLOPs per example")
        }
        if let p = chosenPerLayer(report) {
            try emit(try p.figure(), "experts-per-layer", "Experts (blocks) chosen per token (sequence), per layer")
        }
        for (method, h) in loadHeatmaps(report) {
            try emit(try h.figure(), "load-\(method)", "Expert load per layer: \(method)")
        }
        return (plots, files)
    }

    /// "GLUE, proxy tier".
    static func heading(_ r: SuiteReport) -> String {
        "\(ReportWriter.suiteTitles[r.suite] ?? r.suite), \(r.tier) tier"
    }

    /// "3 seeds" or "2 to 3 seeds".
    static func seedsPhrase(_ counts: [Int]) -> String {
        let lo = counts.min() ?? 0, hi = counts.max() ?? 0
        return lo == hi ? "\(lo) seed\(lo == 1 ? "" : "s")" : "\(lo) to \(hi) seeds"
    }

    /// What the score plot's y axis shows for a suite: the suite score (higher is better),
    /// or, when every task's scored metrics are error rates (speech: WER), the mean error
    /// rate (lower is better) rather than a negative-going `1 − WER`.
    static func headline(_ r: SuiteReport) -> (errorRate: Bool, label: String, detail: String) {
        let keys = r.tasks.flatMap { t in t.metrics.indices.filter { !t.metrics[$0].hasPrefix("cer") }.map { (t, $0) } }
        let allErrors = !keys.isEmpty && keys.allSatisfy { !metricHigherIsBetter($0.0.metrics[$0.1]) }
        guard allErrors else { return (false, "suite score (%), higher is better", "") }
        let names = keys.map { $0.0.metricTitles[$0.1] }
        let detail = names.count == 1 ? "" : " Error rate: mean of " + names.joined(separator: " and ") + "."
        return (true, "word error rate (%), lower is better", detail)
    }

    /// One point per method: mean headline score (percent) against mean forward GFLOPs,
    /// error bars ± one sample SD over seeds.
    static func scoreVsFlops(_ r: SuiteReport) -> XYPlot? {
        let head = headline(r)
        var series: [PlotSeries] = []
        var seedCounts: [Int] = []
        for m in r.methods {
            let scores = Scores.suiteScores(r.results, suite: r.suite, method: m).valuesInKeyOrder.map { (head.errorRate ? 1 - $0 : $0) * 100 }
            guard !scores.isEmpty, let fl = Scores.forwardFlops(r.results, suite: r.suite, method: m) else { continue }
            seedCounts.append(scores.count)
            series.append(PlotSeries(label: m, points: [(fl / 1e9, Stats.mean(scores), Stats.std(scores))], connect: false))
        }
        guard !series.isEmpty else { return nil }
        let what = head.errorRate ? "word error rate" : "suite score"
        var p = XYPlot(title: "\(heading(r)): \(what) vs compute", xLabel: "forward GFLOPs per example (counted)",
                       yLabel: head.label, series: series)
        p.note = ((seedCounts.max() ?? 0) <= 1 ? "Markers: one seed each, no error bars. " : "Markers: mean; error bars: mean ± SD over \(seedsPhrase(seedCounts)). ")
            + (head.errorRate ? "Lower is better." : "Higher is better.") + head.detail + " Points closer than a marker are spread sideways."
        p.dodge = true
        return p
    }

    /// Mean chosen experts (blocks) per layer, one line per routed method, error bars ± one
    /// SD over the cells (tasks × seeds).
    static func chosenPerLayer(_ r: SuiteReport) -> XYPlot? {
        var series: [PlotSeries] = []
        var cellCounts: [Int] = []
        for m in r.methods {
            let ok = r.cells(m).filter { $0.isOK && !$0.routing.isEmpty }
            guard !ok.isEmpty else { continue }
            let layers = Set(ok.flatMap { $0.routing.map(\.layer) }).sorted()
            let pts = layers.map { l -> (x: Double, y: Double, err: Double) in
                let v = ok.compactMap { $0.routing.first { $0.layer == l }?.meanChosen }
                return (Double(l), Stats.mean(v), Stats.std(v))
            }
            cellCounts.append(ok.count)
            series.append(PlotSeries(label: m, points: pts, connect: true))
        }
        guard !series.isEmpty else { return nil }
        var p = XYPlot(title: "\(heading(r)): experts (blocks) chosen per layer", xLabel: "layer (counted from 0)",
                       yLabel: "experts or blocks per token (sequence)", series: series)
        let lo = cellCounts.min() ?? 0, hi = cellCounts.max() ?? 0
        p.note = "Mean ± SD over \(lo == hi ? "\(lo)" : "\(lo) to \(hi)") \(cellsWord(r)); lines spread sideways so equal values stay visible."
        p.integerX = true
        p.yFromZero = true
        p.dodge = true
        return p
    }

    /// "seeds" for a one-task suite, else "cells (tasks × seeds)".
    static func cellsWord(_ r: SuiteReport) -> String {
        Set(r.results.map(\.task)).count == 1 ? "seeds" : "cells (tasks × seeds)"
    }

    /// What a routed unit of these cells is: an expert, or a block for the block mixers.
    static func unit(_ cells: [CellResult]) -> String {
        let kinds = Set(cells.map { (try? MethodRegistry.method($0.config.method.method))?.isBlockMixer })
        return kinds == [true] ? "block" : kinds == [false] ? "expert" : "expert (or block)"
    }

    /// Per method with experts: layers × experts, share of assignments (summed over cells).
    static func loadHeatmaps(_ r: SuiteReport) -> [(String, Heatmap)] {
        var out: [(String, Heatmap)] = []
        for m in r.methods {
            let ok = r.cells(m).filter { $0.isOK && !$0.routing.isEmpty }
            guard !ok.isEmpty else { continue }
            let layers = Set(ok.flatMap { $0.routing.map(\.layer) }).sorted()
            let units = ok.flatMap { $0.routing.map(\.assignedPerUnit.count) }.max() ?? 0
            guard units > 1 else { continue }
            var values: [[Double]] = []
            for l in layers {
                var row = [Double](repeating: 0, count: units)
                for c in ok { if let st = c.routing.first(where: { $0.layer == l }) { for (i, v) in st.assignedPerUnit.enumerated() { row[i] += Double(v) } } }
                let total = row.reduce(0, +)
                values.append(row.map { total > 0 ? $0 / total : 0 })
            }
            var h = Heatmap(title: "\(heading(r)): load share per layer, \(m)", rowLabels: layers.map { "layer \($0)" },
                            columnLabels: (0..<units).map(String.init), values: values,
                            xLabel: "\(unit(ok)), from 0", yLabel: "layer")
            h.note = "Share of each layer's assignments, summed over \(ok.count) \(cellsWord(r))."
            h.scaleLabel = "share of assignments"
            h.format = { v in tickLabel((v * 1000).rounded() / 10) + "%" }
            h.reference = (1 / Double(units), "uniform")
            out.append((m, h))
        }
        return out
    }
}
