import Foundation
import Tensor
import TestSupport
import XCTest

final class DropoutTests: XCTestCase {
    func testRateScaleAndExpectation() {
        let n = 20_000
        let x = Tensor(shape: [n], repeating: 1)
        for p: Float in [0.1, 0.5, 0.9] {
            var rng = RNG(seed: 51)
            let y = dropout(x, p: p, rng: &rng, training: true).scalars
            let scale = 1 / (1 - p)
            XCTAssertTrue(y.allSatisfy { $0 == 0 || $0 == scale }, "values are 0 or 1/(1−p), p = \(p)")
            // Binomial rate: 5 standard deviations.
            let rate = Double(y.filter { $0 == 0 }.count) / Double(n)
            let sdRate = (Double(p) * Double(1 - p) / Double(n)).squareRoot()
            XCTAssertEqual(rate, Double(p), accuracy: 5 * sdRate, "zero rate, p = \(p)")
            // E[y] = x: the mask has mean 1 and variance p/(1−p).
            let mean = y.reduce(0.0) { $0 + Double($1) } / Double(n)
            let sdMean = (Double(p) / Double(1 - p) / Double(n)).squareRoot()
            XCTAssertEqual(mean, 1, accuracy: 5 * sdMean, "expectation preserved, p = \(p)")
        }
    }

    func testDeterministicForAnRNGState() {
        var rng = RNG(seed: 52)
        let x = randomTensor([7, 13], &rng)
        var r1 = RNG(seed: 5), r2 = RNG(seed: 5), r3 = RNG(seed: 6)
        let a = dropout(x, p: 0.3, rng: &r1, training: true)
        let b = dropout(x, p: 0.3, rng: &r2, training: true)
        let c = dropout(x, p: 0.3, rng: &r3, training: true)
        XCTAssertEqual(a.scalars, b.scalars, "same RNG state, same mask")
        XCTAssertNotEqual(a.scalars, c.scalars, "another state, another mask")
        XCTAssertEqual(r1, r2)
        // One 64-bit draw per call.
        var expected = RNG(seed: 5)
        _ = expected.next()
        XCTAssertEqual(r1, expected)
        // The next call continues the stream: a different mask.
        let d = dropout(x, p: 0.3, rng: &r1, training: true)
        XCTAssertNotEqual(a.scalars, d.scalars)
        // Recording gradients does not change the mask.
        x.requiresGrad = true
        var r4 = RNG(seed: 5)
        Autograd.reset()
        XCTAssertEqual(dropout(x, p: 0.3, rng: &r4, training: true).scalars, a.scalars)
        Autograd.reset()
        x.requiresGrad = false
    }

    /// The mask, element by element, as the documented blocks give it: block `b` of
    /// `dropoutBlock` elements draws in order from `RNG(seed: s).split(b)`, `s` the call's one
    /// draw; over a length that ends inside a block, on 1 and 3 threads.
    func testMaskFollowsTheBlockStreams() {
        let n = 3 * dropoutBlock + 77, p: Float = 0.25
        let x = Tensor(shape: [n], repeating: 2)
        var expected = [Float](repeating: 0, count: n)
        var seedSource = RNG(seed: 61)
        let root = RNG(seed: seedSource.next())
        for b in 0..<4 {
            var g = root.split(UInt64(b))
            for i in (b * dropoutBlock)..<min(n, (b + 1) * dropoutBlock) { expected[i] = g.uniform() < p ? 0 : 2 * (1 / (1 - p)) }
        }
        for threads in [1, 3] {
            EngineThreads.set(threads)
            var rng = RNG(seed: 61)
            XCTAssertEqual(dropout(x, p: p, rng: &rng, training: true).scalars, expected, "\(threads) threads")
        }
        EngineThreads.set(2)
        // Blocks draw from different streams: their masks differ.
        let y = expected.map { $0 == 0 }
        XCTAssertNotEqual(Array(y[0..<dropoutBlock]), Array(y[dropoutBlock..<(2 * dropoutBlock)]))
    }

    func testIdentityInEvaluationAndAtZero() {
        var rng = RNG(seed: 53)
        let x = randomTensor([4, 5], &rng)
        let before = rng
        XCTAssertTrue(dropout(x, p: 0.5, rng: &rng, training: false) === x, "evaluation: identity")
        XCTAssertTrue(dropout(x, p: 0, rng: &rng, training: true) === x, "p = 0: identity")
        XCTAssertEqual(rng, before, "no draws when dropout is off")
    }

    func testGradientIsTheMask() {
        var rng = RNG(seed: 54)
        let x = randomTensor([6, 5], &rng, 0.5, 1.5)   // nonzero, so y / x recovers the mask
        let seed = randomTensor([6, 5], &rng).scalars
        let (y, g) = valueAndGradient(x, seed: seed) { t in
            var r = RNG(seed: 9)
            return dropout(t, p: 0.4, rng: &r, training: true)
        }
        let mask = zip(y.scalars, x.scalars).map { $0 / $1 }
        assertClose(g, zip(mask, seed).map { $0 * $1 }, atol: 1e-6)
        XCTAssertTrue(mask.contains(0) && mask.contains { $0 > 1 })
        checkGradients([randomTensor([3, 7], &rng)], "dropout") { inputs in
            var r = RNG(seed: 9)
            return dropout(inputs[0], p: 0.5, rng: &r, training: true)
        }
    }

    func testFlopCounts() {
        var rng = RNG(seed: 55)
        let x = Tensor(shape: [8, 4], repeating: 1, requiresGrad: true)
        let c = FlopCounter()
        Flops.counting(into: c) {
            let y = dropout(x, p: 0.25, rng: &rng, training: true)
            y.backward(seed: Tensor(shape: [8, 4], repeating: 1))
        }
        XCTAssertEqual(c.forwardTotal, 32)
        XCTAssertEqual(c.backwardTotal, 32)
        x.zeroGrad()
    }
}
