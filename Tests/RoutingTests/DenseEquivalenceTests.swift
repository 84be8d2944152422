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
}
