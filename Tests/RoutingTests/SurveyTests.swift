import Foundation
import Routing
import TestSupport
import XCTest

/// The survey's variants: soft, noisy top-k, hierarchical and hard gating, and the entropy
/// and variance regularisers.
final class SurveyTests: XCTestCase {
    let d = 4, h = 6

    func make(_ values: [String: OptionValue], seed: UInt64 = 1) throws -> SurveyMoE {
        var rng = RNG(seed: seed)
        return try SurveyMoE(d: d, hidden: h, options: MethodOptions(method: "survey", values), rng: &rng)
    }

    func row(_ x: Tensor, _ t: Int) -> [Float] { Array(x.scalars[(t * d)..<(t * d + d)]) }

    func testSoftMixesEveryExpert() throws {
        let layer = try make(["variant": .string("soft"), "experts": .int(3)])
        var rng = RNG(seed: 2)
        let x = randomTensor([5, d], &rng)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 5])
        let out = layer.forward(x, layer: 0, context: &ctx)
        let p = softmaxRows(x, layer.router)
        for t in 0..<5 {
            var expected = [Double](repeating: 0, count: d)
            for e in 0..<3 {
                let y = expertOutput(layer.expertWeights, expert: e, row(x, t))
                for k in 0..<d { expected[k] += p[t][e] * y[k] }
            }
            assertClose(row(out.y, t), expected.map { Float($0) }, atol: 1e-5)
        }
        XCTAssertEqual(out.stats.chosenHistogram, [0, 0, 0, 5])
        XCTAssertEqual(out.stats.assignedPerUnit, [5, 5, 5])
        XCTAssertNil(out.auxLoss)
    }

    func testHardUsesAGateOfExactlyOneWithStraightThroughGradient() throws {
        let layer = try make(["variant": .string("hard"), "experts": .int(3)])
        var rng = RNG(seed: 3)
        let x = randomTensor([6, d], &rng, -2, 2)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 6])
        let out = layer.forward(x, layer: 0, context: &ctx)
        let p = softmaxRows(x, layer.router)
        for t in 0..<6 {
            let e = (0..<3).max { p[t][$0] < p[t][$1] }!
            let y = expertOutput(layer.expertWeights, expert: e, row(x, t))
            assertClose(row(out.y, t), y.map { Float($0) }, atol: 1e-5, "token \(t)")
        }
        // dL/dp_e = <dL/dy, Expert_e(x)> reaches the router although the forward gate is 1.
        // Switch (no capacity, no balance loss) computes y = p_e · Expert_e(x), whose
        // router gradient is the same chain through the same dL/dp_e = <dL/dy, Expert_e(x)>.
        var wrng = RNG(seed: 1)
        let switchLayer = try SwitchTop1(d: d, hidden: h, options: MethodOptions(method: "switch",
            ["experts": .int(3), "dropless": .bool(true), "balance_alpha": .double(0)]), rng: &wrng)
        for (a, b) in [(switchLayer.router, layer.router), (switchLayer.w1, layer.w1), (switchLayer.b1, layer.b1),
                       (switchLayer.w2, layer.w2), (switchLayer.b2, layer.b2)] {
            a.data.update(from: b.data, count: a.count)
        }
        let seed = randomTensor([6, d], &rng)
        layer.zeroGrad()
        layer.forward(x, layer: 0, context: &ctx).y.backward(seed: seed)
        switchLayer.forward(x, layer: 0, context: &ctx).y.backward(seed: seed)
        assertClose(layer.router.grad!.scalars, switchLayer.router.grad!.scalars, atol: 1e-5, rtol: 1e-3)
        XCTAssertGreaterThan(layer.router.grad!.scalars.map { abs($0) }.max()!, 1e-3)
    }

    func testNoisyTopKKeepsKAndAddsNoiseOnlyInTraining() throws {
        let layer = try make(["variant": .string("noisy_topk"), "experts": .int(4), "k": .int(2)])
        var rng = RNG(seed: 4)
        let x = randomTensor([8, d], &rng)
        var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, 8])
        let eval = layer.forward(x, layer: 0, context: &ctx)
        XCTAssertEqual(eval.stats.chosenHistogram, [0, 0, 8, 0, 0])
        // Evaluation: softmax over the two largest clean logits.
        let p = softmaxRows(x, layer.router)
        for t in 0..<8 {
            let order = (0..<4).sorted { p[t][$0] > p[t][$1] || (p[t][$0] == p[t][$1] && $0 < $1) }
            let (e1, e2) = (order[0], order[1])
            let s = p[t][e1] + p[t][e2]
            let y1 = expertOutput(layer.expertWeights, expert: e1, row(x, t))
            let y2 = expertOutput(layer.expertWeights, expert: e2, row(x, t))
            assertClose(row(eval.y, t), (0..<d).map { Float((p[t][e1] * y1[$0] + p[t][e2] * y2[$0]) / s) }, atol: 1e-5)
        }
        XCTAssertEqual(layer.forward(x, layer: 0, context: &ctx).y.scalars, eval.y.scalars)
        ctx.training = true
        let a = layer.forward(x, layer: 0, context: &ctx).y.scalars
        let b = layer.forward(x, layer: 0, context: &ctx).y.scalars
        XCTAssertNotEqual(a, eval.y.scalars)
        XCTAssertNotEqual(a, b, "fresh noise per call")
        // The noise weights learn through softplus.
        layer.zeroGrad()
        layer.forward(x, layer: 0, context: &ctx).y.sum().backward()
        XCTAssertGreaterThan(layer.noiseWeight!.grad!.scalars.map { abs($0) }.max()!, 0)
    }

    func testHierarchicalPicksAGroupThenAnExpertInside() throws {
        let layer = try make(["variant": .string("hierarchical"), "experts": .int(4), "groups": .int(2),
                              "regularizer": .string("entropy"), "reg_weight": .double(0.5)])
        var rng = RNG(seed: 5)
        let x = randomTensor([10, d], &rng, -2, 2)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 10])
        let out = layer.forward(x, layer: 0, context: &ctx)
        let q = softmaxRows(x, layer.groupRouter!)
        let xs = x.scalars, wr = layer.router.scalars
        var entropy = 0.0
        for t in 0..<10 {
            let g = q[t][0] >= q[t][1] ? 0 : 1
            // Within-group softmax of the group's two expert logits.
            var l = [Double](repeating: 0, count: 4)
            for e in 0..<4 { for k in 0..<d { l[e] += Double(xs[t * d + k]) * Double(wr[k * 4 + e]) } }
            var r = [Double](repeating: 0, count: 4)
            for gg in 0..<2 {
                let z = exp(l[2 * gg]) + exp(l[2 * gg + 1])
                r[2 * gg] = exp(l[2 * gg]) / z
                r[2 * gg + 1] = exp(l[2 * gg + 1]) / z
            }
            let e = r[2 * g] >= r[2 * g + 1] ? 2 * g : 2 * g + 1
            let y = expertOutput(layer.expertWeights, expert: e, row(x, t))
            assertClose(row(out.y, t), y.map { Float(q[t][g] * r[e] * $0) }, atol: 1e-5, "token \(t)")
            for e in 0..<4 { let j = q[t][e / 2] * r[e]; entropy -= j * log(j) }
        }
        XCTAssertEqual(out.stats.gateEntropy, entropy / 10, accuracy: 1e-5)
        XCTAssertEqual(out.stats.aux["entropy"]!, 0.5 * entropy / 10, accuracy: 1e-5)
        checkGradients([x, layer.router, layer.groupRouter!, layer.w1], step: 1e-3, atol: 3e-3) { _ in
            var c = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 10])
            let o = layer.forward(x, layer: 0, context: &c)
            return o.y.sum() + o.auxLoss!
        }
    }

    func testVarianceRegulariserOnGateMass() throws {
        let layer = try make(["variant": .string("soft"), "experts": .int(3), "regularizer": .string("variance"),
                              "reg_weight": .double(2)])
        var rng = RNG(seed: 6)
        let x = randomTensor([7, d], &rng, -2, 2)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 7])
        let out = layer.forward(x, layer: 0, context: &ctx)
        let p = softmaxRows(x, layer.router)
        let c = (0..<3).map { e in p.reduce(0.0) { $0 + $1[e] } }
        let n = c.reduce(0, +)
        let expected = 2 * c.reduce(0.0) { $0 + ($1 / n - 1.0 / 3) * ($1 / n - 1.0 / 3) }
        XCTAssertEqual(out.stats.aux["variance"]!, expected, accuracy: 1e-6)
        checkGradients([layer.router], step: 1e-2) { _ in
            var c = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 7])
            return layer.forward(x, layer: 0, context: &c).auxLoss!
        }
    }

    func testGradientsOfEachVariant() throws {
        for variant in ["soft", "hard", "noisy_topk"] {
            let layer = try make(["variant": .string(variant), "experts": .int(3), "k": .int(2),
                                  "regularizer": .string("entropy")])
            var rng = RNG(seed: 7)
            for i in 0..<(d * 3) { layer.router.data[i] = (i % 3 == i / 3 ? 3 : 0) + rng.uniform(-0.2, 0.2) }
            let x = Tensor(shape: [4, d], scalars: [1, 0, 0, 0.2, 0, 1, 0.3, 0, 0.4, 0.2, 1, 0, 0.9, 0.1, 0, 0.1])
            // The hard gate's straight-through gradient is by design not the derivative of its
            // forward pass (the gate is constant): finite differences check its experts only.
            let inputs = variant == "hard" ? [layer.w1, layer.b1, layer.w2, layer.b2] : [x, layer.router, layer.w1, layer.b2]
            checkGradients(inputs, step: 1e-2, atol: 3e-3, variant) { _ in
                // Evaluation mode: noisy top-k without noise, a smooth function of the inputs.
                var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, 4])
                let o = layer.forward(x, layer: 0, context: &ctx)
                return o.y.sum() + o.auxLoss!
            }
        }
    }

    func testLossFallsOnARegressionTaskForEveryVariant() throws {
        for variant in ["soft", "noisy_topk", "hierarchical", "hard"] {
            var rng = RNG(seed: 8)
            let layer = try SurveyMoE(d: 6, hidden: 16, options: MethodOptions(method: "survey",
                ["variant": .string(variant), "experts": .int(4), "regularizer": .string("variance")]), rng: &rng)
            let (first, last) = trainRegression(layer, d: 6, steps: 150)
            XCTAssertLessThan(last, 0.3 * first, "\(variant): task loss \(first) -> \(last)")
        }
    }

    func testAnalyticFlopsMatchTheEngine() throws {
        for values: [String: OptionValue] in [
            ["variant": .string("soft"), "experts": .int(4)],
            ["variant": .string("hard"), "experts": .int(4), "regularizer": .string("entropy")],
            ["variant": .string("noisy_topk"), "experts": .int(8), "k": .int(3), "regularizer": .string("variance")],
            ["variant": .string("hierarchical"), "experts": .int(8), "groups": .int(4), "regularizer": .string("entropy")],
        ] {
            let options = MethodOptions(method: "survey", values)
            var rng = RNG(seed: 1)
            let layer = try SurveyMoE(d: 16, hidden: 32, options: options, rng: &rng)
            try checkAnalyticFlops(layer, SurveyMoE.self, d: 16, hidden: 32, options: options)
        }
    }

    func testOptionValidation() {
        var rng = RNG(seed: 1)
        for (key, value, extra) in [("variant", OptionValue.string("sparse"), [String: OptionValue]()),
                                    ("k", .int(5), ["variant": .string("noisy_topk"), "experts": .int(4)]),
                                    ("groups", .int(3), ["variant": .string("hierarchical"), "experts": .int(4)]),
                                    ("regularizer", .string("l2"), [:]), ("reg_weight", .double(-1), [:])] {
            var values = extra
            values[key] = value
            XCTAssertThrowsError(try SurveyMoE(d: 4, hidden: 8, options: MethodOptions(method: "survey", values), rng: &rng)) {
                XCTAssertEqual(($0 as? OptionError)?.key, key)
            }
        }
    }
}
