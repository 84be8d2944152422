import Foundation
import Analysis
import Harness
import Report
import Routing
import XCTest

/// The claim kinds over routing records and parameter counts, on hand-built results:
/// `params_ratio`, `experts_by_task`, `experts_by_layer` (its ANOVA against SciPy).
final class ClaimKindsTests: XCTestCase {
    /// A result of `method` on `task`, seed `seed`, whose layers choose `chosen[l]` experts
    /// per token on average (a histogram of 100 tokens at ⌊c⌋ and ⌈c⌉).
    func result(_ task: String, _ method: String, _ seed: Int, chosen: [Double], params: Int = 1000) throws -> CellResult {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        var r = Fixture.result(cells[0], metrics: ["accuracy": 0.5], params: params)
        r.suite = "glue"; r.task = task; r.method = method; r.seed = seed
        r.routing = chosen.enumerated().map { l, c in
            let lo = Int(c.rounded(.down)), hiShare = Int(((c - Double(lo)) * 100).rounded())
            var h = [Int](repeating: 0, count: 9)
            h[lo] += 100 - hiShare
            h[lo + 1] += hiShare
            return LayerStats(layer: l, assignedPerUnit: [100], routed: 100, chosenHistogram: h, gateEntropy: 0)
        }
        return r
    }

    func claim(_ kind: Claim.Kind, a: String = "topp", b: String? = nil, min: Double? = nil, max: Double? = nil,
               tasksA: [String] = [], tasksB: [String] = []) -> Claim {
        Claim(id: kind.rawValue, paper: "p", source: "s", text: "t", kind: kind, a: a, b: b, suites: ["glue"],
              expected: nil, expectedHigh: nil, max: max, min: min, tasksA: tasksA, tasksB: tasksB)
    }

    func testParamsRatioWithinBounds() throws {
        let rs = [try result("sst2", "dlr", 1, chosen: [], params: 1004), try result("sst2", "dense", 1, chosen: [], params: 1000)]
        let v = try XCTUnwrap(ClaimChecker.check(claim(.paramsRatio, a: "dlr", b: "dense", min: 0.99, max: 1.01), suite: "glue", results: rs))
        XCTAssertEqual(v.verdict, .reproduced)
        XCTAssertTrue(v.measured.hasPrefix("ratio 1.0040"), v.measured)
        let far = [try result("sst2", "dlr", 1, chosen: [], params: 1020), try result("sst2", "dense", 1, chosen: [], params: 1000)]
        XCTAssertEqual(ClaimChecker.check(claim(.paramsRatio, a: "dlr", b: "dense", min: 0.99, max: 1.01), suite: "glue", results: far)?.verdict,
                       .notReproduced)
    }

