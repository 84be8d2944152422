// Reference fixtures (Fixtures/ops_a_reference.json) are written in float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class PointwiseReduceTests: XCTestCase {
    struct Reference: Decodable {
        struct SoftmaxCase: Decodable { let shape: [Int]; let x: [Float]; let softmax: [Float]; let log_softmax: [Float] }
        struct LayerNormCase: Decodable { let shape: [Int]; let x: [Float]; let gamma: [Float]; let beta: [Float]; let eps: Float; let y: [Float] }
        struct GeluCase: Decodable { let x: [Float]; let y: [Float]; let dy: [Float] }
        let softmax: SoftmaxCase
        let layer_norm: LayerNormCase
        let gelu: GeluCase
    }

    func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ops_a_reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testPointwiseGradients() {
        var rng = RNG(seed: 11)
        for shape in [[1], [3, 5], [2, 1, 3]] {
            let x = randomTensor(shape, &rng, -2, 2)
            let pos = randomTensor(shape, &rng, 0.5, 2)
            checkGradients([x], "exp") { $0[0].exp() }
            checkGradients([pos], "log") { $0[0].log() }
            checkGradients([x], "tanh") { $0[0].tanh() }
            checkGradients([x], "gelu") { $0[0].gelu() }
            checkGradients([x], "sigmoid") { $0[0].sigmoid() }
            checkGradients([x], "softplus") { $0[0].softplus() }
            checkGradients([x], "square") { $0[0].square() }
            checkGradients([pos], "sqrt") { $0[0].sqrt() }
            // ReLU away from its kink.
            let r = Tensor(shape: shape, scalars: x.scalars.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 })
            checkGradients([r], "relu") { $0[0].relu() }
        }
    }

    func testPointwiseValues() throws {
        let x = Tensor(shape: [4], scalars: [-2, 0, 1, 50])
        assertClose(x.relu(), [0, 0, 1, 50])
        assertClose(x.sigmoid(), [0.11920292, 0.5, 0.7310586, 1])
        assertClose(x.softplus(), [0.12692805, 0.6931472, 1.3132616, 50])
        assertClose(Tensor(shape: [1], scalars: [-100]).softplus(), [0], atol: 1e-30)
        let ref = try reference().gelu
        let g = Tensor(shape: [ref.x.count], scalars: ref.x)
        g.requiresGrad = true
        let y = g.gelu()
        assertClose(y, ref.y, atol: 1e-6, rtol: 1e-5)
        y.sum().backward()
        assertClose(g.grad!.scalars, ref.dy, atol: 1e-6, rtol: 1e-5)
    }

    func testReductions() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
        assertClose(x.sum(), [21])
        XCTAssertEqual(x.sum().shape, [])
        assertClose(x.mean(), [3.5])
        assertClose(x.sum(axis: 0), [5, 7, 9])
        assertClose(x.sum(axis: -1, keepDims: true), [9, 12])
        XCTAssertEqual(x.sum(axis: 1, keepDims: true).shape, [2, 1])
        assertClose(x.mean(axis: 1), [3, 4])
        assertClose(x.max(axis: 1), [5, 6])
        assertClose(x.max(axis: 0), [4, 5, 6])
        assertClose(x.logSumExp(axis: 1), [Float(Foundation.log(exp(1.0) + exp(5.0) + exp(3.0))), Float(Foundation.log(exp(4.0) + exp(2.0) + exp(6.0)))])
        // max: the gradient goes to the first maximal element.
        let t = Tensor(shape: [1, 3], scalars: [2, 7, 7], requiresGrad: true)
        t.max(axis: 1).sum().backward()
        assertClose(t.grad!, [0, 1, 0])
    }

    func testReductionGradients() {
        var rng = RNG(seed: 12)
        for shape in [[1], [3], [2, 3, 4], [5, 1]] {
            let x = randomTensor(shape, &rng)
            checkGradients([x], "sum") { $0[0].sum() }
            checkGradients([x], "mean") { $0[0].mean() }
            // Distinct values at least 0.1 apart keep max away from its kinks.
            let n = shape.reduce(1, *)
            let spread = Tensor(shape: shape, scalars: rng.permutation(n).map { Float($0) * 0.1 - 1 })
            for axis in 0..<shape.count {
                checkGradients([x], "sum axis \(axis)") { $0[0].sum(axis: axis) }
                checkGradients([x], "mean axis \(axis)") { $0[0].mean(axis: axis, keepDims: true) }
                checkGradients([spread], "max axis \(axis)") { $0[0].max(axis: axis) }
                checkGradients([x], "logSumExp axis \(axis)") { $0[0].logSumExp(axis: axis) }
            }
        }
    }

    func testSoftmaxStableAgainstReference() throws {
        let ref = try reference().softmax
        let x = Tensor(shape: ref.shape, scalars: ref.x)
        assertClose(x.softmax(), ref.softmax, atol: 1e-6, rtol: 1e-5)
        assertClose(x.logSoftmax(), ref.log_softmax, atol: 1e-4, rtol: 1e-6)
        XCTAssertTrue(x.softmax().scalars.allSatisfy(\.isFinite))
        // A fully masked row gives zeros (softmax) without NaN.
        let masked = Tensor(shape: [1, 2], scalars: [-.infinity, -.infinity])
        assertClose(masked.softmax(), [0, 0])
    }

    func testSoftmaxGradients() {
        var rng = RNG(seed: 13)
        for shape in [[1, 1], [3, 4], [2, 3, 5]] {
            let x = randomTensor(shape, &rng, -2, 2)
            for axis in [-1, 0] {
                checkGradients([x], "softmax \(shape) axis \(axis)") { $0[0].softmax(axis: axis) }
                checkGradients([x], "logSoftmax \(shape) axis \(axis)") { $0[0].logSoftmax(axis: axis) }
            }
        }
    }

    func testLayerNorm() throws {
        let ref = try reference().layer_norm
        let x = Tensor(shape: ref.shape, scalars: ref.x)
        let y = layerNorm(x, Tensor(shape: [ref.gamma.count], scalars: ref.gamma), Tensor(shape: [ref.beta.count], scalars: ref.beta), eps: ref.eps)
        assertClose(y, ref.y, atol: 1e-5, rtol: 1e-4)
        var rng = RNG(seed: 14)
        for shape in [[1, 1], [3, 5], [2, 2, 7]] {
            let n = shape.last!
            let a = randomTensor(shape, &rng, -2, 2), g = randomTensor([n], &rng, 0.5, 1.5), b = randomTensor([n], &rng)
            checkGradients([a, g, b], "layerNorm \(shape)") { layerNorm($0[0], $0[1], $0[2]) }
        }
    }

    func testDropout() {
        var rng = RNG(seed: 15)
        let x = Tensor(shape: [20_000], repeating: 1)
        var r1 = RNG(seed: 5), r2 = RNG(seed: 5)
        let a = dropout(x, p: 0.3, rng: &r1, training: true), b = dropout(x, p: 0.3, rng: &r2, training: true)
        XCTAssertEqual(a.scalars, b.scalars, "same RNG state, same mask")
        let zeros = a.scalars.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 20_000, 0.3, accuracy: 0.015)
        XCTAssertEqual(Double(a.scalars.reduce(0, +)) / 20_000, 1, accuracy: 0.03, "expectation preserved")
        XCTAssertTrue(a.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        XCTAssertTrue(dropout(x, p: 0.3, rng: &rng, training: false) === x, "identity in evaluation")
        let y = randomTensor([4, 3], &rng)
        checkGradients([y], "dropout") { inputs in
            var r = RNG(seed: 9)
            return dropout(inputs[0], p: 0.5, rng: &r, training: true)
        }
    }

    func testCrossEntropyAndMSE() {
        // Row 0: logits [0, ln 3] -> p = [1/4, 3/4], label 1 -> −ln(3/4).
        // Row 1: logits [2, 2]    -> p = [1/2, 1/2], label 0 -> ln 2.
        // Row 2: ignored.
        let logits = Tensor(shape: [3, 2], scalars: [0, Float(Foundation.log(3.0)), 2, 2, 5, -5], requiresGrad: true)
        let loss = crossEntropy(logits, labels: [1, 0, -100], ignoreIndex: -100)
        XCTAssertEqual(loss.item, Float((-Foundation.log(0.75) + Foundation.log(2.0)) / 2), accuracy: 1e-6)
        loss.backward()
        assertClose(logits.grad!, [0.125, -0.125, -0.25, 0.25, 0, 0], atol: 1e-6)
        XCTAssertEqual(crossEntropy(logits, labels: [-1, -1, -1], ignoreIndex: -1).item, 0)
        var rng = RNG(seed: 16)
        let l = randomTensor([4, 5], &rng, -2, 2)
        checkGradients([l], "crossEntropy") { crossEntropy($0[0], labels: [0, 4, 2, 2]) }
        let p = Tensor(shape: [3], scalars: [1, 2, 3]), t = Tensor(shape: [3], scalars: [1, 0, 5])
        XCTAssertEqual(mseLoss(p, t).item, 8.0 / 3, accuracy: 1e-6)
        checkGradients([randomTensor([2, 3], &rng), randomTensor([2, 3], &rng)], "mse") { mseLoss($0[0], $0[1]) }
    }

    func testFlopCounts() {
        let x = Tensor(shape: [4, 8], repeating: 0.5)
        let c = FlopCounter()
        Flops.counting(into: c) {
            Autograd.noGrad {
                _ = x.softmax()
                _ = x.gelu()
                _ = layerNorm(x, Tensor(shape: [8], repeating: 1), Tensor(zeros: [8]))
            }
        }
        XCTAssertEqual(c.forwardTotal, 5 * 32 + 32 + 8 * 32)
        XCTAssertEqual(c.backwardTotal, 0)
    }
}
