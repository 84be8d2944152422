import Foundation
import Analysis
import Harness
import Tensor
import Report
import XCTest

/// The claims' statistics: the paired t interval and the bootstrap against the committed
/// reference script (`Tests/Reference/stats_reference.py`, values in
/// `StatsReferenceValues.swift`), Holm, the equivalence verdicts and the headline average
/// on hand-built results.
final class ClaimsStatsTests: XCTestCase {
    // MARK: Against the reference script

    func testGeneratorMatchesTheReferenceReimplementation() {
        var rng = RNG(seed: 20_251_216)
        XCTAssertEqual((0..<4).map { _ in rng.next() }, statsReferenceRNG)
    }

    func testPairedIntervalsAgainstReference() throws {
        for c in statsReferenceCases {
            let p = try XCTUnwrap(Stats.paired(differences: c.differences, resamples: c.resamples, seed: c.seed), c.name)
            XCTAssertEqual(p.n, c.differences.count, c.name)
            XCTAssertEqual(p.mean, c.mean, accuracy: 1e-12, c.name)
            XCTAssertEqual(p.sd, c.sd, accuracy: 1e-12, c.name)
            XCTAssertEqual(p.low, c.low, accuracy: 1e-7, c.name)
            XCTAssertEqual(p.high, c.high, accuracy: 1e-7, c.name)
            XCTAssertEqual(p.pAbove(c.value), c.pAbove, accuracy: 1e-9, c.name)
            XCTAssertEqual(p.pBelow(c.value), c.pBelow, accuracy: 1e-9, c.name)
            // The same generator and resampling as the script: the same interval.
            XCTAssertEqual(p.bootLow, c.bootLow, accuracy: 1e-12, c.name)
            XCTAssertEqual(p.bootHigh, c.bootHigh, accuracy: 1e-12, c.name)
            // And close to SciPy's own percentile bootstrap (another generator, 200,000 resamples).
            XCTAssertEqual(p.bootLow, c.scipyBootLow, accuracy: 0.05, c.name)
            XCTAssertEqual(p.bootHigh, c.scipyBootHigh, accuracy: 0.05, c.name)
            XCTAssertEqual(Stats.seedsNeeded(sd: c.sd, halfWidth: 1.2), c.seedsFor12, c.name)
        }
    }

    func testSeedsNeededIsTheFirstCountReachingTheWidth() throws {
        let n = try XCTUnwrap(Stats.seedsNeeded(sd: 2.13, halfWidth: 1.2))
        XCTAssertLessThanOrEqual(Stats.tQuantile(0.975, df: Double(n - 1)) * 2.13 / Double(n).squareRoot(), 1.2)
        XCTAssertGreaterThan(Stats.tQuantile(0.975, df: Double(n - 2)) * 2.13 / Double(n - 1).squareRoot(), 1.2)
        XCTAssertEqual(Stats.seedsNeeded(sd: 0, halfWidth: 1), 2)
        XCTAssertNil(Stats.seedsNeeded(sd: 100, halfWidth: 0.01, limit: 50))
    }

    func testPairingUsesOnlySeedsPresentForBoth() throws {
        let a = [1: 10.0, 2: 11.0, 3: 12.5, 5: 99.0], b = [1: 9.0, 2: 10.0, 3: 11.0, 4: -50.0]
        let p = try XCTUnwrap(Stats.paired(a, b))
        XCTAssertEqual(p.seeds, [1, 2, 3])
        XCTAssertEqual(p.differences, [1.0, 1.0, 1.5])
        XCTAssertNil(Stats.paired([1: 1.0, 2: 2.0], [2: 1.0, 3: 0.0]), "one common seed cannot give an interval")
    }

    // MARK: Holm

