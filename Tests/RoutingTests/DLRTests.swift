import Foundation
import Routing
import TestSupport
import XCTest

/// DLR (the suite's reading of the abstract): top-p selection over blocks, the two-level
/// weights and mixing formula on hand-built blocks, each block evaluated once, gradients
/// reaching both gates and the task embedding (also by finite differences), the parameter
/// overhead, and training.
final class DLRTests: XCTestCase {
    func testSelectionSetSizes() {
        // At tau: 0.5 is not strictly greater than 0.5, so the second block joins.
        XCTAssertEqual(DLR.selectBlocks([0.5, 0.3, 0.2], tau: 0.5, kMax: 2), [0, 1])
        // Under: 0.4 < 0.5, then 0.75 > 0.5.
        XCTAssertEqual(DLR.selectBlocks([0.25, 0.35, 0.4], tau: 0.5, kMax: 2), [2, 1])
        // Over: the top block alone crosses tau.
        XCTAssertEqual(DLR.selectBlocks([0.1, 0.7, 0.2], tau: 0.5, kMax: 2), [1])
        // Cap: a flat gate would need three blocks; k_max = 2 stops at two.
        XCTAssertEqual(DLR.selectBlocks([0.2, 0.2, 0.2, 0.2, 0.2], tau: 0.5, kMax: 2), [0, 1])
        XCTAssertEqual(DLR.selectBlocks([0.2, 0.2, 0.2, 0.2, 0.2], tau: 0.5, kMax: nil), [0, 1, 2])
        XCTAssertEqual(DLR.selectBlocks([0.2, 0.2, 0.2, 0.2, 0.2], tau: 0.5, kMax: 1), [0])
        // tau = 0 always keeps exactly one block; ties go to the lower index.
        XCTAssertEqual(DLR.selectBlocks([0.3, 0.4, 0.3], tau: 0, kMax: 2), [1])
        XCTAssertEqual(DLR.selectBlocks([0.4, 0.2, 0.4], tau: 0.5, kMax: 2), [0, 2])
    }

