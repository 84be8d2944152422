// Reference fixtures (Fixtures/attention_reference.json) are written by a plain-loop float64
// NumPy reference; regenerate with
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_c.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class AttentionTests: XCTestCase {
    /// One head, d = 1, so scores are q_i·k_j: q = [1, 2], k = [0, ln 3], v = [4, 8].
    /// Row 0: softmax(0, ln 3) = (1/4, 3/4) -> 1 + 6 = 7.
    /// Row 1: softmax(0, 2 ln 3) = (1/10, 9/10) -> 0.4 + 7.2 = 7.6.
    func testHandComputed() {
        let q = Tensor(shape: [1, 2, 1], scalars: [1, 2])
        let k = Tensor(shape: [1, 2, 1], scalars: [0, Float(log(3.0))])
        let v = Tensor(shape: [1, 2, 1], scalars: [4, 8])
        assertClose(attention(q, k, v, heads: 1, keyMask: nil), [7, 7.6])
        // Masking key 1 leaves only v_0 = 4; masking key 0 leaves v_1 = 8.
        assertClose(attention(q, k, v, heads: 1, keyMask: [true, false]), [4, 4])
        assertClose(attention(q, k, v, heads: 1, keyMask: [false, true]), [8, 8])
    }

    /// Two heads of width 2, d = 4: the scale is 1/sqrt(2) and each head only sees its
    /// own slice. Head 0 has equal keys (uniform weights, the mean of v); head 1 has
    /// q·k_1 − q·k_0 = 2·sqrt(2)·ln 2 / sqrt(2) = 2 ln 2, so weights (1/5, 4/5).
    func testHeadsUseTheirOwnSlices() {
        let l = Float(sqrt(2.0) * log(2.0))
        let q = Tensor(shape: [1, 1, 4], scalars: [1, -1, 1, 1])
        let k = Tensor(shape: [1, 2, 4], scalars: [0.5, 0.5, 0, 0,
                                                   0.5, 0.5, l, l])
        let v = Tensor(shape: [1, 2, 4], scalars: [1, 2, 10, 20,
                                                   3, 6, 30, 40])
        assertClose(attention(q, k, v, heads: 2, keyMask: nil),
                    [2, 4, 0.2 * 10 + 0.8 * 30, 0.2 * 20 + 0.8 * 40])
    }

    func testFullyMaskedRowsAreZeroWithoutNaN() {
        var rng = RNG(seed: 5)
        let q = randomTensor([2, 3, 4], &rng), k = randomTensor([2, 3, 4], &rng), v = randomTensor([2, 3, 4], &rng)
        for t in [q, k, v] { t.requiresGrad = true }
        let mask = [true, false, true, false, false, false]
        let out = attention(q, k, v, heads: 2, keyMask: mask)
        XCTAssertTrue(out.scalars.allSatisfy { $0.isFinite })
        XCTAssertEqual(Array(out.scalars[12..<24]), [Float](repeating: 0, count: 12))
        out.backward(seed: Tensor(shape: out.shape, repeating: 1))
        for t in [q, k, v] {
            let g = t.grad!.scalars
            XCTAssertTrue(g.allSatisfy { $0.isFinite })
            // Batch 1 is fully masked: no gradient reaches its q, k or v.
            XCTAssertEqual(Array(g[12..<24]), [Float](repeating: 0, count: 12))
        }
        // Masked keys of batch 0 (key 1) receive no gradient either.
        XCTAssertEqual(Array(k.grad!.scalars[4..<8]), [0, 0, 0, 0])
        XCTAssertEqual(Array(v.grad!.scalars[4..<8]), [0, 0, 0, 0])
        Autograd.reset()
    }

    func testGradientsFiniteDifference() {
        var rng = RNG(seed: 11)
        // (B, Tq, Tk, d, heads, masked)
        let cases: [(Int, Int, Int, Int, Int, Bool)] = [
            (1, 1, 1, 1, 1, false), (2, 1, 1, 4, 2, true), (2, 3, 3, 6, 3, false), (2, 3, 3, 6, 3, true),
            (2, 4, 4, 5, 1, true), (1, 5, 5, 4, 2, false), (3, 2, 3, 6, 2, true), (2, 3, 1, 3, 3, false),
        ]
        for (B, Tq, Tk, d, heads, masked) in cases {
            let q = randomTensor([B, Tq, d], &rng, -1.5, 1.5)
            let k = randomTensor([B, Tk, d], &rng, -1.5, 1.5)
            let v = randomTensor([B, Tk, d], &rng)
            // Each batch element keeps at least one key except the last one when B > 1 and
            // the case is masked (a fully masked row, whose gradient must be zero).
            var mask: [Bool]? = nil
            if masked {
                var m = [Bool](repeating: true, count: B * Tk)
                for b in 0..<B {
                    for t in 0..<Tk where t > 0 && rng.uniform() < 0.4 { m[b * Tk + t] = false }
                }
                if B > 1 { for t in 0..<Tk { m[(B - 1) * Tk + t] = false } }
                mask = m
            }
            checkGradients([q, k, v], "B\(B) Tq\(Tq) Tk\(Tk) d\(d) heads\(heads) mask \(String(describing: mask))") {
                attention($0[0], $0[1], $0[2], heads: heads, keyMask: mask)
            }
        }
    }

    func testGradientsToEachInputAlone() {
        var rng = RNG(seed: 12)
        let q = randomTensor([2, 3, 4], &rng), k = randomTensor([2, 3, 4], &rng), v = randomTensor([2, 3, 4], &rng)
        let mask = [true, true, false, true, false, true]
        // Only one input requires a gradient at a time (the other paths are skipped).
        for i in 0..<3 {
            let others = Set([0, 1, 2]).subtracting([i])
            for t in [q, k, v] { t.requiresGrad = false }
            checkGradients([q, k, v], skip: others, "input \(i) alone") {
                attention($0[0], $0[1], $0[2], heads: 2, keyMask: mask)
            }
        }
    }

    struct Fixture: Decodable {
        let name: String
        let B: Int, Tq: Int, Tk: Int, d: Int, heads: Int
        let mask: [Bool]?
        let q: [Float], k: [Float], v: [Float], out: [Float], upstream: [Float]
        let gradQ: [Float], gradK: [Float], gradV: [Float]
    }

    func testMatchesNumPyPlainLoopReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "attention_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let fixtures = try JSONDecoder().decode([Fixture].self, from: Data(contentsOf: url))
        XCTAssertEqual(fixtures.count, 4)
        for f in fixtures {
            let q = Tensor(shape: [f.B, f.Tq, f.d], scalars: f.q, requiresGrad: true)
            let k = Tensor(shape: [f.B, f.Tk, f.d], scalars: f.k, requiresGrad: true)
            let v = Tensor(shape: [f.B, f.Tk, f.d], scalars: f.v, requiresGrad: true)
            let out = attention(q, k, v, heads: f.heads, keyMask: f.mask)
            XCTAssertEqual(out.shape, [f.B, f.Tq, f.d])
            assertClose(out, f.out, atol: 1e-5, rtol: 1e-4, f.name)
            out.backward(seed: Tensor(shape: out.shape, scalars: f.upstream))
            assertClose(q.grad!, f.gradQ, atol: 5e-5, rtol: 1e-3, "dq " + f.name)
            assertClose(k.grad!, f.gradK, atol: 5e-5, rtol: 1e-3, "dk " + f.name)
            assertClose(v.grad!, f.gradV, atol: 5e-5, rtol: 1e-3, "dv " + f.name)
        }
    }

    func testFlopCounts() {
        var rng = RNG(seed: 13)
        let B = 2, T = 3, d = 6, heads = 3, dh = 2
        let n = B * heads * T * T
        let q = randomTensor([B, T, d], &rng), k = randomTensor([B, T, d], &rng), v = randomTensor([B, T, d], &rng)
        for t in [q, k, v] { t.requiresGrad = true }
        let counter = FlopCounter()
        Flops.counting(into: counter) {
            let out = Flops.withCategory(.attention) { attention(q, k, v, heads: heads, keyMask: nil) }
            out.backward(seed: Tensor(shape: out.shape, repeating: 1))
        }
        XCTAssertEqual(counter.forward(.attention), 4 * n * dh + 5 * n)
        XCTAssertEqual(counter.backward(.attention), 8 * n * dh + 4 * n)
        XCTAssertEqual(counter.total, counter.forward(.attention) + counter.backward(.attention))

        // Only v needs a gradient: one product backward, no softmax backward.
        q.requiresGrad = false; k.requiresGrad = false
        q.zeroGrad(); k.zeroGrad(); v.zeroGrad()
        let counter2 = FlopCounter()
        Flops.counting(into: counter2) {
            let out = Flops.withCategory(.attention) { attention(q, k, v, heads: heads, keyMask: nil) }
            out.backward(seed: Tensor(shape: out.shape, repeating: 1))
        }
        XCTAssertEqual(counter2.backward(.attention), 2 * n * dh)
        XCTAssertNil(q.grad)
    }

    func testNoTapeEntryWithoutGradients() {
        var rng = RNG(seed: 14)
        let q = randomTensor([1, 2, 2], &rng)
        Autograd.reset()
        let out = attention(q, q, q, heads: 1, keyMask: nil)
        XCTAssertEqual(Autograd.tapeCount, 0)
        XCTAssertFalse(out.requiresGrad)
    }
}
