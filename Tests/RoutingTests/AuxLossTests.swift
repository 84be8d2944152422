import Foundation
import Routing
import TestSupport
import XCTest

/// The auxiliary losses against hand-computed values and finite differences.
final class AuxLossTests: XCTestCase {
    func testBalanceLossHandComputed() {
        // top-1 = [0, 1] -> f = [.5, .5, 0]; P = [.4, .5, .1];
        // alpha · E · sum f P = 0.01 · 3 · (.2 + .25) = 0.0135.
        let probs = Tensor(shape: [2, 3], scalars: [0.7, 0.2, 0.1, 0.1, 0.8, 0.1])
        let plan = Gating.top1(probs: probs.scalars, tokens: 2, experts: 3, capacity: nil)
        XCTAssertEqual(plan.top1Fractions, [0.5, 0.5, 0])
        assertClose(balanceLoss(probs: probs, fractions: plan.top1Fractions, alpha: 0.01), [0.0135], atol: 1e-7)
        // Perfect balance gives alpha (f = P = 1/E).
        let uniform = Tensor(shape: [4, 4], repeating: 0.25)
        assertClose(balanceLoss(probs: uniform, fractions: [0.25, 0.25, 0.25, 0.25], alpha: 0.01), [0.01], atol: 1e-7)
        var rng = RNG(seed: 1)
        checkGradients([randomTensor([5, 3], &rng, 0, 1)]) {
            balanceLoss(probs: $0[0], fractions: [0.2, 0.4, 0.4], alpha: 0.5)
        }
    }

    func testZLossHandComputed() {
        // Rows [0, 0] and [ln 3, 0]: logsumexp ln 2 and ln 4; mean of squares 2.5 (ln 2)^2.
        let logits = Tensor(shape: [2, 2], scalars: [0, 0, Float(log(3.0)), 0])
        let l2 = Float(log(2.0))
        assertClose(zLoss(logits: logits, beta: 1e-3), [1e-3 * 2.5 * l2 * l2], atol: 1e-8)
        // Stable for large logits: row [1000, 1000] -> (1000 + ln 2)^2.
        let big = Tensor(shape: [1, 2], scalars: [1000, 1000])
        assertClose(zLoss(logits: big, beta: 1), [(1000 + l2) * (1000 + l2)], rtol: 1e-5)
        var rng = RNG(seed: 2)
        checkGradients([randomTensor([4, 5], &rng, -2, 2)]) { zLoss(logits: $0[0], beta: 0.7) }
    }

    func testEntropyLossHandComputed() {
        // Uniform over 4: ln 4; one-hot: 0; mean ln 2.
        let p = Tensor(shape: [2, 4], scalars: [0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0])
        assertClose(entropyLoss(p, beta: 1e-4), [1e-4 * Float(log(2.0))], atol: 1e-9)
        // [.5, .5] and [.9, .1]
        let q = Tensor(shape: [2, 2], scalars: [0.5, 0.5, 0.9, 0.1])
        let h2 = -(0.9 * log(0.9) + 0.1 * log(0.1))
        assertClose(entropyLoss(q, beta: 2), [Float(2 * (log(2.0) + h2) / 2)], atol: 1e-6)
        var rng = RNG(seed: 3)
        checkGradients([randomTensor([3, 4], &rng, 0.2, 1)], step: 1e-3) { entropyLoss($0[0], beta: 0.3) }
    }

    func testVarianceBalanceHandComputed() {
        // Hard counts [3, 1] of N = 4 over K = 2: (3/4 - 1/2)^2 + (1/4 - 1/2)^2 = 0.125.
        let ones = Tensor(shape: [4], repeating: 1)
        assertClose(varianceBalanceLoss(gates: ones, experts: [0, 0, 0, 1], expertCount: 2, weight: 1), [0.125])
        // Soft counts C = [0.5 + 0.25, 0.5, 0.25] over K = 3, N = 1.5:
        // S = [.5, 1/3, 1/6]; sum (S - 1/3)^2 = 1/36 + 0 + 1/36.
        let g = Tensor(shape: [4], scalars: [0.5, 0.25, 0.5, 0.25])
        assertClose(varianceBalanceLoss(gates: g, experts: [0, 0, 1, 2], expertCount: 3, weight: 2),
                    [2 * 2.0 / 36], atol: 1e-7)
        // Balanced: zero.
        assertClose(varianceBalanceLoss(gates: ones, experts: [0, 1, 2, 3], expertCount: 4, weight: 1), [0])
        var rng = RNG(seed: 4)
        checkGradients([randomTensor([7], &rng, 0.1, 1)]) {
            varianceBalanceLoss(gates: $0[0], experts: [0, 1, 1, 2, 0, 2, 2], expertCount: 4, weight: 3)
        }
    }
}