    func testHolmOnAHandBuiltFamily() {
        // Sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 is not rejected
        // although 0.04 <= 0.05/1 (step-down).
        let h = Stats.holm([0.01, 0.04, 0.03, 0.005], alpha: 0.05)
        XCTAssertEqual(h.rejected, [true, false, false, true])
        let expected = [0.03, 0.06, 0.06, 0.02]
        for (x, e) in zip(h.adjusted, expected) { XCTAssertEqual(x, e, accuracy: 1e-12) }
        // A family of one is the plain test.
        XCTAssertEqual(Stats.holm([0.02], alpha: 0.025).rejected, [true])
        XCTAssertEqual(Stats.holm([0.03], alpha: 0.025).rejected, [false])
        // NaN counts in m but is never rejected.
        XCTAssertEqual(Stats.holm([0.001, .nan], alpha: 0.025).rejected, [true, false])
        XCTAssertEqual(Stats.holm([0.02, .nan], alpha: 0.025).rejected, [false, false])
    }

    // MARK: Verdicts on hand-built results

    func result(_ suite: String, _ task: String, _ method: String, _ seed: Int, score points: Double) throws -> CellResult {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        var r = Fixture.result(cells[0], metrics: [:])
        r.suite = suite; r.task = task; r.method = method; r.seed = seed
        switch task {
        case "cifar100": r.metrics = ["top1": points / 100, "top5": points / 100]
        default: r.metrics = ["accuracy": points / 100]
        }
        return r
    }

    /// `a` scores `50 + d[i]` and `b` 50 on seed `i + 1` of a one-task suite.
    func pair(_ suite: String, _ a: String, _ b: String, _ d: [Double]) throws -> [CellResult] {
        try d.enumerated().flatMap { i, x in
            [try result(suite, "cifar100", a, i + 1, score: 50 + x), try result(suite, "cifar100", b, i + 1, score: 50)]
        }
    }

    func claim(_ id: String, _ a: String, _ b: String, suites: [String], expected: Double? = nil) -> Claim {
        Claim(id: id, paper: "p", source: "s", text: id, kind: .difference, a: a, b: b, suites: suites,
              expected: expected, expectedHigh: nil, max: nil)
    }

    /// The power section says what one more seed costs: 10 cells of 30 s over 5 seeds is
    /// 1.0 min of cells per seed (hand-computed).
    func testPowerSectionStatesWhatASeedCosts() throws {
        var results = try pair("s", "m", "dense", [2.0, 2.2, 1.9, 2.1, 2.05])
        for i in results.indices { results[i].wallSeconds = 30 }
        let md = ClaimsReport.markdown(claims: [claim("x", "m", "dense", suites: ["s"])], results: results, tier: "proxy")
        XCTAssertTrue(md.contains("What a seed costs: one seed of every method takes 1.0 min of cells on s (10 cells over 5 seeds)"), md)
    }

