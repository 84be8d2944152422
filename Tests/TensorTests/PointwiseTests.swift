// GELU reference values (Fixtures/ops_a_reference.json) are written in float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class PointwiseTests: XCTestCase {
    static let shapes: [[Int]] = [[1], [7], [3, 5], [2, 1, 3], [4, 3, 2]]

    func testGradientsOfSmoothFunctions() {
        var rng = RNG(seed: 11)
        for shape in Self.shapes {
            let x = randomTensor(shape, &rng, -2, 2)
            let positive = randomTensor(shape, &rng, 0.5, 2)
            checkGradients([x], "exp \(shape)") { $0[0].exp() }
            checkGradients([positive], "log \(shape)") { $0[0].log() }
            checkGradients([x], "tanh \(shape)") { $0[0].tanh() }
            checkGradients([x], "gelu \(shape)") { $0[0].gelu() }
            checkGradients([x], "sigmoid \(shape)") { $0[0].sigmoid() }
            checkGradients([x], "softplus \(shape)") { $0[0].softplus() }
            checkGradients([x], "square \(shape)") { $0[0].square() }
            checkGradients([positive], "sqrt \(shape)") { $0[0].sqrt() }
        }
    }

    func testReluGradientAwayFromTheKink() {
        var rng = RNG(seed: 12)
        for shape in Self.shapes {
            // |x| ≥ 0.1 > step: the central difference never straddles 0.
            let x = randomTensor(shape, &rng, -2, 2)
            let r = Tensor(shape: shape, scalars: x.scalars.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 })
            checkGradients([r], "relu \(shape)") { $0[0].relu() }
        }
        // At the kink the gradient is 0, as PyTorch.
        let (_, g) = valueAndGradient(Tensor(shape: [3], scalars: [-1, 0, 1]), seed: [1, 1, 1]) { $0.relu() }
        XCTAssertEqual(g, [0, 0, 1])
    }

    func testHandComputedValues() {
        let x = Tensor(shape: [2, 2], scalars: [-2, 0, 1, 3])
        assertClose(x.exp(), [0.13533528, 1, 2.7182817, 20.085537])
        assertClose(x.tanh(), [-0.9640276, 0, 0.7615942, 0.9950548])
        assertClose(x.relu(), [0, 0, 1, 3])
        assertClose(x.sigmoid(), [0.11920292, 0.5, 0.7310586, 0.95257413])
        assertClose(x.softplus(), [0.12692805, 0.6931472, 1.3132616, 3.0485873])
        assertClose(x.square(), [4, 0, 1, 9])
        let p = Tensor(shape: [4], scalars: [0.25, 1, 4, 2.7182817])
        assertClose(p.sqrt(), [0.5, 1, 2, 1.6487212])
        assertClose(p.log(), [-1.3862944, 0, 1.3862944, 1])
        XCTAssertEqual(p.exp().shape, [4])
        XCTAssertEqual(Tensor(scalar: 2).square().shape, [])
    }

    func testHandComputedDerivatives() {
        let x = Tensor(shape: [3], scalars: [-1, 0.5, 2])
        let ones: [Float] = [1, 1, 1]
        assertClose(valueAndGradient(x, seed: ones) { $0.exp() }.1, [0.36787945, 1.6487212, 7.389056])
        assertClose(valueAndGradient(x, seed: ones) { $0.tanh() }.1, [0.41997434, 0.78644773, 0.07065082])
        assertClose(valueAndGradient(x, seed: ones) { $0.sigmoid() }.1, [0.19661193, 0.23500371, 0.10499359])
        assertClose(valueAndGradient(x, seed: ones) { $0.softplus() }.1, [0.26894143, 0.62245935, 0.8807971])
        assertClose(valueAndGradient(x, seed: [2, 3, -1]) { $0.square() }.1, [-4, 3, -4])
        let p = Tensor(shape: [2], scalars: [4, 0.5])
        assertClose(valueAndGradient(p, seed: [1, 1]) { $0.sqrt() }.1, [0.25, 0.70710677])
        assertClose(valueAndGradient(p, seed: [1, 1]) { $0.log() }.1, [0.25, 2])
    }

    func testStabilityAtExtremes() {
        let x = Tensor(shape: [4], scalars: [-200, -100, 100, 200])
        // sigmoid: no overflow of e^(−x) for very negative x.
        let s = x.sigmoid().scalars
        XCTAssertTrue(s.allSatisfy(\.isFinite), "\(s)")
        XCTAssertEqual(s[0], 0)
        XCTAssertEqual(s[2], 1)
        XCTAssertEqual(s[1], Float(1 / (1 + Foundation.exp(100.0))), accuracy: 2 * .leastNonzeroMagnitude)
        // softplus: max(x, 0) + log1p(e^(−|x|)); the naive log(1 + e^x) gives +inf at 100.
        let sp = x.softplus().scalars
        XCTAssertEqual(sp[2], 100)
        XCTAssertEqual(sp[3], 200)
        XCTAssertEqual(sp[0], 0)
        XCTAssertGreaterThan(sp[1], 0, "e^−100 ≈ 3.7e-44 is representable (subnormal)")
        XCTAssertEqual(sp[1], Float(Foundation.exp(-100.0)), accuracy: 2 * .leastNonzeroMagnitude)
        let (_, g) = valueAndGradient(x, seed: [1, 1, 1, 1]) { $0.softplus() }
        assertClose(g, [0, Float(Foundation.exp(-100.0)), 1, 1], atol: 2 * .leastNonzeroMagnitude, rtol: 0)
    }

    func testGeluAgainstReference() throws {
        let ref = try OpsAReference.load().gelu
        let x = Tensor(shape: [ref.x.count], scalars: ref.x)
        let (y, dy) = valueAndGradient(x, seed: [Float](repeating: 1, count: ref.x.count)) { $0.gelu() }
        assertClose(y, ref.y, atol: 1e-7, rtol: 1e-5)
        assertClose(dy, ref.dy, atol: 1e-7, rtol: 1e-5)
        // The negative tail keeps relative precision (no cancellation in 1 + erf).
        let i = try XCTUnwrap(ref.x.firstIndex(of: -6))
        XCTAssertEqual(y.scalars[i], ref.y[i], accuracy: 1e-5 * abs(ref.y[i]))
        // Not the tanh approximation, which differs from the erf form by 4e-4 at x = −3.
        let j = try XCTUnwrap(ref.x.firstIndex(of: -3))
        let tanhApprox = 0.5 * -3 * (1 + Foundation.tanh(0.7978845608 * (-3 + 0.044715 * -27)))
        XCTAssertGreaterThan(abs(Double(y.scalars[j]) - tanhApprox), 2e-4)
    }

    func testSixteenLaneFormsMatchTheScalarOnesBitForBit() {
        // The vector loops use FastMath's SIMD16 forms and the tails the scalar ones: both
        // must give the same bits, over the whole range and at the clamp and sign edges.
        var xs: [Float] = [0, -0.0, -86.99999, -87, -87.00001, -100, -1000, 1e-30, -1e-30,
                           .leastNonzeroMagnitude, -.greatestFiniteMagnitude, .greatestFiniteMagnitude,
                           .infinity, -.infinity]
        var v: Float = -20
        while v <= 20 { xs.append(v); v += 0.0137 }
        while xs.count % 16 != 0 { xs.append(Float(xs.count) * -0.5) }
        for base in stride(from: 0, to: xs.count, by: 16) {
            let lanes = SIMD16<Float>(xs[base..<base + 16])
            let negative = lanes.replacing(with: -lanes, where: lanes .> 0)
            let e = expNonPositive(negative), cdf = normalCDF(lanes)
            let both = normalCDFAndGaussian(lanes), deriv = geluDerivative(lanes)
            for l in 0..<16 {
                let x = lanes[l], scalar = normalCDFAndGaussian(x)
                XCTAssertEqual(e[l].bitPattern, expNonPositive(negative[l]).bitPattern, "exp(\(negative[l]))")
                XCTAssertEqual(cdf[l].bitPattern, normalCDF(x).bitPattern, "Φ(\(x))")
                XCTAssertEqual(both.cdf[l].bitPattern, scalar.cdf.bitPattern, "Φ(\(x)), A&S")
                XCTAssertEqual(both.gauss[l].bitPattern, scalar.gauss.bitPattern, "e^(-x²/2) at \(x)")
                XCTAssertEqual(deriv[l].bitPattern, geluDerivative(x).bitPattern, "gelu'(\(x))")
            }
        }
        // Tensor.gelu: 16 lanes, then a tail of 5, forward and backward, fresh and accumulated.
        let finite = xs.filter { $0.isFinite && abs($0) < 30 }
        let x = Tensor(shape: [37], scalars: Array(finite.prefix(37)))
        x.requiresGrad = true
        let g = (0..<37).map { Float($0 % 5) - 1.5 }
        let y = x.gelu()
        (y * Tensor(shape: [37], scalars: g)).sum().backward()
        let once = x.grad!.scalars
        x.gelu().backward(seed: Tensor(shape: [37], scalars: g))
        for i in 0..<37 {
            let xi = x.scalars[i], d = g[i] * geluDerivative(xi)
            XCTAssertEqual(y.scalars[i].bitPattern, (xi * normalCDF(xi)).bitPattern, "gelu(\(xi))")
            XCTAssertEqual(once[i].bitPattern, d.bitPattern, "gelu' at \(xi)")
            XCTAssertEqual(x.grad!.scalars[i].bitPattern, (d + d).bitPattern, "accumulated gelu' at \(xi)")
        }
    }

    func testFlopCounts() {
        let x = Tensor(shape: [3, 7], repeating: 0.5, requiresGrad: true)
        let c = FlopCounter()
        Flops.counting(into: c) {
            let y = x.gelu().exp()
            XCTAssertEqual(c.forwardTotal, 2 * 21, "one per element per op")
            y.backward()
        }
        XCTAssertEqual(c.backwardTotal, 2 * 2 * 21, "two per element per op")
        x.zeroGrad()
    }
}
