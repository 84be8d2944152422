import Foundation
import Analysis
import Harness
import Report
import XCTest

/// The suite report's reference rows and convergence marks on hand-built results.
final class SuiteReportCurveTests: XCTestCase {
    func curve(lastFifth: [Double]) -> LossCurve {
        let means = [Double](repeating: 2, count: 16) + lastFifth
        return LossCurve(segments: means.enumerated().map { LossCurve.Segment(firstStep: $0.offset + 1, lastStep: $0.offset + 1, meanLoss: $0.element) },
                         metric: "accuracy", evalSubset: "the first 4 examples of dev",
                         eval: [.init(step: 6, value: 0.5), .init(step: 13, value: 0.6), .init(step: 20, value: 0.7)])
    }

    func testReferenceRowsAndNotConvergedMarks() throws {
        let cells = try expandGrid(suite: Fixture.suite(), tierName: "proxy", seedCount: 2)
        var results: [CellResult] = []
        for c in cells {
            var r = Fixture.result(c, metrics: ["accuracy": 0.8])
            // dense on RTE seed 2 still falls 5 % over the last fifth; everything else is flat.
            let falling = c.config.method.label == "dense" && c.config.task == "rte" && c.config.seed == 2
            r.curve = curve(lastFifth: falling ? [1.0, 1.0, 0.95, 0.95] : [1.0, 1.0, 1.0, 0.99])
            results.append(r)
        }
        var report = SuiteReport(suite: "demo", tier: "proxy", methodOrder: ["dense", "switch"], results: results)
        report.references = [
            "sst2": TaskReference(version: 1, suite: "demo", task: "sst2", dataKey: "k", rows: [
                ReferenceRow(name: "chance", metrics: ["accuracy": 0.5], detail: "majority"),
                ReferenceRow(name: "linear", metrics: ["accuracy": 0.75], detail: "logistic"),
            ], seconds: 0),
            "rte": TaskReference(version: 1, suite: "demo", task: "rte", dataKey: "k", rows: [
                ReferenceRow(name: "chance", metrics: ["accuracy": 0.6], detail: "majority"),
            ], seconds: 0),
        ]
        let table = report.table()
        let lines = table.split(separator: "\n").map(String.init)
        // Columns: method | SST-2 acc | RTE acc | avg | 4 compute columns.
        XCTAssertTrue(lines.contains("| *chance* | 50.0 | 60.0 | 55.0 | — | — | — | — |"), table)
        XCTAssertTrue(lines.contains("| *linear* | 75.0 | — | — | — | — | — | — |"), table)
        let dense = try XCTUnwrap(lines.first { $0.hasPrefix("| dense") })
        XCTAssertTrue(dense.hasPrefix("| dense † | 80.0 ± 0.0 | 80.0 ± 0.0 † |"), dense)
        let sw = try XCTUnwrap(lines.first { $0.hasPrefix("| switch") })
        XCTAssertFalse(sw.contains("†"), sw)
        let conv = report.convergence()
        XCTAssertTrue(conv.contains("| dense | 0/2 (+0.5 %) | 1/2 (+5.0 %) |"), conv)
        let md = report.markdown(title: "Demo")
        XCTAssertTrue(md.contains("## Convergence"))
        XCTAssertTrue(md.contains("| dense | SST-2 | accuracy | the first 4 examples of dev | 50.0 ± 0.0 | 60.0 ± 0.0 | 70.0 ± 0.0 |"), md)
    }

    /// The cost section sums the cells' wall times per task (hand-computed: SST-2 3 × 30 s +
    /// 90 s = 3.0 min over 2 seeds, RTE 4 × 60 s = 4.0 min; 7.0 min of cells, 3.5 at 2 jobs).
    func testCostSumsWallTimesPerTaskAndSeed() throws {
        let cells = try expandGrid(suite: Fixture.suite(), tierName: "proxy", seedCount: 2)
        var results: [CellResult] = []
        for c in cells {
            var r = Fixture.result(c, metrics: ["accuracy": 0.8])
            let slow = c.config.method.label == "switch" && c.config.task == "sst2" && c.config.seed == 2
            r.wallSeconds = c.config.task == "rte" ? 60 : (slow ? 90 : 30)
            results.append(r)
        }
        let report = SuiteReport(suite: "demo", tier: "proxy", methodOrder: ["dense", "switch"], results: results)
        let cost = report.cost()
        let lines = cost.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("| SST-2 | 4 | 30 (30–90) | 3.0 | 2 | 1.5 |"), cost)
        XCTAssertTrue(lines.contains("| RTE | 4 | 60 (60–60) | 4.0 | 2 | 2.0 |"), cost)
        XCTAssertTrue(lines.contains("| **all** | 8 | 60 (30–90) | 7.0 | 2 | 3.5 |"), cost)
        XCTAssertTrue(cost.contains("3.5 min at 2 jobs for these 8 cells"), cost)
        XCTAssertTrue(report.markdown(title: "Demo").contains("## Cost\n\n| task | cells |"))
        // A failed cell is not counted.
        var withFailure = results
        withFailure[0].status = "failed"
        XCTAssertTrue(SuiteReport(suite: "demo", tier: "proxy", methodOrder: ["dense", "switch"], results: withFailure)
            .cost().contains("for these 7 cells"))
    }
}