    func testEquivalenceMarginMakesAZeroEffectNotReproduced() throws {
        let c = claim("x", "m", "dense", suites: ["s"])
        // A true zero with a tight interval: wholly below the 0.5 margin.
        let zero = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "m", "dense", [0.1, -0.1, 0.05, -0.05, 0.0])))
        XCTAssertEqual(zero.verdict, .notReproduced)
        XCTAssertEqual(zero.upper, ClaimChecker.margin)
        XCTAssertLessThan(try XCTUnwrap(zero.paired).high, 0.5)
        // A clear positive effect.
        let pos = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "m", "dense", [2.0, 2.2, 1.9, 2.1, 2.05])))
        XCTAssertEqual(pos.verdict, .reproduced)
        // The same mean with a wide spread: neither.
        let wide = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "m", "dense", [4.0, -3.0, 5.0, -2.0, 0.5])))
        XCTAssertEqual(wide.verdict, .inconclusive)
        XCTAssertEqual(wide.paired?.n, 5)
    }

    func testStatedMagnitudeIsJudgedAgainstThePapersFigure() throws {
        let c = claim("dlr", "dlr", "molex", suites: ["s"], expected: 2.4)
        // Significantly positive but significantly below +2.4: not reproduced.
        let small = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "dlr", "molex", [1.0, 1.1, 0.9, 1.05, 0.95])))
        XCTAssertGreaterThan(try XCTUnwrap(small.paired).low, 0)
        XCTAssertEqual(small.verdict, .notReproduced)
        // Positive and consistent with +2.4: reproduced.
        let ok = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "dlr", "molex", [2.0, 3.0, 2.5, 2.8, 2.2])))
        XCTAssertEqual(ok.verdict, .reproduced)
        // Above the figure is still reproduced (an improvement claim).
        let big = try XCTUnwrap(ClaimChecker.check(c, suite: "s", results: try pair("s", "dlr", "molex", [6.0, 6.2, 5.9, 6.1, 6.0])))
        XCTAssertEqual(big.verdict, .reproduced)
    }

    func testHolmAcrossTheTableChangesABorderlineVerdict() throws {
        // Row on suite "s1": p(above 0) ≈ 0.015, reproduced alone; with three other rows of
        // p ≈ 0.5 in the family Holm needs p <= 0.025 / 4 for the first step.
        let borderline = [1.0, 0.2, 1.8, 0.6, 1.4]
        var results = try pair("s1", "m", "dense", borderline)
        for s in ["s2", "s3", "s4"] { results += try pair(s, "m", "dense", [1.0, -1.0, 0.5, -0.5, 0.0]) }
        let c = claim("x", "m", "dense", suites: ["s1", "s2", "s3", "s4"])
        let alone = try XCTUnwrap(ClaimChecker.check(c, suite: "s1", results: results))
        XCTAssertLessThan(try XCTUnwrap(alone.pAbove), ClaimChecker.alpha)
        XCTAssertGreaterThan(try XCTUnwrap(alone.pAbove), ClaimChecker.alpha / 4)
        XCTAssertEqual(alone.verdict, .reproduced)
        let rows = ClaimChecker.checkAll([c], results: results)
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows[0].suite, "s1")
        XCTAssertEqual(rows[0].unadjustedVerdict, .reproduced)
        XCTAssertEqual(rows[0].verdict, .inconclusive)
        XCTAssertEqual(try XCTUnwrap(rows[0].pAboveHolm), 4 * alone.pAbove!, accuracy: 1e-12)
        // A strong row survives the same family.
        var strong = try pair("s1", "m", "dense", [2.0, 2.2, 1.9, 2.1, 2.05])
        for s in ["s2", "s3", "s4"] { strong += try pair(s, "m", "dense", [1.0, -1.0, 0.5, -0.5, 0.0]) }
        XCTAssertEqual(ClaimChecker.checkAll([c], results: strong)[0].verdict, .reproduced)
    }

    func testUnmatchedSeedsAreLeftOutAndNamed() throws {
        var results = try pair("s", "m", "dense", [2.0, 2.2, 1.9])
        results.append(try result("s", "cifar100", "m", 4, score: 10))   // seed 4 only for m
        let v = try XCTUnwrap(ClaimChecker.check(claim("x", "m", "dense", suites: ["s"]), suite: "s", results: results))
        XCTAssertEqual(v.paired?.n, 3)
        XCTAssertEqual(v.paired?.seeds, [1, 2, 3])
        XCTAssertEqual(v.unmatched, ["m": [4]])
    }

    // MARK: Headline average

    func testWNLIIsInTheTableButNotInTheSuiteScore() throws {
        var rs: [CellResult] = []
        for seed in 1...2 {
            rs.append(try result("glue", "sst2", "dense", seed, score: 80))
            rs.append(try result("glue", "rte", "dense", seed, score: 60))
            rs.append(try result("glue", "wnli", "dense", seed, score: seed == 1 ? 10 : 90))
        }
        XCTAssertEqual(Scores.headlineTasks(rs, suite: "glue"), ["sst2", "rte"])
        let s = Scores.suiteScores(rs, suite: "glue", method: "dense")
        XCTAssertEqual(s[1]!, 0.70, accuracy: 1e-12)
        XCTAssertEqual(s[2]!, 0.70, accuracy: 1e-12)
        let d = Scores.headlineDescription(rs, suite: "glue")
        XCTAssertTrue(d.contains("SST-2, RTE (2 tasks)"), d)
        XCTAssertTrue(d.contains("WNLI is in the table but not in the average"), d)
        // A seed missing a headline task has no suite score; one missing only WNLI keeps it.
        rs.removeAll { $0.seed == 2 && $0.task == "rte" }
        rs.removeAll { $0.seed == 1 && $0.task == "wnli" }
        XCTAssertEqual(Array(Scores.suiteScores(rs, suite: "glue", method: "dense").keys), [1])
    }
}
