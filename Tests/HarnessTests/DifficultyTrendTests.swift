import Foundation
import Analysis
@testable import Harness
import Routing
import XCTest

/// The length-controlled difficulty estimate on hand-built groups, its pooling over seeds,
/// and the evaluation's level × length record on a hand-built task.
final class DifficultyTrendTests: XCTestCase {
    func testEqualCountLengthBinsKeepTiesTogether() {
        XCTAssertEqual(DifficultyTrend.bins([5, 5, 5, 6, 7, 8, 9, 10], bins: 4), [0, 0, 0, 1, 2, 2, 3, 3])
        XCTAssertEqual(DifficultyTrend.bins([10, 5, 8, 5, 9, 5, 7, 6], bins: 4), [3, 0, 2, 0, 3, 0, 2, 1])
        XCTAssertEqual(DifficultyTrend.bins([32, 32, 32]), [0, 0, 0], "one length, one bin")
    }

    /// Levels crowd into long bins (level l has more examples in bin l); `chosen(level, bin)`.
    func cells(_ chosen: (Int, Int) -> Double) -> [LevelLengthRouting] {
        var out: [LevelLengthRouting] = []
        for bin in 0..<4 {
            for level in 1...3 {
                let n = level == bin || level == bin + 1 ? 40 : 5
                out.append(LevelLengthRouting(set: "dev", level: level, lengthBin: bin, minLength: 10 * bin, maxLength: 10 * bin + 9,
                                              examples: n, meanLength: Double(10 * bin + 4), meanChosen: chosen(level, bin)))
            }
        }
        return out
    }

    func testLengthAloneGivesNoSlopeWithinBins() throws {
        // Experts depend on the length only; harder levels are longer, so the unbinned
        // slope is positive, the length-controlled one zero.
        let e = try XCTUnwrap(DifficultyTrend.estimate(cells { _, bin in 1.5 + 0.1 * Double(bin) }))
        XCTAssertGreaterThan(e.naiveSlope, 0.05)
        XCTAssertEqual(e.slope, 0, accuracy: 1e-12)
        XCTAssertGreaterThan(e.lengthSlope, 5)
        XCTAssertEqual(e.lengthSlopeWithinBins, 0, accuracy: 1e-12)
        XCTAssertEqual(e.examples, cells { _, _ in 0 }.map(\.examples).reduce(0, +))
    }

    func testATrueLevelEffectIsRecoveredWithinBins() throws {
        let e = try XCTUnwrap(DifficultyTrend.estimate(cells { level, bin in 1.5 + 0.1 * Double(bin) + 0.04 * Double(level) }))
        XCTAssertEqual(e.slope, 0.04, accuracy: 1e-12)
        XCTAssertGreaterThan(e.naiveSlope, 0.1)
        // A falling trend comes out negative.
        let f = try XCTUnwrap(DifficultyTrend.estimate(cells { level, bin in 2 + 0.1 * Double(bin) - 0.03 * Double(level) }))
        XCTAssertEqual(f.slope, -0.03, accuracy: 1e-12)
        // No bin with two levels: no estimate.
        XCTAssertNil(DifficultyTrend.estimate(cells { _, _ in 1 }.filter { $0.level == $0.lengthBin + 1 }))
    }

    func testPoolingOverTasksThenSeeds() throws {
        let cells0 = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        var rs: [CellResult] = []
        let slopes: [String: [Double]] = ["sst2": [0.02, 0.04, 0.03], "rte": [0.06, 0.02, 0.05]]
        for (task, perSeed) in slopes {
            for (i, s) in perSeed.enumerated() {
                var r = Fixture.result(cells0[0], metrics: [:])
                r.suite = "glue"; r.task = task; r.method = "topp"; r.seed = i + 1
                r.routingByLevelLength = cells { level, bin in 1.5 + 0.1 * Double(bin) + s * Double(level) }
                rs.append(r)
            }
        }
        // A seed with one task only does not count; a result without the record is ignored.
        var extra = rs[0]; extra.seed = 9; extra.task = "sst2"; rs.append(extra)
        var old = rs[0]; old.method = "top2"; old.routingByLevelLength = nil; rs.append(old)
        let p = try XCTUnwrap(DifficultyTrend.pooled(rs, suite: "glue", method: "topp"))
        XCTAssertEqual(p.tasks, ["rte", "sst2"])
        XCTAssertEqual(p.seeds, [1, 2, 3])
        for (k, e) in [0.04, 0.03, 0.04].enumerated() { XCTAssertEqual(p.perSeed[k], e, accuracy: 1e-12) }
        XCTAssertEqual(p.taskSlope["sst2"]!, 0.03, accuracy: 1e-12)
        XCTAssertEqual(p.taskSlope["rte"]!, 0.13 / 3, accuracy: 1e-12)
        XCTAssertGreaterThan(p.taskNaiveSlope["rte"]!, p.taskSlope["rte"]!)
        let s = try XCTUnwrap(p.summary)
        let ref = try XCTUnwrap(Stats.paired(differences: p.perSeed))
        XCTAssertEqual(s.low, ref.low, accuracy: 1e-12)
        XCTAssertEqual(s.high, ref.high, accuracy: 1e-12)
        XCTAssertNil(DifficultyTrend.pooled(rs, suite: "glue", method: "top2"))
        // The claim row: positive per-seed slopes, tested against 0 and the 0.02 margin.
        let claim = Claim(id: "harder", paper: "p", source: "s", text: "harder", kind: .difficultyTrend, a: "topp", b: nil,
                          suites: ["glue"], expected: nil, expectedHigh: nil, max: nil)
        let v = try XCTUnwrap(ClaimChecker.check(claim, suite: "glue", results: rs))
        XCTAssertEqual(v.upper, ClaimChecker.difficultyMargin)
        XCTAssertEqual(v.paired?.mean ?? 0, 0.11 / 3, accuracy: 1e-12)
        XCTAssertEqual(v.verdict, ref.pAbove(0) < ClaimChecker.alpha ? .reproduced : .inconclusive)
        XCTAssertTrue(v.isTested)
    }