    /// The whole mixing step against the formula computed here in float64 with hand-built
    /// "blocks" `Block_j(h) = (j + 1)·h + j`.
    func testMixingFormulaOnHandBuiltBlocks() throws {
        let d = 3, L = 3, taskDim = 2
        var rng = RNG(seed: 1)
        let dlr = try DLR(d: d, blocks: L, options: MethodOptions(method: "dlr", ["task_dim": .int(taskDim), "tasks": .int(2),
                                                                                   "temperature": .double(0.5)]), rng: &rng)
        for t in [dlr.sequenceGates[0], dlr.tokenGates[0]] { for k in 0..<t.count { t.data[k] *= 2 } }
        let batch = PaddedBatch(lengths: [3, 1, 2, 3], length: 3)
        let h = Tensor.randn([4, 3, d], rng: &rng)
        var calls: [(Int, Int)] = []
        let ev = BlockEvaluator(input: h, batch: batch, blockCount: L) { j, x, b, _ in
            calls.append((j, b.batchSize))
            return (x * Float(j + 1) + Float(j), nil)
        }
        var ctx = Fixture.context(task: 1)
        let i = 1
        let out = dlr.mix(h, block: i, blocks: ev, context: &ctx)

        // Reference.
        let ws = dlr.sequenceGates[0].scalars.map(Double.init), wt = dlr.tokenGates[0].scalars.map(Double.init)
        let e = (0..<taskDim).map { Double(dlr.taskEmbedding.data[1 * taskDim + $0]) }
        func hv(_ b: Int, _ t: Int, _ c: Int) -> Double { Double(h.data[(b * 3 + t) * d + c]) }
        var expected: [Float] = []
        var sets: [[Int]] = []
        var evaluations = 4
        for b in 0..<4 {
            let n = batch.lengths[b]
            var z = [Double](repeating: 0, count: d + taskDim)
            for c in 0..<d { for t in 0..<n { z[c] += hv(b, t, c) / Double(n) } }
            for c in 0..<taskDim { z[d + c] = e[c] }
            var logits = [Double](repeating: 0, count: L)
            for l in 0..<L { for c in 0..<(d + taskDim) { logits[l] += z[c] * ws[c * L + l] }; logits[l] /= 0.5 }
            let m = logits.max()!, ex = logits.map { Foundation.exp($0 - m) }, s = ex.reduce(0, +)
            let q = ex.map { $0 / s }
            let S = DLR.selectBlocks(q.map(Float.init), tau: 0.5, kMax: 2)
            sets.append(S)
            evaluations += S.filter { $0 != i }.count
            for t in 0..<n {
                var tl = [Double](repeating: 0, count: L)
                for l in 0..<L { for c in 0..<d { tl[l] += hv(b, t, c) * wt[c * L + l] } }
                let mm = S.map { tl[$0] }.max()!, es = S.map { Foundation.exp(tl[$0] - mm) }, zs = es.reduce(0, +)
                for c in 0..<d {
                    let x = hv(b, t, c)
                    var mix = 0.0
                    for (k, j) in S.enumerated() { mix += q[j] * es[k] / zs * (Double(j + 1) * x + Double(j)) }
                    expected.append(Float(0.9 * (Double(i + 1) * x + Double(i)) + 0.1 * mix))
                }
            }
        }
        XCTAssertEqual(out.stats.chosenBlocks, sets)
        XCTAssertTrue(sets.contains { $0.count == 2 } && sets.contains { $0.count == 1 }, "want both set sizes: \(sets)")
        XCTAssertTrue(sets.contains { $0.contains(i) }, "want a set that contains i: \(sets)")
        assertClose(batch.gatherTokens(out.y).scalars, expected, atol: 1e-5, rtol: 1e-4)
        // Block i once on everything, every other chosen block once on its sequences.
        XCTAssertEqual(calls[0].0, i)
        XCTAssertEqual(calls[0].1, 4)
        XCTAssertEqual(Set(calls.map(\.0)).count, calls.count, "a block evaluated twice")
        XCTAssertEqual(ev.evaluationCount, evaluations)
        XCTAssertEqual(out.stats.chosenHistogram.reduce(0, +), 4)
        XCTAssertEqual(out.stats.routed, 4)
    }

    func testGradientsReachBothGatesAndTheTaskEmbedding() throws {
        var rng = RNG(seed: 2)
        let bb = try Backbone(config: Fixture.config(depth: 3), method: "dlr",
                              options: ["tasks": .int(3), "tau": .double(0.8)], rng: &rng)
        let dlr = bb.mixer as! DLR
        var ctx = Fixture.context(task: 1)
        let batch = PaddedBatch(lengths: [4, 2, 3])
        let out = bb(Tensor.randn([3, 4, 8], rng: &rng), batch: batch, context: &ctx)
        Fixture.weightedSum(batch.gatherTokens(out.hidden)).backward()   // task loss only
        XCTAssertTrue(Fixture.hasGradient(dlr.sequenceGates[0]))
        XCTAssertTrue(Fixture.hasGradient(dlr.tokenGates[0]), "\(out.stats.map { $0.chosenBlocks! })")
        let ge = dlr.taskEmbedding.grad?.scalars ?? [Float](repeating: 0, count: 48)
        XCTAssertTrue(ge[16..<32].contains { $0 != 0 }, "task 1's embedding")
        XCTAssertTrue(ge[0..<16].allSatisfy { $0 == 0 } && ge[32..<48].allSatisfy { $0 == 0 }, "other tasks untouched")
        XCTAssertTrue(out.stats.allSatisfy { $0.aux["balance"] != nil && $0.aux["entropy"] != nil })

        // With |S| = 1 everywhere (tau = 0) the sequence gate still learns from the task loss.
        var r2 = RNG(seed: 3)
        let one = try Backbone(config: Fixture.config(), method: "dlr", options: ["tau": .double(0)], rng: &r2)
        var c2 = Fixture.context()
        let o2 = one(Tensor.randn([2, 3, 8], rng: &r2), batch: PaddedBatch(lengths: [3, 3]), context: &c2)
        XCTAssertTrue(o2.stats.allSatisfy { $0.chosenHistogram[1] == 2 })
        Fixture.weightedSum(o2.hidden).backward()
        XCTAssertTrue(Fixture.hasGradient((one.mixer as! DLR).sequenceGates[0]))
    }

