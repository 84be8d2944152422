import Foundation
import Analysis
import Harness
import Report
import XCTest

final class CSVTableTests: XCTestCase {
    /// Results written as JSON, reports rendered from them: every CSV row reads back to the
    /// values computed from the JSON files (means and SDs over seeds, counts, FLOPs, params).
    func testCSVRoundTripEqualsTheJSONResults() throws {
        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let resultsRoot = dir.appendingPathComponent("results")
        for cell in try expandGrid(suite: try Fixture.suite(), tierName: "proxy") {
            let c = cell.config
            let acc = 0.5 + 0.037 * Double(c.seed) + (c.method.label == "switch" ? 0.011 : 0) + (c.task == "rte" ? 0.1 / 3 : 0)
            let failed = c.task == "rte" && c.method.label == "switch" && c.seed == 2
            let r = Fixture.result(cell, metrics: failed ? [:] : ["accuracy": acc], flops: 1e6 * Double(c.seed) / 3,
                                   params: c.method.label == "switch" ? 4000 : 1000, status: failed ? "failed" : "ok")
            try ResultStore.write(r, to: cell.resultPath(in: resultsRoot))
        }
        let results = try ResultStore.all(under: resultsRoot.appendingPathComponent("proxy"))
        XCTAssertEqual(results.count, 8)
        let outDir = dir.appendingPathComponent("reports")
        let written = try ReportWriter.write(results: results, tier: "proxy", claims: [], outDir: outDir)
        let csvURL = outDir.appendingPathComponent("csv/demo.csv")
        XCTAssertTrue(written.contains(csvURL))
        for side in ["routing", "difficulty"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: outDir.appendingPathComponent("csv/demo-\(side).csv").path),
                           "no \(side) data in these results: no \(side) table")
        }

        let rows = CSVTables.parse(try String(contentsOf: csvURL, encoding: .utf8))
        XCTAssertEqual(rows.first, CSVTables.leadingColumns + ["accuracy_mean", "accuracy_sd"] + CSVTables.trailingColumns)
        let header = rows[0]
        func col(_ row: [String], _ name: String) -> String { row[header.firstIndex(of: name)!] }
        XCTAssertEqual(rows.count, 1 + 2 * 2, "one row per method × task")
        var seen = Set<String>()
        for row in rows.dropFirst() {
            XCTAssertEqual(row.count, header.count)
            let task = col(row, "task"), method = col(row, "method")
            seen.insert("\(method)/\(task)")
            let cells = results.filter { $0.task == task && $0.method == method }
            let ok = cells.filter(\.isOK)
            let acc = ok.map { $0.metrics["accuracy"]! }
            XCTAssertEqual(col(row, "suite"), "demo")
            XCTAssertEqual(col(row, "tier"), "proxy")
            XCTAssertEqual(Int(col(row, "n")), ok.count)
            XCTAssertEqual(Int(col(row, "failed")), cells.count - ok.count)
            XCTAssertEqual(col(row, "seeds"), ok.map(\.seed).sorted().map(String.init).joined(separator: " "))
            XCTAssertEqual(Double(col(row, "accuracy_mean")), Stats.mean(acc))
            XCTAssertEqual(Double(col(row, "accuracy_sd")), Stats.std(acc))
            XCTAssertEqual(Double(col(row, "score_mean")), Stats.mean(acc), "accuracy is these tasks' score")
            XCTAssertEqual(Double(col(row, "fwd_flops_per_example")), Stats.mean(ok.map { $0.flops!.forwardPerExampleCounted }))
            XCTAssertEqual(Double(col(row, "active_params")), Stats.mean(ok.map { $0.params!.active }))
            XCTAssertEqual(Int(col(row, "total_params")), ok[0].params!.total)
            XCTAssertEqual(col(row, "experts_per_token"), "", "no routing recorded")
        }
        XCTAssertEqual(seen, ["dense/sst2", "dense/rte", "switch/sst2", "switch/rte"])
        let failedRow = rows.first { col($0, "method") == "switch" && col($0, "task") == "rte" }!
        XCTAssertEqual(col(failedRow, "failed"), "1")
        XCTAssertEqual(col(failedRow, "accuracy_sd"), "0.0", "one seed left: SD 0")
    }

    func testQuotedFieldsParse() {
        XCTAssertEqual(CSVTables.parse("a,\"b,c\",\"d \"\"e\"\"\"\n1,,2\n"), [["a", "b,c", "d \"e\""], ["1", "", "2"]])
    }
}
