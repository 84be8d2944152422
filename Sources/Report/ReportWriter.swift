import Foundation
import Analysis
import Harness

/// Writes every report of one tier from result files: one markdown file per suite with
/// its plots, and the claims report.
public enum ReportWriter {
    /// Canonical method order of the tables; other methods follow alphabetically.
    public static let methodOrder = ["dense", "dense-scratch", "dense-2x", "switch", "top2", "topp", "molex", "dlr",
                                     "soft", "noisy_topk", "hierarchical", "hard"]

    static let suiteTitles = ["glue": "GLUE", "cifar100": "CIFAR-100", "librispeech": "LibriSpeech",
                              SurveyReport.suiteName: "Survey architectures (Table 1)"]

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
            let prefix = tier == "proxy" ? suite : "\(tier)-\(suite)"
            let (plots, plotFiles) = try SuitePlots.write(report, prefix: prefix, plotDir: plotDir)
            written += plotFiles
            written += try CSVTables.write(report, prefix: prefix, dir: outDir.appendingPathComponent("csv"))
            var suiteNotes = notes[suite] ?? []
            if suite == SurveyReport.suiteName {
                // The survey table, its verdicts, the sweep and its plot come first.
                let survey = SurveyReport(results: results, tier: tier)
                let (surveyPlots, files) = try survey.writePlots(prefix: prefix, plotDir: plotDir)
                written += files
                suiteNotes.append(survey.sections(plots: surveyPlots))
            }
            let md = report.markdown(title: suiteTitles[suite] ?? suite, notes: suiteNotes, plots: plots)
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
}
