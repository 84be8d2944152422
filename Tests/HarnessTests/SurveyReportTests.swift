import Foundation
import Analysis
import Harness
import Report
import XCTest

/// The survey report on hand-built results: its verdict rules, the numbers of its tables,
/// and `ReportWriter` rendering it.
final class SurveyReportTests: XCTestCase {
    /// A survey cell of `label` built from the demo suite's dense cell: top-1 accuracy,
    /// counted forward FLOPs per example, wall seconds over 10 steps, and (for routed
    /// labels) the specialization record.
    func cell(_ label: String, seed: Int = 1, top1: Double = 0.5, flops: Double, wall: Double = 10,
              mi: Double? = nil, load: [Double] = [2, 2], tokens: Int = 13000) throws -> CellResult {
        let base = try XCTUnwrap(try expandGrid(suite: Fixture.suite(), tierName: "proxy").first { $0.config.method.label == "dense" })
        var r = Fixture.result(base, metrics: ["top1": top1], flops: flops)
        r.suite = "survey"
        r.task = "cifar100"
        r.method = label
        r.seed = seed
        r.tier = "proxy"
        r.trainSteps = 10
        r.wallSeconds = wall
        if let mi {
            r.specialization = SpecializationRecord(perLayer: [mi, mi], mean: mi, loadMaxOverMean: load, labelKind: "class", tokens: tokens)
        }
        return r
    }

    /// Every survey method once: FLOPs per example given (dense 1e6), specialization `mi`.
    func results(flops: [String: Double], mi: [String: Double]) throws -> [CellResult] {
        try flops.keys.sorted().map { try cell($0, flops: flops[$0]!, mi: $0 == "dense" ? nil : mi[$0] ?? 0.1) }
    }

    func testRules() {
        XCTAssertEqual(SurveyReport.costClasses(ratio: 1.0), ["Very Low", "Low"])
        XCTAssertEqual(SurveyReport.costClasses(ratio: 1.1), ["Very Low", "Low"])
        XCTAssertEqual(SurveyReport.costClasses(ratio: 1.6), ["Low", "Moderate"])
        XCTAssertEqual(SurveyReport.costClasses(ratio: 2.0), ["High"])
        XCTAssertEqual(SurveyReport.scalabilityClasses(growth: 1.05), ["High", "Very High"])
        XCTAssertEqual(SurveyReport.scalabilityClasses(growth: 1.5), ["Moderate"])
        XCTAssertEqual(SurveyReport.scalabilityClasses(growth: 3.7), ["Limited"])
        XCTAssertEqual((1...6).map { SurveyReport.specializationClass(rank: $0, of: 6) },
                       ["High", "High", "Moderate-High", "Moderate-High", "Moderate", "Moderate"])
        XCTAssertEqual(SurveyReport.agreement(rating: "High", measured: ["High"], scale: SurveyReport.costScale), "agrees")
        XCTAssertEqual(SurveyReport.agreement(rating: "High", measured: ["Low", "Moderate"], scale: SurveyReport.costScale),
                       "partly agrees (one step apart)")
        XCTAssertEqual(SurveyReport.agreement(rating: "High", measured: ["Very Low", "Low"], scale: SurveyReport.costScale), "disagrees")
        // Miller–Madow: (R − 1)(C − 1) / (2N) nats.
        XCTAssertEqual(SurveyReport.millerMadowBias(rows: 8, cols: 100, n: 13000), 7.0 * 99 / 26000, accuracy: 1e-15)
    }

    func testVerdictSentences() throws {
        let flops: [String: Double] = ["dense": 1e6, "soft": 5e6, "switch": 1e6, "hierarchical": 1e6, "hard": 1.02e6,
                                       "top2": 1.6e6, "noisy_topk": 1.6e6, "switch-e32": 1.02e6, "top2-e32": 1.61e6,
                                       "noisy_topk-e32": 1.62e6]
        let mi: [String: Double] = ["soft": 0.5, "hierarchical": 0.4, "noisy_topk": 0.3, "top2": 0.2, "hard": 0.1, "switch": 0.05]
        let report = SurveyReport(results: try results(flops: flops, mi: mi), tier: "proxy")
        let v = report.verdicts()
        func one(_ prefix: String) throws -> String {
            let hits = v.filter { $0.hasPrefix(prefix) }
            XCTAssertEqual(hits.count, 1, "\(prefix): \(v)")
            return try XCTUnwrap(hits.first)
        }
        // Cost.
        let softCost = try one("Soft MoE (`soft`): High cost — measured 5.00x dense FLOPs (High)")
        XCTAssertTrue(softCost.hasSuffix(": agrees."), softCost)
        let switchCost = try one("Switch Transformers (`switch`): Very Low cost — measured 1.00x dense FLOPs (Very Low or Low)")
        XCTAssertTrue(switchCost.hasSuffix(": agrees."), switchCost)
        XCTAssertTrue(try one("Hierarchical MoE (`hierarchical`): High cost").hasSuffix(": disagrees."))
        XCTAssertTrue(try one("Sparse MoE (Top-K) (`top2`): Low cost — measured 1.60x").hasSuffix(": agrees."))
        // Specialization, by rank: soft 1, hierarchical 2, noisy_topk 3, top2 4, hard 5, switch 6.
        XCTAssertTrue(try one("Classic MoE (`soft`): Moderate specialization").hasSuffix("rank 1 of 6 (High): disagrees."))
        XCTAssertTrue(try one("Soft MoE (`soft`): High specialization").hasSuffix("rank 1 of 6 (High): agrees."))
        XCTAssertTrue(try one("Sparse MoE (Top-K) (`noisy_topk`): Moderate-High specialization").hasSuffix("(Moderate-High): agrees."))
        XCTAssertTrue(try one("Switch Transformers (`switch`): Moderate specialization").hasSuffix("rank 6 of 6 (Moderate): agrees."))
        // Scalability: switch measured 1.02x; soft projected (1 + 31x) / (1 + 7x), x = 4/7: 3.74x.
        XCTAssertEqual(try one("Switch Transformers (`switch`): Very High scalability"),
                       "Switch Transformers (`switch`): Very High scalability — measured FLOPs per token grow 1.02x from 8 to 32 experts (High or Very High): agrees.")
        XCTAssertTrue(try one("Classic MoE (`soft`): Limited scalability").contains("grow 3.74x from 8 to 32 experts (Limited): agrees."))
        XCTAssertTrue(try one("Soft MoE (`soft`): Moderate scalability").hasSuffix("(Limited): partly agrees (one step apart)."))
        XCTAssertTrue(try one("Hard MoE (`hard`): High scalability — projected from switch's sweep").hasSuffix(": agrees."))
    }

