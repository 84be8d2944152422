// Cross-entropy reference (large logits, an ignored row) in Fixtures/ops_a_reference.json is
// written in float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class LossTests: XCTestCase {
    func testCrossEntropyHandComputedWithIgnoreIndex() {
        // Row 0: logits [0, ln 3] -> p = [1/4, 3/4], label 1 -> −ln(3/4).
        // Row 1: logits [2, 2]    -> p = [1/2, 1/2], label 0 -> ln 2.
        // Row 2: ignored (label −100), its logits get no gradient.
        let logits = Tensor(shape: [3, 2], scalars: [0, Float(Foundation.log(3.0)), 2, 2, 5, -5], requiresGrad: true)
        Autograd.reset()
        let loss = crossEntropy(logits, labels: [1, 0, -100], ignoreIndex: -100)
        XCTAssertEqual(loss.shape, [])
        XCTAssertEqual(loss.item, Float((-Foundation.log(0.75) + Foundation.log(2.0)) / 2), accuracy: 1e-6)
        loss.backward()
        // (p − onehot) / 2 counted rows.
        assertClose(logits.grad!, [0.125, -0.125, -0.25, 0.25, 0, 0], atol: 1e-6)
        logits.zeroGrad()

        // Without ignoreIndex, every row counts: mean of −ln(3/4), ln 2 and −ln p(label 0 | [5, −5]).
        let all = crossEntropy(logits.detached(), labels: [1, 0, 0])
        let row2 = Foundation.log(1 + Foundation.exp(-10.0))
        XCTAssertEqual(all.item, Float((-Foundation.log(0.75) + Foundation.log(2.0) + row2) / 3), accuracy: 1e-6)

        // An upstream gradient scales the result.
        Autograd.reset()
        crossEntropy(logits, labels: [1, 0, -100], ignoreIndex: -100).backward(seed: Tensor(scalar: 4))
        assertClose(logits.grad!, [0.5, -0.5, -1, 1, 0, 0], atol: 1e-6)
        logits.zeroGrad()
    }

    func testCrossEntropyAllIgnoredIsZero() {
        let logits = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        Autograd.reset()
        let loss = crossEntropy(logits, labels: [-1, -1], ignoreIndex: -1)
        XCTAssertEqual(loss.item, 0)
        XCTAssertEqual(loss.shape, [])
        loss.backward()
        XCTAssertEqual(logits.grad?.scalars ?? [], [Float](repeating: 0, count: 6))
        logits.zeroGrad()
        XCTAssertEqual(crossEntropy(Tensor(zeros: [0, 3]), labels: []).item, 0)
    }

    func testCrossEntropyAgainstReference() throws {
        let c = try OpsAReference.load().cross_entropy
        let logits = Tensor(shape: c.shape, scalars: c.logits)
        let (loss, g) = valueAndGradient(logits, seed: [1]) {
            crossEntropy($0, labels: c.labels, ignoreIndex: c.ignore_index)
        }
        XCTAssertTrue(loss.item.isFinite)
        XCTAssertEqual(loss.item, c.loss, accuracy: 1e-5 * c.loss)
        assertClose(g, c.dlogits, atol: 1e-6, rtol: 1e-4)
    }

    func testCrossEntropyGradients() {
        var rng = RNG(seed: 41)
        let cases: [([Int], [Int], Int?)] = [([1, 1], [0], nil), ([1, 4], [3], nil), ([3, 1], [0, 0, 0], nil),
                                             ([4, 5], [0, 4, 2, 2], nil), ([5, 3], [2, -1, 0, -1, 1], -1),
                                             ([2, 7], [6, 6], 6)]
        for (shape, labels, ignore) in cases {
            let l = randomTensor(shape, &rng, -3, 3)
            checkGradients([l], "crossEntropy \(shape) \(labels) ignore \(String(describing: ignore))") {
                crossEntropy($0[0], labels: labels, ignoreIndex: ignore)
            }
        }
    }

    func testMSEHandComputedAndGradients() {
        let p = Tensor(shape: [3], scalars: [1, 2, 3]), t = Tensor(shape: [3], scalars: [1, 0, 5])
        let loss = mseLoss(p, t)
        XCTAssertEqual(loss.shape, [])
        XCTAssertEqual(loss.item, 8.0 / 3, accuracy: 1e-6)
        // d/dp = 2(p − t)/n.
        assertClose(valueAndGradient(p, seed: [1]) { mseLoss($0, t) }.1, [0, 4.0 / 3, -4.0 / 3])
        assertClose(valueAndGradient(t, seed: [1]) { mseLoss(p, $0) }.1, [0, -4.0 / 3, 4.0 / 3])
        // [B, 1] against [B]: element by element.
        XCTAssertEqual(mseLoss(Tensor(shape: [3, 1], scalars: [1, 2, 3]), t).item, 8.0 / 3, accuracy: 1e-6)
        var rng = RNG(seed: 42)
        for shape in [[1], [2, 3], [5, 1]] {
            checkGradients([randomTensor(shape, &rng), randomTensor(shape, &rng)], "mse \(shape)") {
                mseLoss($0[0], $0[1])
            }
        }
    }

    func testFlopCounts() {
        let logits = Tensor(shape: [4, 6], repeating: 0.5, requiresGrad: true)
        let c = FlopCounter()
        Flops.counting(into: c) {
            let loss = crossEntropy(logits, labels: [0, -1, 5, 2], ignoreIndex: -1)
            XCTAssertEqual(c.forwardTotal, 5 * 3 * 6, "5 per logit of the 3 counted rows")
            loss.backward()
            XCTAssertEqual(c.backwardTotal, 2 * 3 * 6)
        }
        logits.zeroGrad()
        c.reset()
        Flops.counting(into: c) { _ = mseLoss(Tensor(zeros: [10]), Tensor(zeros: [10])) }
        XCTAssertEqual(c.forwardTotal, 30)
    }
}
