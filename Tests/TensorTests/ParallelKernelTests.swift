import Foundation
import Tensor
import TestSupport
import XCTest

/// The kernels that split their work across the engine's threads (elementwise passes,
/// layer norm, attention, the bias gradient of `linear`) give bit-identical outputs and
/// gradients on 1 and 3 threads, at sizes above their grains; and a gradient buffer that
/// is assigned fresh (`gradForWrite`) equals the accumulated one when a tensor feeds two
/// ops.
final class ParallelKernelTests: XCTestCase {
    override func tearDown() {
        EngineThreads.set(2)
        super.tearDown()
    }

    /// Runs `build` on fresh leaves of `shapes` (same values every call) under `threads`
    /// threads, back-propagates a fixed random seed, and returns the output and every
    /// leaf's gradient.
    private func run(threads: Int, shapes: [[Int]], _ build: ([Tensor]) -> Tensor) -> [[Float]] {
        EngineThreads.set(threads)
        var rng = RNG(seed: 42)
        let leaves = shapes.map { randomTensor($0, &rng, -2, 2) }
        for t in leaves { t.requiresGrad = true }
        let y = build(leaves)
        var seedRng = RNG(seed: 7)
        y.backward(seed: randomTensor(y.shape, &seedRng))
        return [y.scalars] + leaves.map { $0.grad?.scalars ?? [] }
    }

    private func assertThreadIndependent(_ name: String, shapes: [[Int]], _ build: ([Tensor]) -> Tensor,
                                         file: StaticString = #filePath, line: UInt = #line) {
        let one = run(threads: 1, shapes: shapes, build)
        let three = run(threads: 3, shapes: shapes, build)
        XCTAssertEqual(one.count, three.count, name, file: file, line: line)
        for (i, (a, b)) in zip(one, three).enumerated() {
            XCTAssertEqual(a.count, b.count, "\(name) tensor \(i)", file: file, line: line)
            let mismatches = zip(a, b).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            XCTAssertEqual(mismatches, 0, "\(name) tensor \(i): \(mismatches) of \(a.count) values differ", file: file, line: line)
            XCTAssertFalse(a.contains { !$0.isFinite }, "\(name) tensor \(i) not finite", file: file, line: line)
        }
    }

    func testElementwiseKernelsAreThreadIndependent() {
        let n = 3 * elementwiseGrain + 5
        assertThreadIndependent("gelu", shapes: [[n]]) { $0[0].gelu() }
        assertThreadIndependent("tanh", shapes: [[n]]) { $0[0].tanh() }
        assertThreadIndependent("add", shapes: [[n], [n]]) { $0[0] + $0[1] }
        assertThreadIndependent("sub", shapes: [[n], [n]]) { $0[0] - $0[1] }
        assertThreadIndependent("mul", shapes: [[n], [n]]) { $0[0] * $0[1] }
        assertThreadIndependent("div", shapes: [[n], [n]]) { $0[0] / ($0[1].square() + 1) }
        assertThreadIndependent("dropout", shapes: [[n]]) { xs in
            var rng = RNG(seed: 3)
            return dropout(xs[0], p: 0.3, rng: &rng, training: true)
        }
    }

    func testLayerNormLinearAndAttentionAreThreadIndependent() {
        assertThreadIndependent("layerNorm", shapes: [[700, 96], [96], [96]]) { layerNorm($0[0], $0[1], $0[2]) }
        // The bias gradient sums 1,700 rows per column (split by columns: 1,700 · 40 values);
        // the GEMMs stay below the split size (1,700 · 3 · 40 multiply-adds < 2^18), whose
        // bits depend on the split with some OpenBLAS kernels (see `sgemm`).
        assertThreadIndependent("linear bias", shapes: [[1700, 3], [3, 40], [40]]) { linear($0[0], $0[1], $0[2]) }
        let mask = (0..<(6 * 40)).map { $0 % 40 < 40 - ($0 / 40) * 5 }   // sequence b keeps 40 − 5b keys
        assertThreadIndependent("attention", shapes: [[6, 40, 32], [6, 40, 32], [6, 40, 32]]) {
            attention($0[0], $0[1], $0[2], heads: 4, keyMask: mask)
        }
    }

