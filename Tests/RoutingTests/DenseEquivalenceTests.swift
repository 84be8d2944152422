import Routing
import TestSupport
import XCTest

/// One expert, k = 1, no capacity limit: every routed method equals the dense FFN with the
/// same weights, outputs and gradients (the gate is softmax over one expert = 1).
final class DenseEquivalenceTests: XCTestCase {
    let d = 5, h = 7, T = 9

    /// Copies the single expert's weights into a dense FFN (fresh leaves).
    func dense(from layer: Module) -> Dense {
        let p = Dictionary(uniqueKeysWithValues: layer.namedParameters())
        func leaf(_ t: Tensor, _ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: t.scalars, requiresGrad: true)
        }
        return Dense(fc1: Linear(weight: leaf(p["w1"]!, [d, h]), bias: leaf(p["b1"]!, [h])),
                     fc2: Linear(weight: leaf(p["w2"]!, [h, d]), bias: leaf(p["b2"]!, [d])))
    }

    func check(_ layer: Module & FFNLayer, _ label: String, training: Bool = true) {
        var rng = RNG(seed: 11)
        let x = randomTensor([T, d], &rng, -2, 2)
        let seed = randomTensor([T, d], &rng)
        let reference = dense(from: layer)
        var outputs: [[Float]] = [], xGrads: [[Float]] = []
        for model in [layer as FFNLayer, reference as FFNLayer] {
            x.requiresGrad = true
            x.zeroGrad()
            var ctx = RoutingContext(training: training, rng: RNG(seed: 1), sequenceOffsets: [0, T])
            let out = model.forward(x, layer: 0, context: &ctx)
            XCTAssertEqual(out.stats.dropped, 0, label)
            XCTAssertEqual(out.stats.assignedPerUnit, [T], label)
            out.y.backward(seed: seed)
            outputs.append(out.y.scalars)
            xGrads.append(x.grad!.scalars)
        }
        assertClose(outputs[0], outputs[1], atol: 2e-6, "\(label) output")
        assertClose(xGrads[0], xGrads[1], atol: 2e-6, "\(label) dL/dx")
        let routed = Dictionary(uniqueKeysWithValues: layer.namedParameters())
        let pairs: [(String, Tensor)] = [("w1", reference.fc1.weight), ("b1", reference.fc1.bias!),
                                         ("w2", reference.fc2.weight), ("b2", reference.fc2.bias!)]
        for (name, t) in pairs {
            assertClose(routed[name]!.grad!.scalars, t.grad!.scalars, atol: 2e-6, "\(label) dL/d\(name)")
        }
        // The router gets no gradient through a softmax over one expert.
        if let r = routed["router"]?.grad { assertClose(r.scalars, [Float](repeating: 0, count: r.count), atol: 1e-6) }
        layer.zeroGrad()
    }

    func testSwitchWithOneDroplessExpertEqualsDense() throws {
        var rng = RNG(seed: 1)
        let opts = MethodOptions(method: "switch", ["experts": .int(1), "dropless": .bool(true),
                                                    "balance_alpha": .double(0)])
        check(try SwitchTop1(d: d, hidden: h, options: opts, rng: &rng), "switch")
        // With the capacity limit, one expert and at least T slots: the same.
        let capped = MethodOptions(method: "switch", ["experts": .int(1), "capacity_factor_train": .double(1.0)])
        check(try SwitchTop1(d: d, hidden: h, options: capped, rng: &rng), "switch capped")
    }

    func testTopPWithOneExpertEqualsDense() throws {
        var rng = RNG(seed: 2)
        check(try DynamicTopP(d: d, hidden: h, options: MethodOptions(method: "top_p", ["experts": .int(1)]), rng: &rng),
              "top-p")
    }

    func testSurveyVariantsWithOneExpertEqualDense() throws {
        for variant in ["soft", "hard", "hierarchical"] {
            var rng = RNG(seed: 3)
            let opts = MethodOptions(method: "survey", ["variant": .string(variant), "experts": .int(1), "groups": .int(1)])
            check(try SurveyMoE(d: d, hidden: h, options: opts, rng: &rng), variant)
        }
        var rng = RNG(seed: 4)
        let noisy = MethodOptions(method: "survey", ["variant": .string("noisy_topk"), "experts": .int(1), "k": .int(1)])
        check(try SurveyMoE(d: d, hidden: h, options: noisy, rng: &rng), "noisy_topk", training: false)
        check(try SurveyMoE(d: d, hidden: h, options: noisy, rng: &rng), "noisy_topk training")
    }

    func testDenseOptionsStatsAndAnalyticFlops() throws {
        var rng = RNG(seed: 5)
        let options = MethodOptions(method: "dense", ["hidden_scale": .int(2)])
        let layer = try Dense(d: 16, hidden: 32, options: options, rng: &rng)
        XCTAssertEqual(layer.fc1.weight.shape, [16, 64])
        XCTAssertEqual(layer.fc2.weight.shape, [64, 16])
        XCTAssertEqual(layer.parameterCount, 16 * 64 + 64 + 64 * 16 + 16)
        try checkAnalyticFlops(layer, Dense.self, d: 16, hidden: 32, options: options)
        let f = try Dense.forwardFlopsPerToken(d: 16, hidden: 32, options: MethodOptions(method: "dense"), meanExperts: nil)
        XCTAssertEqual(f, FFNFlops(router: 0, expert: Double(4 * 16 * 32 + 2 * 32 + 16)))
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 3])
        let out = layer.forward(randomTensor([3, 16], &rng), layer: 4, context: &ctx)
        XCTAssertEqual(out.stats, LayerStats(layer: 4, assignedPerUnit: [3], routed: 3, chosenHistogram: [0, 3], gateEntropy: 0))
        XCTAssertNil(out.auxLoss)
        XCTAssertThrowsError(try Dense(d: 4, hidden: 8, options: MethodOptions(method: "dense", ["hidden_scale": .int(0)]), rng: &rng))
        XCTAssertThrowsError(try Dense(d: 4, hidden: 8, options: MethodOptions(method: "dense", ["experts": .int(2)]), rng: &rng))
    }
}
