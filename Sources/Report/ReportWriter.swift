import Foundation
import Harness

/// Writes every report of one tier from result files: one markdown file per suite with
/// its plots, and the claims report.
public enum ReportWriter {
    /// Canonical method order of the tables; other methods follow alphabetically.
    public static let methodOrder = ["dense", "dense-scratch", "dense-2x", "switch", "top2", "topp", "molex", "dlr",
                                     "soft", "noisy_topk", "hierarchical", "hard"]

    static let suiteTitles = ["glue": "GLUE", "cifar100": "CIFAR-100", "librispeech": "LibriSpeech"]

    /// Renders reports for `tier` from `results` into `outDir`; returns the files written.
    @discardableResult
    public static func write(results allResults: [CellResult], tier: String, claims: [Claim], outDir: URL,
                             notes: [String: [String]] = [:],
                             references: [String: [String: TaskReference]] = [:]) throws -> [URL] {
        let results = allResults.filter { $0.tier == tier }
        var written: [URL] = []
        let plotDir = outDir.appendingPathComponent("plots")
        for suite in Set(results.map(\.suite)).sorted() {
            var report = SuiteReport(suite: suite, tier: tier, methodOrder: methodOrder, results: results)
            report.references = references[suite] ?? [:]
            var plots: [(String, String)] = []
            let prefix = tier == "proxy" ? suite : "\(tier)-\(suite)"
            if let img = accuracyVsFlops(report) {
                let f = plotDir.appendingPathComponent("\(prefix)-accuracy-flops.png")
                try img.writePNG(to: f); written.append(f)
                plots.append(("Suite score against forward GFLOPs per example", "plots/\(f.lastPathComponent)"))
            }
            if let img = chosenPerLayer(report) {
                let f = plotDir.appendingPathComponent("\(prefix)-experts-per-layer.png")
                try img.writePNG(to: f); written.append(f)
                plots.append(("Experts (blocks) chosen per token (sequence), per layer", "plots/\(f.lastPathComponent)"))
            }
            for (method, img) in loadHeatmaps(report) {
                let f = plotDir.appendingPathComponent("\(prefix)-load-\(method).png")
                try img.writePNG(to: f); written.append(f)
                plots.append(("Expert load per layer: \(method)", "plots/\(f.lastPathComponent)"))
            }
            let md = report.markdown(title: suiteTitles[suite] ?? suite, notes: notes[suite] ?? [], plots: plots)
            let f = outDir.appendingPathComponent("\(prefix).md")
            try atomicWrite(Data(md.utf8), to: f)
            written.append(f)
        }
        if !claims.isEmpty {
            let f = outDir.appendingPathComponent(tier == "proxy" ? "claims.md" : "\(tier)-claims.md")
            try atomicWrite(Data(ClaimsReport.markdown(claims: claims, results: results, tier: tier).utf8), to: f)
            written.append(f)
        }
        return written
    }

    /// One point per method: mean suite score (percent) against mean forward GFLOPs.
    static func accuracyVsFlops(_ r: SuiteReport) -> RGBImage? {
        var series: [PlotSeries] = []
        for m in r.methods {
            let scores = Array(Scores.suiteScores(r.results, suite: r.suite, method: m).values).map { $0 * 100 }
            guard !scores.isEmpty, let fl = Scores.forwardFlops(r.results, suite: r.suite, method: m) else { continue }
            series.append(PlotSeries(label: m, points: [(fl / 1e9, Stats.mean(scores), Stats.std(scores))], connect: false))
        }
        guard !series.isEmpty else { return nil }
        return XYPlot(title: "\(suiteTitles[r.suite] ?? r.suite): score vs compute", xLabel: "forward GFLOPs per example",
                      yLabel: "suite score (%)", series: series).render()
    }

    /// Mean chosen experts (blocks) per layer, one line per routed method.
    static func chosenPerLayer(_ r: SuiteReport) -> RGBImage? {
        var series: [PlotSeries] = []
        for m in r.methods {
            let ok = r.cells(m).filter { $0.isOK && !$0.routing.isEmpty }
            guard !ok.isEmpty else { continue }
            let layers = Set(ok.flatMap { $0.routing.map(\.layer) }).sorted()
            let pts = layers.map { l -> (x: Double, y: Double, err: Double) in
                let v = ok.compactMap { $0.routing.first { $0.layer == l }?.meanChosen }
                return (Double(l), Stats.mean(v), 0)
            }
            series.append(PlotSeries(label: m, points: pts, connect: true))
        }
        guard !series.isEmpty else { return nil }
        return XYPlot(title: "\(suiteTitles[r.suite] ?? r.suite): units chosen per layer", xLabel: "layer",
                      yLabel: "experts or blocks per token", series: series).render()
    }

    /// Per method with experts: layers × experts, share of assignments (summed over cells).
    static func loadHeatmaps(_ r: SuiteReport) -> [(String, RGBImage)] {
        var out: [(String, RGBImage)] = []
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
            out.append((m, Heatmap(title: "\(m): load share per layer", rowLabels: layers.map { "layer \($0)" },
                                   columnLabels: (0..<units).map(String.init), values: values,
                                   xLabel: "expert (or block)", yLabel: "layer").render()))
        }
        return out
    }
}
