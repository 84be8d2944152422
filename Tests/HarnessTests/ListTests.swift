import Foundation
import Analysis
import Harness
import Report
import Routing
import Tensor
import XCTest

final class ListTests: XCTestCase {
    func testMethodsListingMatchesTheRegistry() throws {
        let text = Listing.methods()
        let blocks = text.components(separatedBy: "\n\n").dropFirst()
        XCTAssertEqual(blocks.map { String($0.prefix { $0 != " " }) }, MethodRegistry.names, "one block per registered method, in order")
        for (m, block) in zip(MethodRegistry.methods, blocks) {
            XCTAssertTrue(block.contains(m.summary), m.name)
            let keys = block.split(separator: "\n").filter { $0.hasPrefix("    ") && $0.contains(" = ") && !$0.contains("fixed:") }
                .map { String($0.dropFirst(4).prefix { $0 != " " }) }
            XCTAssertEqual(keys, m.optionKeys.sorted(), m.name)
            for (k, v) in m.preset { XCTAssertTrue(block.contains("fixed: \(k) = \(v)"), m.name) }
        }
        // Defaults are those the initialisers apply: compare with modules built without options.
        var rng = RNG(seed: 1)
        let top2 = try Top2(d: 8, hidden: 16, options: MethodOptions(method: "top2"), rng: &rng)
        let top2Block = blocks.first { $0.hasPrefix("top2 ") }!
        XCTAssertTrue(top2Block.contains("    experts = \(top2.experts)\n"))
        XCTAssertTrue(top2Block.contains("    capacity_factor_train = \(top2.capacityFactorTrain)\n"))
        XCTAssertTrue(top2Block.contains("    capacity_factor_eval = \(top2.capacityFactorEval)\n"))
        XCTAssertTrue(top2Block.contains("    min_capacity = \(top2.minCapacity)\n"))
        XCTAssertTrue(top2Block.contains("    dropless = \(top2.dropless)\n"))
        XCTAssertFalse(text.contains("no default"), "every option of the registered methods has a default")
    }

    func testTasksListingMatchesTheCatalog() {
        let text = Listing.tasks()
        for m in Modality.allCases {
            XCTAssertTrue(text.contains("\n\(m.rawValue):\n"))
            for t in TaskCatalog.tasks(m) {
                let line = text.split(separator: "\n").first { $0.hasPrefix("  \(t.name) ") }
                XCTAssertNotNil(line, t.name)
                for (k, title) in zip(t.metrics, t.metricTitles) {
                    XCTAssertTrue(line!.contains("\(k) (\(title), \(metricHigherIsBetter(k) ? "higher" : "lower") is better)"), t.name)
                }
            }
        }
        XCTAssertTrue(text.contains("wer_test-clean (WER clean, lower is better)"))
    }

    func testCommandPrintsTheListingsAndRejectsAMissingSuitesFolder() throws {
        let methods = try runMoebench(["list", "methods"])
        XCTAssertEqual(methods.status, 0, methods.err)
        XCTAssertEqual(methods.out, Listing.methods())
        let tasks = try runMoebench(["list", "tasks"])
        XCTAssertEqual(tasks.out, Listing.tasks())

        let dir = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Fixture.suiteText.write(to: dir.appendingPathComponent("demo.yaml"), atomically: true, encoding: .utf8)
        let suites = try runMoebench(["list", "suites", "--suites", dir.path])
        XCTAssertEqual(suites.status, 0, suites.err)
        XCTAssertEqual(suites.out, Listing.suites([try Fixture.suite()]).replacingOccurrences(of: "(demo.yaml,", with: "(\(dir.path)/demo.yaml,"))
        XCTAssertTrue(suites.out.contains("    tasks: sst2, rte\n"))
        XCTAssertTrue(suites.out.contains("    methods: dense, switch = switch {experts: 4}\n"))
        XCTAssertTrue(suites.out.contains("    tier proxy: data proxy, seeds 1 2, 2 tasks, 2 methods, 8 cells\n"), suites.out)

        // With results of the same configuration in --results, the tier says what they cost:
        // 2 cells of 45 s (hand-computed: 1.5 min of cells, about 45 s at 2 jobs); a failed
        // result and one of another configuration are not counted.
        let results = dir.appendingPathComponent("res")
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        for (k, c) in cells.prefix(4).enumerated() {
            var r = Fixture.result(c, metrics: ["accuracy": 0.8], status: k == 2 ? "failed" : "ok")
            r.wallSeconds = 45
            if k == 3 { r.configHash = "another" }
            try FileManager.default.createDirectory(at: c.resultPath(in: results).deletingLastPathComponent(), withIntermediateDirectories: true)
            try ResultStore.write(r, to: c.resultPath(in: results))
        }
        let costed = try runMoebench(["list", "suites", "--suites", dir.path, "--results", results.path])
        XCTAssertEqual(costed.status, 0, costed.err)
        XCTAssertTrue(costed.out.contains("    tier proxy: data proxy, seeds 1 2, 2 tasks, 2 methods, 8 cells; measured 1.5 min of cells (2 of them in \(results.path)/), about 45 s at 2 jobs\n"), costed.out)
        // No smoke result there: its line has no cost.
        XCTAssertTrue(costed.out.contains("    tier smoke: data smoke, seeds 1, 2 tasks, 2 methods, 4 cells\n"), costed.out)

        let missing = try runMoebench(["list", "suites", "--suites", dir.appendingPathComponent("none").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("pass --suites DIR"), missing.err)
        let bad = try runMoebench(["list", "experts"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("'methods', 'tasks' or 'suites'"), bad.err)
    }
}
