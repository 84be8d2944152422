// Layer-norm reference values and gradients (Fixtures/ops_a_reference.json) are written in
// float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class LayerNormTests: XCTestCase {
    func testHandComputed() {
        // Row [1, 2, 3, 4]: μ = 2.5, biased σ² = 1.25; with ε = 0, y = (x − μ)/√1.25 · γ + β.
        // Row [0, 0, 3, 3]: μ = 1.5, σ² = 2.25, x̂ = [−1, −1, 1, 1].
        let x = Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, 0, 0, 3, 3])
        let gamma = Tensor(shape: [4], scalars: [1, 2, 1, 1])
        let beta = Tensor(shape: [4], scalars: [0, 0, 0, 0.5])
        let r = Float(1 / 1.25.squareRoot())
        let y = layerNorm(x, gamma, beta, eps: 0.0)
        assertClose(y, [-1.5 * r, -0.5 * r * 2, 0.5 * r, 1.5 * r + 0.5, -1, -2, 1, 1.5], atol: 1e-6)
        // ε inside the square root: with ε = 0.75 the second row's x̂ is ±1.5/√3.
        let s = Float(1.5 / 3.0.squareRoot())
        assertClose(layerNorm(x, gamma, beta, eps: 0.75).scalars.suffix(4).map { $0 }, [-s, -2 * s, s, s + 0.5], atol: 1e-6)
        // A constant row normalises to 0 (then β) with the default ε: no division by zero.
        let constant = Tensor(shape: [1, 4], repeating: -3)
        assertClose(layerNorm(constant, gamma, beta), [0, 0, 0, 0.5])
        // n = 1: every row is its own mean, so y = β.
        let single = layerNorm(Tensor(shape: [3, 1], scalars: [5, -2, 0.25]),
                               Tensor(shape: [1], scalars: [3]), Tensor(shape: [1], scalars: [0.75]))
        XCTAssertEqual(single.shape, [3, 1])
        assertClose(single, [0.75, 0.75, 0.75])
    }

    func testAgainstReference() throws {
        for c in try OpsAReference.load().layer_norm_cases {
            let label = "\(c.shape)"
            let n = c.shape.last!
            let x = Tensor(shape: c.shape, scalars: c.x, requiresGrad: true)
            let gamma = Tensor(shape: [n], scalars: c.gamma, requiresGrad: true)
            let beta = Tensor(shape: [n], scalars: c.beta, requiresGrad: true)
            Autograd.reset()
            let y = layerNorm(x, gamma, beta, eps: c.eps)
            assertClose(y, c.y, atol: 1e-5, rtol: 1e-4, "y " + label)
            y.backward(seed: Tensor(shape: c.shape, scalars: c.g))
            // Rows around 1000 lose ~3 digits to float32 input rounding of x − μ; the
            // reference is computed from the same float32-rounded inputs.
            assertClose(x.grad!, c.dx, atol: 2e-4, rtol: 1e-3, "dx " + label)
            assertClose(gamma.grad!, c.dgamma, atol: 1e-4, rtol: 1e-4, "dgamma " + label)
            assertClose(beta.grad!, c.dbeta, atol: 1e-5, rtol: 1e-5, "dbeta " + label)
        }
    }

    func testGradients() {
        var rng = RNG(seed: 31)
        for shape in [[1, 1], [1, 9], [4, 1], [3, 5], [2, 2, 7], [2, 3, 2]] {
            let n = shape.last!
            let x = randomTensor(shape, &rng, -2, 2)
            let gamma = randomTensor([n], &rng, 0.5, 1.5), beta = randomTensor([n], &rng)
            checkGradients([x, gamma, beta], "x, γ, β \(shape)") { layerNorm($0[0], $0[1], $0[2]) }
            // Only some inputs requiring a gradient (the others are skipped, not perturbed).
            gamma.requiresGrad = false
            beta.requiresGrad = false
            checkGradients([x, gamma, beta], skip: [1, 2], "x only \(shape)") { layerNorm($0[0], $0[1], $0[2]) }
            x.requiresGrad = false
            checkGradients([x, gamma, beta], skip: [0], "γ, β only \(shape)") { layerNorm($0[0], $0[1], $0[2]) }
        }
    }

    func testGradientsOnlyWhereRequired() {
        var rng = RNG(seed: 33)
        let x = Tensor.uniform([2, 5], -1, 1, rng: &rng, requiresGrad: true)
        let gamma = Tensor(shape: [5], repeating: 1), beta = Tensor(zeros: [5], requiresGrad: true)
        Autograd.reset()
        layerNorm(x, gamma, beta).backward(seed: randomTensor([2, 5], &rng))
        XCTAssertNotNil(x.gradStorage)
        XCTAssertNotNil(beta.gradStorage)
        XCTAssertNil(gamma.gradStorage, "γ does not require a gradient")
        // Inputs needing no gradient record nothing.
        Autograd.reset()
        _ = layerNorm(x.detached(), gamma, Tensor(zeros: [5]))
        XCTAssertEqual(Autograd.tapeCount, 0)
    }

    func testFlopCounts() {
        var rng = RNG(seed: 32)
        let x = randomTensor([3, 8], &rng)
        x.requiresGrad = true
        let c = FlopCounter()
        Flops.counting(into: c) {
            let y = layerNorm(x, Tensor(shape: [8], repeating: 1), Tensor(zeros: [8]))
            XCTAssertEqual(c.forwardTotal, 8 * 24)
            y.backward(seed: Tensor(shape: [3, 8], repeating: 1))
        }
        XCTAssertEqual(c.backwardTotal, 10 * 24)
        x.zeroGrad()
    }
}