    func testFreshGradientBuffersEqualAccumulatedOnes() {
        // x feeds two ops of each kind: its gradient is the first op's (assigned into a
        // fresh buffer) plus the second's (accumulated), the sum of the two separately.
        var rng = RNG(seed: 9)
        let n = elementwiseGrain + 17
        let xv = randomTensor([n], &rng).scalars, wv = randomTensor([n], &rng).scalars
        func grad(_ f: (Tensor, Tensor) -> Tensor) -> [Float] {
            let x = Tensor(shape: [n], scalars: xv, requiresGrad: true)
            let w = Tensor(shape: [n], scalars: wv)
            f(x, w).sum().backward()
            return x.grad!.scalars
        }
        let a = grad { x, w in (x.gelu() * w) }, b = grad { x, w in (x * x) * w }
        let both = grad { x, w in x.gelu() * w + (x * x) * w }
        assertClose(both, zip(a, b).map { $0 + $1 }, atol: 1e-6, rtol: 1e-6)
        // x * x alone: a and b are one tensor, assigned then accumulated: 2x.
        let square = grad { x, _ in x * x }
        assertClose(square, xv.map { 2 * $0 }, atol: 0, rtol: 0)

        // linear: x used by two layers.
        let x = randomTensor([50, 8], &rng), w1 = randomTensor([8, 6], &rng), w2 = randomTensor([8, 6], &rng)
        x.requiresGrad = true
        (linear(x, w1) + linear(x, w2)).sum().backward()
        let summed = x.grad!.scalars
        x.zeroGrad()
        linear(x, w1).sum().backward()
        let g1 = x.grad!.scalars
        x.zeroGrad()
        linear(x, w2).sum().backward()
        assertClose(summed, zip(g1, x.grad!.scalars).map { $0 + $1 }, atol: 1e-5, rtol: 1e-5)
    }

    func testSelfAttentionOnOneTensorMatchesSeparateCopies() {
        // q, k and v all one tensor: its slices take three gradient GEMMs each, so they
        // accumulate; the result equals the sum over three separate copies.
        var rng = RNG(seed: 4)
        let v = randomTensor([2, 7, 8], &rng).scalars
        let seed = randomTensor([2, 7, 8], &rng)
        let x = Tensor(shape: [2, 7, 8], scalars: v, requiresGrad: true)
        attention(x, x, x, heads: 2).backward(seed: seed)
        let copies = (0..<3).map { _ in Tensor(shape: [2, 7, 8], scalars: v, requiresGrad: true) }
        attention(copies[0], copies[1], copies[2], heads: 2).backward(seed: seed)
        let expected = (0..<v.count).map { i in copies.reduce(Float(0)) { $0 + $1.grad!.scalars[i] } }
        assertClose(x.grad!.scalars, expected, atol: 1e-5, rtol: 1e-5)
    }

    func testScaleColumnSumsMatchesTheTwoPassesOnAnyThreadCount() {
        // 300 rows × 37 columns: above the column split's threshold, and 37 is not a
        // multiple of the 8-wide vectors, so the scalar tail runs too.
        let rows = 300, cols = 37
        var rng = RNG(seed: 5)
        let m0 = (0..<(rows * cols)).map { _ in rng.uniform(-2, 2) }
        let s = (0..<(rows * cols)).map { _ in rng.uniform(-2, 2) }
        let start = (0..<cols).map { _ in rng.uniform(-1, 1) }
        // Reference: the elementwise product, then the column sums in row order.
        let scaled = zip(m0, s).map { $0 * $1 }
        var sums = start
        for r in 0..<rows { for j in 0..<cols { sums[j] += scaled[r * cols + j] } }
        for threads in [1, 3] {
            var m = m0, got = start
            m.withUnsafeMutableBufferPointer { mp in
                s.withUnsafeBufferPointer { sp in
                    got.withUnsafeMutableBufferPointer { gp in
                        scaleColumnSums(mp.baseAddress!, by: sp.baseAddress!, rows: rows, cols: cols,
                                        into: gp.baseAddress!, threads: threads)
                    }
                }
            }
            XCTAssertEqual(m.map(\.bitPattern), scaled.map(\.bitPattern), "products, \(threads) threads")
            XCTAssertEqual(got.map(\.bitPattern), sums.map(\.bitPattern), "sums, \(threads) threads")
            var onlyScaled = m0
            onlyScaled.withUnsafeMutableBufferPointer { mp in
                s.withUnsafeBufferPointer { sp in
                    scaleColumnSums(mp.baseAddress!, by: sp.baseAddress!, rows: rows, cols: cols, into: nil, threads: threads)
                }
            }
            XCTAssertEqual(onlyScaled.map(\.bitPattern), scaled.map(\.bitPattern), "no sums, \(threads) threads")
        }
    }
}