    func testExpertsByTaskPairsBySeed() throws {
        // Per seed: group A (mnli, rte) minus group B (sst2): seed 1: (2.5 + 2.3)/2 − 2.0 =
        // 0.4; seed 2: (2.6 + 2.4)/2 − 2.1 = 0.4; seed 3: (2.2 + 2.2)/2 − 2.0 = 0.2.
        // Mean 0.333…, SD 0.11547, t = 5.0 with df 2: "≤ 0" rejected (p = 0.0189 < 0.025).
        let a: [(Int, Double, Double, Double)] = [(1, 2.5, 2.3, 2.0), (2, 2.6, 2.4, 2.1), (3, 2.2, 2.2, 2.0)]
        var rs: [CellResult] = []
        for (s, m, r, t) in a {
            rs += [try result("mnli", "topp", s, chosen: [m, m]), try result("rte", "topp", s, chosen: [r, r]),
                   try result("sst2", "topp", s, chosen: [t, t])]
        }
        // A seed missing a task of a group is left out.
        rs.append(try result("mnli", "topp", 4, chosen: [7, 7]))
        let v = try XCTUnwrap(ClaimChecker.check(claim(.expertsByTask, tasksA: ["mnli", "rte"], tasksB: ["sst2"]), suite: "glue", results: rs))
        let p = try XCTUnwrap(v.paired)
        XCTAssertEqual(p.seeds, [1, 2, 3])
        XCTAssertEqual(p.mean, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(p.sd, 0.115470053837925, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(v.pAbove), Stats.tUpperP(5.0, df: 2), accuracy: 1e-9)
        XCTAssertEqual(v.verdict, .reproduced)
        // No difference at all, tightly: not reproduced (the interval is below the margin).
        var flat: [CellResult] = []
        for s in 1...4 {
            let e = 2.0 + 0.001 * Double(s % 2)
            flat += [try result("mnli", "topp", s, chosen: [e]), try result("rte", "topp", s, chosen: [2.0]),
                     try result("sst2", "topp", s, chosen: [2.0])]
        }
        XCTAssertEqual(ClaimChecker.check(claim(.expertsByTask, tasksA: ["mnli", "rte"], tasksB: ["sst2"]), suite: "glue", results: flat)?.verdict,
                       .notReproduced)
    }

    func testLayerANOVAAgainstSciPy() throws {
        // scipy: F = MS_layer / MS_error of the two-way layout without interaction, p =
        // scipy.stats.f.sf(F, 2, 4) = 0.010729988412882346; F = 17.3076923076923.
        let y = [[1.0, 1.2, 1.5], [1.1, 1.25, 1.4], [0.9, 1.3, 1.6]]
        let a = try XCTUnwrap(ClaimChecker.layerANOVA(y))
        XCTAssertEqual(a.f, 17.3076923076923, accuracy: 1e-9)
        XCTAssertEqual(a.df1, 2)
        XCTAssertEqual(a.df2, 4)
        XCTAssertEqual(a.p, 0.010729988412882346, accuracy: 1e-9)
        XCTAssertNil(ClaimChecker.layerANOVA([[1, 2]]), "one seed")
    }

    func testExpertsByLayerVerdicts() throws {
        // The same three seeds as the ANOVA case, over one task: reproduced.
        let y = [[1.0, 1.2, 1.5], [1.1, 1.25, 1.4], [0.9, 1.3, 1.6]]
        let rs = try y.enumerated().map { s, l in try result("sst2", "topp", s + 1, chosen: l) }
        let v = try XCTUnwrap(ClaimChecker.check(claim(.expertsByLayer), suite: "glue", results: rs))
        XCTAssertEqual(try XCTUnwrap(v.pAbove), 0.010729988412882346, accuracy: 1e-9)
        XCTAssertEqual(v.verdict, .reproduced)
        // Ranges per seed 0.5, 0.3, 0.7.
        XCTAssertEqual(try XCTUnwrap(v.paired).mean, 0.5, accuracy: 1e-9)
        // Every layer the same up to 0.01 (the histogram's resolution): the range is shown
        // below 0.02: not reproduced.
        let flat = try (1...5).map { s in try result("sst2", "topp", s, chosen: [2.0, 2.0 + 0.01 * Double(s % 2), 2.0]) }
        XCTAssertEqual(ClaimChecker.check(claim(.expertsByLayer), suite: "glue", results: flat)?.verdict, .notReproduced)
    }

    func testClaimsFileParsesTheNewKindsAndRejectsMissingKeys() throws {
        let ok = """
        claims:
          - {id: a, paper: p, source: s, claim: c, test: {kind: params_ratio, a: dlr, b: dense, suites: [glue], min: 0.99, max: 1.01}}
          - {id: b, paper: p, source: s, claim: c, test: {kind: experts_by_task, a: topp, suites: [glue], tasks_a: [mnli], tasks_b: [sst2]}}
          - {id: c, paper: p, source: s, claim: c, test: {kind: experts_by_layer, a: topp, suites: [glue]}}
        """
        let cs = try ClaimsFile.parse(file: "c.yaml", text: ok)
        XCTAssertEqual(cs.map(\.kind), [.paramsRatio, .expertsByTask, .expertsByLayer])
        XCTAssertEqual(cs[1].tasksA, ["mnli"])
        XCTAssertThrowsError(try ClaimsFile.parse(file: "c.yaml", text: """
        claims:
          - {id: a, paper: p, source: s, claim: c, test: {kind: params_ratio, a: dlr, b: dense, suites: [glue], max: 1.01}}
        """)) { XCTAssertTrue("\($0)".contains("needs 'min'"), "\($0)") }
        XCTAssertThrowsError(try ClaimsFile.parse(file: "c.yaml", text: """
        claims:
          - {id: a, paper: p, source: s, claim: c, test: {kind: experts_by_task, a: topp, suites: [glue], tasks_a: [mnli]}}
        """)) { XCTAssertTrue("\($0)".contains("tasks_a' and 'tasks_b"), "\($0)") }
    }
}

/// The robustness comparison on hand-built shifted records.
final class RobustnessClaimTests: XCTestCase {
    func result(_ method: String, _ seed: Int, clean: Double, sets: [Double], metric: String = "top1") throws -> CellResult {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        var r = Fixture.result(cells[0], metrics: [metric: clean])
        r.suite = "cifar100"; r.task = "cifar100"; r.method = method; r.seed = seed
        r.shifted = ShiftedRecord(examples: 100, clean: [metric: clean, "top5": 0.9],
                                  sets: Dictionary(uniqueKeysWithValues: sets.enumerated().map { ("set-\($0.offset)", [metric: $0.element]) }))
        return r
    }