    // MARK: The evaluation's record

    /// One evaluation set of text examples: example i has level `levels[i]`, `lengths[i]`
    /// tokens, and every token of it chooses `chosen[i]` experts.
    final class FakeTask: PreparedTask {
        let levels: [Int], lengths: [Int], chosen: [Int]
        init(levels: [Int], lengths: [Int], chosen: [Int]) { self.levels = levels; self.lengths = lengths; self.chosen = chosen }
        var trainCount: Int { 0 }
        func modelConfig(_ spec: ModelSpec) -> ModelConfig { fatalErrorForTests() }
        func trainBatch(_ indices: [Int], rng: inout RNG) -> Batch { fatalErrorForTests() }
        var evalSets: [EvalSet] { [EvalSet(name: "dev", count: levels.count, levels: levels)] }
        func evalBatch(set: Int, _ indices: [Int]) -> Batch {
            Batch(input: .text(tokens: indices.map { [Int](repeating: 1, count: lengths[$0]) }, segments: nil),
                  targets: .classes(indices.map { _ in 0 }))
        }
        func metrics(_ predictions: [[Prediction]]) -> [String: Double] { ["accuracy": 1] }
        func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double { 1 }
        func fatalErrorForTests() -> Never { preconditionFailure("not used by the evaluation") }
    }

    func testEvaluationRecordsExpertsPerLevelAndLengthBin() throws {
        // 48 examples: lengths 4...19 (3 of each), levels cycling 1, 2, 3; experts per token
        // 1 below length 12, 3 from 12 on, plus one more at level 3.
        let lengths = (0..<48).map { 4 + $0 / 3 }
        let levels = (0..<48).map { 1 + $0 % 3 }
        let chosen = (0..<48).map { (lengths[$0] >= 12 ? 3 : 1) + (levels[$0] == 3 ? 1 : 0) }
        let task = FakeTask(levels: levels, lengths: lengths, chosen: chosen)
        var calls = 0
        let ev = try evaluate(task) { _, chunk, _ in
            calls += 1
            var hist = [Int](repeating: 0, count: 5)
            for i in chunk { hist[chosen[i]] += lengths[i] }
            let tokens = chunk.map { lengths[$0] }.reduce(0, +)
            let stats = [LayerStats(layer: 0, assignedPerUnit: [tokens, tokens], routed: tokens, chosenHistogram: hist, gateEntropy: 0)]
            return (stats, 0, chunk.map { _ in Prediction.label(0, scores: [1]) })
        }
        XCTAssertEqual(ev.metrics, ["accuracy": 1])
        let rec = try XCTUnwrap(ev.routingByLevelLength)
        XCTAssertEqual(rec.map(\.examples).reduce(0, +), 48)
        XCTAssertEqual(Set(rec.map(\.lengthBin)).count, DifficultyTrend.lengthBins)
        for c in rec {
            let idx = (0..<48).filter { levels[$0] == c.level && DifficultyTrend.bins(lengths)[$0] == c.lengthBin }
            XCTAssertEqual(c.examples, idx.count)
            let tokens = idx.map { lengths[$0] }.reduce(0, +)
            let want = Double(idx.map { lengths[$0] * chosen[$0] }.reduce(0, +)) / Double(tokens)
            XCTAssertEqual(c.meanChosen, want, accuracy: 1e-12)
            XCTAssertEqual(c.minLength, idx.map { lengths[$0] }.min()!)
            XCTAssertEqual(c.meanLength, Stats.mean(idx.map { Double(lengths[$0]) }), accuracy: 1e-12)
        }
        // The level-3 step survives length binning: one expert per two levels... measured as
        // the within-bin slope of (level 3 gets +1) on levels 1, 2, 3.
        let e = try XCTUnwrap(DifficultyTrend.estimate(rec))
        XCTAssertGreaterThan(e.slope, 0.3)
        XCTAssertLessThan(e.slope, 0.7)
        // The main pass (3 levels, one batch each) plus one batch per (level, bin) group.
        XCTAssertEqual(calls, 3 + rec.count)
        // A model without routed layers gets no record.
        let dense = try evaluate(task) { _, chunk, _ in
            ([LayerStats(layer: 0, assignedPerUnit: [1], routed: 1, chosenHistogram: [0, 1], gateEntropy: 0)], 0,
             chunk.map { _ in Prediction.label(0, scores: [1]) })
        }
        XCTAssertNil(dense.routingByLevelLength)
    }
}
