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
}