    func testDropIsCleanMinusTheMeanOverSets() throws {
        // top1: clean 60, sets 50 and 40: drop 60 − 45 = 15 points.
        let d = try XCTUnwrap(Robustness.drop(try result("dlr", 1, clean: 0.6, sets: [0.5, 0.4])))
        XCTAssertEqual(d.metric, "top1")
        XCTAssertEqual(d.drop, 15, accuracy: 1e-9)
        // An error rate enters as 100 − rate: WER 0.3 clean, 0.5 shifted: a drop of 20 points.
        let w = try XCTUnwrap(Robustness.drop(try result("dlr", 1, clean: 0.3, sets: [0.5], metric: "wer")))
        XCTAssertEqual(w.drop, 20, accuracy: 1e-9)
    }

    func testDropSumsTheSetsInNameOrder() throws {
        // Points 1e18, 50, -1e18 under set-0, set-1, set-2. In name order the sum is
        // (1e18 + 50) - 1e18 = 0 (50 is under half of 1e18's spacing of 128, so it is lost to
        // rounding); in the order set-0, set-2, set-1 it would be 50. Summing in a Dictionary's
        // own order gave digits that changed from one process to the next.
        let d = try XCTUnwrap(Robustness.drop(try result("dlr", 1, clean: 0.6, sets: [1e16, 0.5, -1e16])))
        XCTAssertEqual(d.drop, 60, accuracy: 0)
        let many = Dictionary(uniqueKeysWithValues: (0..<200).map { ($0 * 7919 % 200, Double($0)) })
        XCTAssertEqual(many.valuesInKeyOrder, (0..<200).map { k in Double((0..<200).first { $0 * 7919 % 200 == k }!) })
    }

    func testRobustnessClaimPairsBySeed() throws {
        // dlr drops 10, 11, 12 points; molex 14, 14, 16: effect (molex − dlr) 4, 3, 4.
        var rs: [CellResult] = []
        for (s, (a, b)) in [(10.0, 14.0), (11.0, 14.0), (12.0, 16.0)].enumerated() {
            rs.append(try result("dlr", s + 1, clean: 0.6, sets: [0.6 - a / 100]))
            rs.append(try result("molex", s + 1, clean: 0.6, sets: [0.6 - b / 100]))
        }
        let c = Claim(id: "r", paper: "p", source: "abstract", text: "t", kind: .robustness, a: "dlr", b: "molex",
                      suites: ["cifar100"], expected: nil, expectedHigh: nil, max: nil)
        let v = try XCTUnwrap(ClaimChecker.check(c, suite: "cifar100", results: rs))
        let p = try XCTUnwrap(v.paired)
        XCTAssertEqual(p.differences[0], 4, accuracy: 1e-9)
        XCTAssertEqual(p.differences[1], 3, accuracy: 1e-9)
        XCTAssertEqual(p.differences[2], 4, accuracy: 1e-9)
        XCTAssertEqual(p.mean, 11.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(v.verdict, .reproduced)
        // Equal drops, tightly: not reproduced (shown below the 0.5-point margin).
        var same: [CellResult] = []
        for s in 1...4 {
            same.append(try result("dlr", s, clean: 0.6, sets: [0.5 + 0.0001 * Double(s % 2)]))
            same.append(try result("molex", s, clean: 0.6, sets: [0.5]))
        }
        XCTAssertEqual(ClaimChecker.check(c, suite: "cifar100", results: same)?.verdict, .notReproduced)
    }

    func testSuiteReportRobustnessTable() throws {
        let rs = [try result("dlr", 1, clean: 0.6, sets: [0.5, 0.4]), try result("dlr", 2, clean: 0.6, sets: [0.5, 0.4])]
        let report = SuiteReport(suite: "cifar100", tier: "proxy", methodOrder: ["dlr"], results: rs.map { var r = $0; r.tier = "proxy"; return r })
        let t = report.robustness()
        XCTAssertTrue(t.contains("| method | clean | set-0 | set-1 | drop |"), t)
        XCTAssertTrue(t.contains("| dlr | 60.0 ± 0.0 | 50.0 ± 0.0 | 40.0 ± 0.0 | **15.0 ± 0.0** |"), t)
    }
}
