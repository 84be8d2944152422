// Softmax / log-softmax / log-sum-exp reference values (Fixtures/ops_a_reference.json) are
// written in float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class ReduceSoftmaxTests: XCTestCase {
    /// Random shapes with sizes 1, odd and non-square dimensions.
    static let shapes: [[Int]] = [[1], [5], [1, 1], [3, 4], [2, 3, 5], [4, 1, 3]]

    /// Naive reference: reduces `x` along `axis` with `f` over the slice's values,
    /// walking every multi-index explicitly.
    func referenceReduce(_ x: Tensor, axis: Int, _ f: ([Float]) -> Float) -> [Float] {
        let shape = x.shape, a = axis < 0 ? axis + shape.count : axis
        let before = shape[..<a].reduce(1, *), n = shape[a], after = shape[(a + 1)...].reduce(1, *)
        var out: [Float] = []
        for o in 0..<before {
            for j in 0..<after {
                out.append(f((0..<n).map { x.scalars[o * n * after + $0 * after + j] }))
            }
        }
        return out
    }

    func testSumAndMeanHandComputed() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
        XCTAssertEqual(x.sum().shape, [])
        XCTAssertEqual(x.mean().shape, [])
        assertClose(x.sum(), [21])
        assertClose(x.mean(), [3.5])
        assertClose(x.sum(axis: 0), [5, 7, 9])
        XCTAssertEqual(x.sum(axis: 0).shape, [3])
        assertClose(x.sum(axis: -1, keepDims: true), [9, 12])
        XCTAssertEqual(x.sum(axis: -1, keepDims: true).shape, [2, 1])
        assertClose(x.mean(axis: 1), [3, 4])
        assertClose(x.mean(axis: -2, keepDims: true), [2.5, 3.5, 4.5])
        XCTAssertEqual(x.mean(axis: -2, keepDims: true).shape, [1, 3])
        XCTAssertTrue(Tensor(zeros: [0]).mean().item.isNaN, "mean of nothing is NaN, as NumPy")
        XCTAssertEqual(Tensor(zeros: [0]).sum().item, 0)

    /// The sum of everything accumulates in float64 over every length (the eight partial
    /// sums and the tail): 2^24 plus n ones is exact in float64 (and then rounded to
    /// float32), while a float32 running sum would stay at 2^24.
    func testSumOfEverythingAccumulatesInFloat64() {
        for n in [0, 1, 7, 8, 9, 16, 23, 1000] {
            let x = Tensor(shape: [n + 1], scalars: [16_777_216] + [Float](repeating: 1, count: n))
            XCTAssertEqual(x.sum().item, Float(16_777_216 + n), "n = \(n)")
            // Alternating signs cancel exactly whatever the grouping.
            let alternating: [Float] = (0..<(2 * n)).map { i in
                let v = Float(i)
                return i % 2 == 0 ? v + 3 : -(v + 1)
            }
            let y = Tensor(shape: [2 * n], scalars: alternating)
            XCTAssertEqual(y.sum().item, Float(n), "alternating, n = \(n)")
        }
    }
    }

    func testAxisReductionsMatchNaiveReference() {
        var rng = RNG(seed: 21)
        let x = randomTensor([3, 4, 5], &rng, -3, 3)
        for axis in [0, 1, 2, -1, -2, -3] {
            assertClose(x.sum(axis: axis), referenceReduce(x, axis: axis) { $0.reduce(0, +) }, "sum \(axis)")
            assertClose(x.mean(axis: axis), referenceReduce(x, axis: axis) { $0.reduce(0, +) / Float($0.count) },
                        "mean \(axis)")
            assertClose(x.max(axis: axis), referenceReduce(x, axis: axis) { $0.max()! }, "max \(axis)")
            assertClose(x.logSumExp(axis: axis), referenceReduce(x, axis: axis) { v in
                Float(Foundation.log(v.reduce(0.0) { $0 + Foundation.exp(Double($1)) }))
            }, "logSumExp \(axis)")
            var kept = x.shape
            kept[axis < 0 ? axis + 3 : axis] = 1
            XCTAssertEqual(x.max(axis: axis, keepDims: true).shape, kept)
            XCTAssertEqual(x.logSumExp(axis: axis, keepDims: true).shape, kept)
        }
    }

    func testMaxGradientGoesToTheFirstMaximum() {
        // Last axis: ties at indices 1 and 2 -> index 1.
        let (y, g) = valueAndGradient(Tensor(shape: [2, 3], scalars: [2, 7, 7, 9, 9, 1]), seed: [1, 2]) {
            $0.max(axis: 1)
        }
        assertClose(y, [7, 9])
        assertClose(g, [0, 1, 0, 2, 0, 0])
        // Inner axis of [2, 3, 2]: column-wise ties go to the lowest index along axis 1.
        let x = Tensor(shape: [2, 3, 2], scalars: [1, 4, 3, 4, 3, 0,
                                                   5, 5, 5, 6, -1, 6])
        let (y2, g2) = valueAndGradient(x, seed: [1, 2, 3, 4]) { $0.max(axis: -2) }
        assertClose(y2, [3, 4, 5, 6])
        assertClose(g2, [0, 2, 1, 0, 0, 0,
                         3, 0, 0, 4, 0, 0])
        // A NaN makes the maximum NaN (as PyTorch), wherever it sits.
        let n = Tensor(shape: [3, 3], scalars: [.nan, 1, 2, 1, .nan, 2, 1, 2, .nan])
        XCTAssertTrue(n.max(axis: 1).scalars.allSatisfy(\.isNaN))
        XCTAssertTrue(n.max(axis: 0).scalars.allSatisfy(\.isNaN))
    }

    func testReductionGradients() {
        var rng = RNG(seed: 22)
        for shape in Self.shapes {
            let x = randomTensor(shape, &rng)
            checkGradients([x], "sum \(shape)") { $0[0].sum() }
            checkGradients([x], "mean \(shape)") { $0[0].mean() }
            // Distinct values 0.1 apart keep max away from its ties (step 0.01).
            let count = shape.reduce(1, *)
            let spread = Tensor(shape: shape, scalars: rng.permutation(count).map { Float($0) * 0.1 - 1 })
            for axis in -shape.count..<shape.count {
                for keep in [false, true] {
                    let label = "\(shape) axis \(axis) keepDims \(keep)"
                    checkGradients([x], "sum " + label) { $0[0].sum(axis: axis, keepDims: keep) }
                    checkGradients([x], "mean " + label) { $0[0].mean(axis: axis, keepDims: keep) }
                    checkGradients([spread], "max " + label) { $0[0].max(axis: axis, keepDims: keep) }
                    checkGradients([x], "logSumExp " + label) { $0[0].logSumExp(axis: axis, keepDims: keep) }
                }
            }
        }
    }

    func testLogSumExpAgainstReference() throws {
        for c in try OpsAReference.load().logsumexp_cases {
            let (y, dx) = valueAndGradient(Tensor(shape: c.shape, scalars: c.x), seed: c.g) {
                $0.logSumExp(axis: c.axis)
            }
            XCTAssertTrue(y.scalars.allSatisfy(\.isFinite))
            assertClose(y, c.y, atol: 1e-4, rtol: 1e-6, "logSumExp \(c.shape) axis \(c.axis)")
            assertClose(dx, c.dx, atol: 1e-6, rtol: 1e-4, "d logSumExp \(c.shape) axis \(c.axis)")
        }
        // −∞ slices give −∞ with no NaN in value or gradient; +∞ gives +∞.
        let x = Tensor(shape: [3, 2], scalars: [-.infinity, -.infinity, .infinity, 0, -.infinity, 0])
        let (y, g) = valueAndGradient(x, seed: [1, 1, 1]) { $0.logSumExp(axis: 1) }
        XCTAssertEqual(y.scalars, [-.infinity, .infinity, 0])
        XCTAssertEqual(g, [0, 0, 0, 0, 0, 1])
    }

    func testSoftmaxHandComputed() {
        let ln2 = Float(Foundation.log(2.0)), ln3 = Float(Foundation.log(3.0))
        let x = Tensor(shape: [2, 3], scalars: [0, ln2, ln3, 5, 5, 5])
        assertClose(x.softmax(), [1.0 / 6, 2.0 / 6, 3.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 3], atol: 1e-6)
        let ln6 = Float(Foundation.log(6.0))
        assertClose(x.logSoftmax(), [-ln6, -ln3, -ln2, -ln3, -ln3, -ln3], atol: 1e-6)
        // Along axis 0 of the same tensor: each column is a pair.
        let s0 = x.softmax(axis: 0).scalars
        XCTAssertEqual(s0[0], Float(1 / (1 + Foundation.exp(5.0))), accuracy: 1e-7)
        XCTAssertEqual(s0[0] + s0[3], 1, accuracy: 1e-6)
        // −∞ entries get probability 0; a fully masked row gives zeros / −∞, never NaN,
        // and gradients stay finite.
        let m = Tensor(shape: [2, 3], scalars: [-.infinity, 0, 0, -.infinity, -.infinity, -.infinity])
        assertClose(m.softmax(), [0, 0.5, 0.5, 0, 0, 0])
        XCTAssertEqual(m.logSoftmax().scalars, [-.infinity, -ln2, -ln2, -.infinity, -.infinity, -.infinity])
        let seed: [Float] = [0.3, -0.2, 0.5, 1, 2, 3]
        XCTAssertTrue(valueAndGradient(m, seed: seed) { $0.softmax() }.1.allSatisfy(\.isFinite))
        XCTAssertTrue(valueAndGradient(m, seed: seed) { $0.logSoftmax() }.1.allSatisfy(\.isFinite))
        XCTAssertTrue(valueAndGradient(m, seed: seed) { $0.softmax(axis: 0) }.1.allSatisfy(\.isFinite))
        XCTAssertEqual(m.softmax(axis: 0).scalars, [0, 1, 1, 0, 0, 0])
    }

    func testSoftmaxStableAgainstReference() throws {
        for c in try OpsAReference.load().softmax_cases {
            let label = "\(c.shape) axis \(c.axis)"
            let x = Tensor(shape: c.shape, scalars: c.x)
            let (p, dp) = valueAndGradient(x, seed: c.g) { $0.softmax(axis: c.axis) }
            let (lp, dlp) = valueAndGradient(x, seed: c.g) { $0.logSoftmax(axis: c.axis) }
            XCTAssertTrue(p.scalars.allSatisfy(\.isFinite) && lp.scalars.allSatisfy(\.isFinite), label)
            assertClose(p, c.softmax, atol: 1e-6, rtol: 1e-5, "softmax " + label)
            assertClose(lp, c.log_softmax, atol: 1e-5, rtol: 1e-6, "logSoftmax " + label)
            assertClose(dp, c.dsoftmax, atol: 1e-6, rtol: 1e-4, "d softmax " + label)
            assertClose(dlp, c.dlog_softmax, atol: 1e-6, rtol: 1e-4, "d logSoftmax " + label)
            // The same axis named from the end.
            let negative = c.axis - c.shape.count
            XCTAssertEqual(x.softmax(axis: negative).scalars, p.scalars, label)
        }
    }

    func testSoftmaxGradients() {
        var rng = RNG(seed: 23)
        for shape in Self.shapes {
            let x = randomTensor(shape, &rng, -2, 2)
            for axis in -shape.count..<shape.count {
                checkGradients([x], "softmax \(shape) axis \(axis)") { $0[0].softmax(axis: axis) }
                checkGradients([x], "logSoftmax \(shape) axis \(axis)") { $0[0].logSoftmax(axis: axis) }
            }
        }
    }

    func testFlopCounts() {
        let x = Tensor(shape: [4, 6], repeating: 0.5, requiresGrad: true)
        let c = FlopCounter()
        Flops.counting(into: c) {
            let y = x.softmax()
            XCTAssertEqual(c.forwardTotal, 5 * 24)
            y.backward(seed: Tensor(shape: [4, 6], repeating: 1))
            XCTAssertEqual(c.backwardTotal, 4 * 24)
        }
        x.zeroGrad()
        c.reset()
        Flops.counting(into: c) {
            _ = Autograd.noGrad { x.sum() }
            XCTAssertEqual(c.forwardTotal, 24)
            _ = Autograd.noGrad { x.mean(axis: 0) }
            XCTAssertEqual(c.forwardTotal, 24 + 24 + 6, "mean: one per input element plus one per output")
            _ = Autograd.noGrad { x.max(axis: 1) }
            XCTAssertEqual(c.forwardTotal, 24 + 30 + 24)
        }
        XCTAssertEqual(c.backwardTotal, 0, "no backward recorded under noGrad")
        XCTAssertEqual(Autograd.tapeCount, 0)
    }
}
