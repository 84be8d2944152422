import Analysis
import Harness
import XCTest

final class RegressionTests: XCTestCase {
    func baselineResults() throws -> ([Cell], [CellResult]) {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy").filter { $0.config.task == "sst2" }
        let accs: [String: [Double]] = ["dense": [0.80, 0.84], "switch": [0.70, 0.70]]
        let results = cells.map { c in
            Fixture.result(c, metrics: ["accuracy": accs[c.config.method.label]![c.config.seed - 1]],
                           flops: c.config.method.label == "dense" ? 2e6 : 2.5e6)
        }
        return (cells, results)
    }

    func testTolerancesAreWrittenIntoTheBaseline() throws {
        let (_, results) = try baselineResults()
        let b = Regression.makeBaseline(from: results, tier: "proxy", gitCommit: "abc")
        let dense = try XCTUnwrap(b.entries.first { $0.method == "dense" && $0.quantity == "accuracy" })
        XCTAssertEqual(dense.value, 0.82, accuracy: 1e-12)
        XCTAssertEqual(dense.absTolerance, 2 * Stats.std([0.80, 0.84]), accuracy: 1e-12) // 0.0566 > 0.03
        let sw = try XCTUnwrap(b.entries.first { $0.method == "switch" && $0.quantity == "accuracy" })
        XCTAssertEqual(sw.absTolerance, Regression.minimumMetricTolerance)
        let flops = try XCTUnwrap(b.entries.first { $0.method == "switch" && $0.quantity == "flops_forward" })
        XCTAssertEqual(flops.relTolerance, 0.001)
        XCTAssertTrue(Regression.compare(baseline: b, fresh: results).allSatisfy { !$0.regressed })
    }

    /// A planted regression: a worse metric, a changed FLOP count, a failed cell.
    func testPlantedRegressionsFail() throws {
        let (_, results) = try baselineResults()
        let b = Regression.makeBaseline(from: results, tier: "proxy", gitCommit: "abc")

        var worse = results
        for i in worse.indices where worse[i].method == "switch" { worse[i].metrics["accuracy"] = 0.66 }
        var rows = Regression.compare(baseline: b, fresh: worse)
        XCTAssertEqual(rows.filter(\.regressed).map(\.entry.quantity), ["accuracy"])
        // Within tolerance is not a regression.
        for i in worse.indices where worse[i].method == "switch" { worse[i].metrics["accuracy"] = 0.68 }
        XCTAssertTrue(Regression.compare(baseline: b, fresh: worse).allSatisfy { !$0.regressed })

        var flops = results
        for i in flops.indices where flops[i].method == "dense" { flops[i].flops!.forwardPerExampleCounted *= 1.002 }
        rows = Regression.compare(baseline: b, fresh: flops)
        XCTAssertEqual(rows.filter(\.regressed).map(\.entry.quantity), ["flops_forward"])

        var failed = results
        for i in failed.indices where failed[i].method == "dense" { failed[i].status = "failed" }
        rows = Regression.compare(baseline: b, fresh: failed)
        XCTAssertTrue(rows.filter { $0.entry.method == "dense" }.allSatisfy(\.regressed))
        XCTAssertTrue(Regression.markdown(rows).contains("REGRESSED"))
    }

    func testErrorRatesRegressUpwards() throws {
        XCTAssertFalse(metricHigherIsBetter("wer_test-clean"))
        XCTAssertTrue(metricHigherIsBetter("accuracy"))
    }
}