    /// Finite differences through one mixing step (gates, task embedding, input), with
    /// smooth hand-built blocks `Block_j(h) = (j + 1)·h + j·h²` and the selection held fixed
    /// (the inputs are chosen so that no perturbation flips a set).
    func testFiniteDifferenceGradients() throws {
        var rng = RNG(seed: 4)
        let dlr = try DLR(d: 3, blocks: 3, options: MethodOptions(method: "dlr", ["task_dim": .int(2), "tasks": .int(1)]), rng: &rng)
        let h = Tensor.randn([2, 3, 3], rng: &rng)
        let batch = PaddedBatch(lengths: [3, 2], length: 3)
        var sets: [[[Int]]] = []
        checkGradients([h, dlr.sequenceGates[0], dlr.tokenGates[0], dlr.taskEmbedding], step: 1e-3, atol: 3e-3, rtol: 3e-2) { _ in
            let ev = BlockEvaluator(input: h, batch: batch, blockCount: 3) { j, x, _, _ in
                (x * Float(j + 1) + x * x * Float(j), nil)
            }
            var ctx = Fixture.context()
            let out = dlr.mix(h, block: 0, blocks: ev, context: &ctx)
            sets.append(out.stats.chosenBlocks!)
            return Tensor.concat([batch.gatherTokens(out.y).reshaped([-1]), out.auxLoss!.reshaped([1]) * 100], axis: 0)
        }
        XCTAssertEqual(Set(sets.map { "\($0)" }).count, 1, "a perturbation changed the selection")
    }

    func testParameterOverheadIsUnderOnePercent() throws {
        for kind in FrontEndKind.allCases {
            var rng = RNG(seed: 5)
            let head: HeadKind = kind == .speech ? .ctc(vocabulary: 29) : .classification(classes: kind == .image ? 100 : 2)
            let cfg = ModelConfig(frontEnd: kind, backbone: BackboneConfig(maxLength: kind == .image ? 65 : 64), head: head)
            let model = try Model(config: cfg, method: "dlr", rng: &rng)
            let overhead = model.backbone.mixer!.parameterCount
            XCTAssertEqual(overhead, (64 + 16) * 4 + 64 * 4 + 11 * 16)
            XCTAssertLessThan(Double(overhead) / Double(model.parameterCount), 0.01, "\(kind)")
        }
    }

    func testOptionsAreValidated() {
        var rng = RNG(seed: 6)
        for bad: [String: OptionValue] in [["tau": .double(1)], ["k_max": .int(0)], ["temperature": .double(0)],
                                           ["tasks": .int(0)], ["mystery": .bool(true)]] {
            XCTAssertThrowsError(try DLR(d: 4, blocks: 2, options: MethodOptions(method: "dlr", bad), rng: &rng), "\(bad)")
        }
        XCTAssertNil(try DLR(d: 4, blocks: 2, options: MethodOptions(method: "dlr", ["k_max": .string("none")]), rng: &rng).kMax)
        XCTAssertEqual(try DLR(d: 4, blocks: 2, options: MethodOptions(method: "dlr"), rng: &rng).kMax, 2)
    }

    func testTrains() throws {
        let (first, last) = try TinyTask.train(method: "dlr", options: [:], steps: 120)
        XCTAssertLessThan(last, 0.5 * first, "loss \(first) -> \(last)")
    }
}