    func testTableNumbers() throws {
        let cells = [
            try cell("dense", seed: 1, top1: 0.5, flops: 1e6, wall: 10),
            try cell("dense", seed: 2, top1: 0.6, flops: 1e6, wall: 12),
            try cell("soft", seed: 1, top1: 0.7, flops: 4e6, wall: 22, mi: 0.2, load: [2, 4]),
            try cell("soft", seed: 2, top1: 0.8, flops: 6e6, wall: 33, mi: 0.4, load: [3, 3]),
            try cell("switch", seed: 1, top1: 0.5, flops: 1e6, wall: 11, mi: 0.1),
            try cell("switch-e32", seed: 1, top1: 0.6, flops: 1.2e6, wall: 13.2, mi: 0.2, tokens: 1000),
        ]
        let report = SurveyReport(results: cells, tier: "proxy")
        XCTAssertEqual(try XCTUnwrap(report.flopsRatio("soft")), 5, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.stepRatio("soft")), 2.75 / 1.1, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.load("soft")), 3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.growth("switch")), 1.2, accuracy: 1e-12)
        let lines = report.table().split(separator: "\n").map(String.init)
        // Accuracy 75.0 ± SD(70, 80) = 7.1; FLOPs 5e6 / 1e6; step 2.75 s / 1.1 s; NMI 0.3 ± 0.141; load 3.
        XCTAssertTrue(lines.contains("| dense (reference) | `dense` | 2 | 55.0 ± 7.1 | 1.00x | 1.00x | — | — | — | — | — | — |"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("| Classic MoE | `soft` | 2 | 75.0 ± 7.1 | 5.00x | 2.50x | 0.300 ± 0.141 | 3.00 | 3.74x (projected) | High | Moderate | Limited |"),
                      lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("| Switch Transformers | `switch` | 1 | 50.0 | 1.00x | 1.00x | 0.100 | 2.00 | 1.20x | Very Low | Moderate | Very High |"),
                      lines.joined(separator: "\n"))
        let sweep = report.scalabilityTable().split(separator: "\n").map(String.init)
        XCTAssertTrue(sweep.contains("| `switch-e32` | 32 | 1 | 1.200 | 1.20x | 1.20x | 1320.0 | 1.20x | 60.0 | 0.200 |"), sweep.joined(separator: "\n"))
        // The bias bound of a 32 × 100 table of 1,000 tokens: 31 · 99 / 2000 nats.
        let bias = report.biasTable()
        XCTAssertTrue(bias.contains(String(format: "| `switch-e32` | 32 | 1000 | %.4f | %.4f | 0.200 |", 31.0 * 99 / 2000, 31.0 * 99 / 2000 / log(100.0))), bias)
    }

    func testReportWriterRendersTheSurvey() throws {
        let flops: [String: Double] = ["dense": 1e6, "soft": 5e6, "switch": 1e6, "switch-e16": 1.01e6, "switch-e32": 1.02e6,
                                       "top2": 1.6e6, "hard": 1e6]
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try ReportWriter.write(results: try results(flops: flops, mi: [:]), tier: "proxy", claims: [], outDir: dir)
        let md = try String(contentsOf: dir.appendingPathComponent("survey.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("## The survey's Table 1, measured"), md)
        XCTAssertTrue(md.contains("### Verdicts"))
        XCTAssertTrue(md.contains("## Scalability: the expert-count sweep"))
        XCTAssertTrue(md.contains("## The mutual-information estimator"))
        XCTAssertTrue(md.contains("(plots/survey-table1-accuracy-flops.png)"), md)
        XCTAssertTrue(files.contains { $0.lastPathComponent == "survey-table1-accuracy-flops.svg" })
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("plots/survey-table1-accuracy-flops.png").path))
        XCTAssertTrue(md.contains("(plots/survey-table1-accuracy-flops-zoom.png)"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("plots/survey-table1-accuracy-flops-zoom.svg").path))
    }
}
