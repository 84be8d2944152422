import Foundation
import Tensor
import TestSupport
import XCTest

/// Row-major multi-index of flat position `i` in `shape`.
private func unravel(_ i: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var rem = i
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = rem % shape[d]
        rem /= shape[d]
    }
    return idx
}

private func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
    var off = 0
    for d in 0..<shape.count { off = off * shape[d] + idx[d] }
    return off
}

private func iota(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<n).map(Float.init))
}

final class ShapeIndexingTests: XCTestCase {
    override func tearDown() { Autograd.reset() }

    // MARK: reshape

    func testReshapeInfersAndSharesStorage() {
        let x = iota([2, 3, 4])
        let y = x.reshaped([4, -1])
        XCTAssertEqual(y.shape, [4, 6])
        XCTAssertTrue(y.storage === x.storage)
        XCTAssertEqual(y.scalars, x.scalars)
        y.data[5] = 100
        XCTAssertEqual(x.data[5], 100)
        XCTAssertEqual(x.reshaped([-1]).shape, [24])
        XCTAssertEqual(x.reshaped([2, 1, 12]).shape, [2, 1, 12])
        XCTAssertEqual(Tensor(scalar: 3).reshaped([1, 1]).shape, [1, 1])
        XCTAssertEqual(Tensor(zeros: [0, 3]).reshaped([3, -1, 1]).shape, [3, 0, 1])
    }

    func testReshapeGradient() {
        var rng = RNG(seed: 1)
        let x = randomTensor([3, 1, 4], &rng)
        // The square makes the gradient depend on which element went where.
        checkGradients([x], "reshape") { $0[0].reshaped([2, -1]) * $0[0].reshaped([2, 6]) }
        // Without gradients no tape entry is recorded.
        let y = Tensor(zeros: [2, 2])
        _ = y.reshaped([4])
        XCTAssertEqual(Autograd.tapeCount, 0)
    }

    // MARK: permute / transpose

    func testTransposeHandComputed() {
        let x = iota([2, 3])
        let t = x.transposed(0, 1)
        XCTAssertEqual(t.shape, [3, 2])
        XCTAssertEqual(t.scalars, [0, 3, 1, 4, 2, 5])
        XCTAssertFalse(t.storage === x.storage)
        XCTAssertEqual(x.transposed(-1, -2).scalars, t.scalars)
        XCTAssertEqual(x.transposed(1, 1).scalars, x.scalars)
    }

    /// Every permutation of ranks 1-4 over shapes with size-1, odd and large (tiled) sizes,
    /// against direct index arithmetic.
    func testPermuteMatchesIndexArithmetic() {
        func permutations(_ n: Int) -> [[Int]] {
            if n == 0 { return [[]] }
            var out: [[Int]] = []
            for p in permutations(n - 1) {
                for pos in 0...p.count { var q = p; q.insert(n - 1, at: pos); out.append(q) }
            }
            return out
        }
        let shapes: [[Int]] = [[5], [3, 17], [20, 33], [1, 4, 3], [2, 1, 5, 3], [3, 18, 19], [2, 3, 4, 5], [4, 1, 1, 6]]
        for shape in shapes {
            let x = iota(shape)
            for p in permutations(shape.count) {
                let y = x.permuted(p)
                let outShape = p.map { shape[$0] }
                XCTAssertEqual(y.shape, outShape)
                var expected = [Float](repeating: 0, count: x.count)
                for i in 0..<x.count {
                    let oi = unravel(i, outShape)
                    var src = [Int](repeating: 0, count: shape.count)
                    for d in 0..<p.count { src[p[d]] = oi[d] }
                    expected[i] = Float(ravel(src, shape))
                }
                XCTAssertEqual(y.scalars, expected, "shape \(shape) perm \(p)")
            }
        }
    }

    func testPermuteGradient() {
        var rng = RNG(seed: 2)
        for (shape, perm) in [([2, 3, 4], [2, 0, 1]), ([1, 5, 2], [1, 2, 0]), ([3, 2], [1, 0]), ([2, 1, 3, 2], [3, 1, 0, 2])] {
            let x = randomTensor(shape, &rng)
            let w = randomTensor(perm.map { shape[$0] }, &rng)
            checkGradients([x], "permute \(shape) \(perm)") { $0[0].permuted(perm) * w }
        }
        let x = randomTensor([3, 4], &rng)
        checkGradients([x], "transpose") { $0[0].transposed(0, 1) }
    }

    // MARK: concat / split

    func testConcatHandComputed() {
        let a = Tensor(shape: [2, 1], scalars: [1, 2])
        let b = Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])
        let c = Tensor.concat([a, b], axis: 1)
        XCTAssertEqual(c.shape, [2, 3])
        XCTAssertEqual(c.scalars, [1, 3, 4, 2, 5, 6])
        let d = Tensor.concat([b, a.reshaped([1, 2])], axis: 0)
        XCTAssertEqual(d.shape, [3, 2])
        XCTAssertEqual(d.scalars, [3, 4, 5, 6, 1, 2])
        let e = Tensor.concat([Tensor(shape: [2], scalars: [1, 2]), Tensor(zeros: [0]), Tensor(shape: [1], scalars: [7])], axis: -1)
        XCTAssertEqual(e.scalars, [1, 2, 7])
    }

    func testConcatGradient() {
        var rng = RNG(seed: 3)
        for axis in [0, 1, 2, -1] {
            var shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
            let a = axis < 0 ? 2 : axis
            shapes[0][a] = 1
            shapes[2][a] = 3
            let xs = shapes.map { randomTensor($0, &rng) }
            // Only the first and last inputs need gradients; the middle one must not get any.
            xs[1].requiresGrad = false
            checkGradients([xs[0], xs[2]], "concat axis \(axis)") { Tensor.concat([$0[0], xs[1], $0[1]], axis: axis) }
            XCTAssertNil(xs[1].gradStorage)
        }
    }

    func testSplitHandComputedAndGradient() {
        let x = iota([2, 5])
        let parts = x.split([2, 0, 3], axis: 1)
        XCTAssertEqual(parts.map(\.shape), [[2, 2], [2, 0], [2, 3]])
        XCTAssertEqual(parts[0].scalars, [0, 1, 5, 6])
        XCTAssertEqual(parts[2].scalars, [2, 3, 4, 7, 8, 9])
        let rows = x.split([1, 1], axis: 0)
        XCTAssertEqual(rows[1].scalars, [5, 6, 7, 8, 9])

        var rng = RNG(seed: 4)
        let y = randomTensor([3, 6, 2], &rng)
        // Reassembling the pieces in another order checks that each piece's gradient lands
        // in its own slice.
        checkGradients([y], "split axis 1") {
            let p = $0[0].split([1, 2, 3], axis: 1)
            return Tensor.concat([p[2], p[0], p[1]], axis: 1) * Tensor.concat([p[1], p[2], p[0]], axis: 1)
        }
        checkGradients([y], "split axis -1, one piece unused") { $0[0].split([1, 1], axis: -1)[1] }
    }

    // MARK: embedding / indexSelect

    func testEmbeddingHandComputedAndScatterBackward() {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let out = embedding(table, [2, 0, 2])
        XCTAssertEqual(out.shape, [3, 2])
        XCTAssertEqual(out.scalars, [5, 6, 1, 2, 5, 6])
        out.backward(seed: Tensor(shape: [3, 2], scalars: [1, 10, 100, 1000, 2, 20]))
        // Row 2 is used twice (its gradients add), row 1 never.
        XCTAssertEqual(table.grad!.scalars, [100, 1000, 0, 0, 3, 30])
        XCTAssertEqual(embedding(table, []).shape, [0, 2])
    }

    func testEmbeddingGradient() {
        var rng = RNG(seed: 5)
        let table = randomTensor([5, 3], &rng)
        checkGradients([table], "embedding") { embedding($0[0], [1, 4, 1, 1, 0]) * embedding($0[0], [4, 4, 2, 1, 3]) }
    }

    func testIndexSelectAnyRank() {
        let x = iota([3, 2, 2])
        let y = x.indexSelect(rows: [2, 2, 0])
        XCTAssertEqual(y.shape, [3, 2, 2])
        XCTAssertEqual(y.scalars, [8, 9, 10, 11, 8, 9, 10, 11, 0, 1, 2, 3])
        XCTAssertEqual(iota([4]).indexSelect(rows: [3, 1]).scalars, [3, 1])
        XCTAssertEqual(x.indexSelect(rows: []).shape, [0, 2, 2])

        var rng = RNG(seed: 6)
        let z = randomTensor([4, 3, 2], &rng)
        checkGradients([z], "indexSelect rank 3") { $0[0].indexSelect(rows: [3, 0, 3, 3, 1]) }
        let v = randomTensor([1], &rng)
        checkGradients([v], "indexSelect rank 1") { $0[0].indexSelect(rows: [0, 0]) }
    }

    // MARK: scatterAdd

    func testScatterAddHandComputed() {
        let src = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [3], scalars: [0.5, 2, -1])
        let out = scatterAdd(src, rows: [1, 3, 1], count: 4, weights: w)
        XCTAssertEqual(out.shape, [4, 2])
        // row 1 = 0.5·(1, 2) − (5, 6); row 3 = 2·(3, 4); rows 0 and 2 untouched.
        XCTAssertEqual(out.scalars, [0, 0, -4.5, -5, 0, 0, 6, 8])
        let plain = scatterAdd(src, rows: [0, 0, 1], count: 2)
        XCTAssertEqual(plain.scalars, [4, 6, 5, 6])
        let w2 = Tensor(shape: [3, 1], scalars: [0.5, 2, -1])
        XCTAssertEqual(scatterAdd(src, rows: [1, 3, 1], count: 4, weights: w2).scalars, out.scalars)
        XCTAssertEqual(scatterAdd(Tensor(zeros: [0, 2]), rows: [], count: 2).scalars, [0, 0, 0, 0])
    }

    func testScatterAddGradients() {
        var rng = RNG(seed: 7)
        let rows = [2, 0, 2, 4, 2]
        for wShape in [[5], [5, 1]] {
            let src = randomTensor([5, 3], &rng)
            let w = randomTensor(wShape, &rng)
            checkGradients([src, w], "scatterAdd weights \(wShape)") {
                scatterAdd($0[0], rows: rows, count: 6, weights: $0[1])
            }
        }
        let src3 = randomTensor([4, 2, 3], &rng)
        let w = randomTensor([4], &rng)
        checkGradients([src3, w], "scatterAdd rank 3") { scatterAdd($0[0], rows: [1, 1, 0, 1], count: 2, weights: $0[1]) }
        checkGradients([src3], "scatterAdd unweighted") { scatterAdd($0[0], rows: [1, 1, 0, 1], count: 3) }
        // Gradient to the weights only.
        let fixedSrc = randomTensor([3, 2], &rng)
        let w1 = randomTensor([3], &rng)
        checkGradients([w1], "scatterAdd weights only") { scatterAdd(fixedSrc, rows: [0, 0, 0], count: 1, weights: $0[0]) }
    }

    /// MoE dispatch then combine: gathering each token's chosen rows and scattering them
    /// back with weights `w` gives `w_i · x_i` per token, and with two slots per token the
    /// sum of both.
    func testDispatchCombineRoundTrip() {
        var rng = RNG(seed: 8)
        let x = randomTensor([4, 3], &rng)
        let tokens = [3, 1, 0, 3, 2, 1]
        let dispatched = x.indexSelect(rows: tokens)
        let w = Tensor(shape: [6], scalars: [0.25, 1, 2, 0.75, -1, 0.5])
        let combined = scatterAdd(dispatched, rows: tokens, count: 4, weights: w)
        let scale: [Float] = [2, 1.5, -1, 1]  // per token: sum of its weights
        var expected = [Float](repeating: 0, count: 12)
        for t in 0..<4 { for j in 0..<3 { expected[t * 3 + j] = scale[t] * x.data[t * 3 + j] } }
        assertClose(combined, expected)
    }

    // MARK: gather

    func testGatherHandComputed() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let y = x.gather(indices: [2, 0, 1, 1], k: 2)
        XCTAssertEqual(y.shape, [2, 2])
        XCTAssertEqual(y.scalars, [3, 1, 5, 5])
        y.backward(seed: Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
        XCTAssertEqual(x.grad!.scalars, [2, 0, 1, 0, 7, 0])
        XCTAssertEqual(x.gather(indices: [], k: 0).shape, [2, 0])
    }

    func testGatherGradient() {
        var rng = RNG(seed: 9)
        let x = randomTensor([3, 5], &rng)
        checkGradients([x], "gather k 2") { $0[0].gather(indices: [4, 0, 2, 2, 1, 3], k: 2) }
        let x3 = randomTensor([2, 2, 3], &rng)
        checkGradients([x3], "gather rank 3, k 3") { $0[0].gather(indices: [0, 1, 2, 2, 2, 2, 1, 0, 0, 0, 0, 0], k: 3) }
        let x1 = randomTensor([1, 1], &rng)
        checkGradients([x1], "gather 1×1") { $0[0].gather(indices: [0], k: 1) }
    }

    // MARK: FLOPs

    func testFlopCounts() {
        var rng = RNG(seed: 10)
        let x = randomTensor([4, 3], &rng)
        let w = randomTensor([4], &rng)
        x.requiresGrad = true
        w.requiresGrad = true
        let moves = FlopCounter()
        Flops.counting(into: moves) {
            let a = x.reshaped([3, 4]).transposed(0, 1)
            let b = Tensor.concat(a.split([1, 2], axis: 1), axis: 1)
            let c = b.indexSelect(rows: [0, 1]).gather(indices: [0, 1, 2, 0], k: 2)
            let d = scatterAdd(c, rows: [1, 0], count: 2)
            let e = embedding(d, [1])
            e.backward(seed: Tensor(shape: e.shape, repeating: 1))
        }
        XCTAssertEqual(moves.total, 0)
        let weighted = FlopCounter()
        Flops.counting(into: weighted) {
            let out = scatterAdd(x, rows: [0, 2, 2, 1], count: 3, weights: w)
            out.backward(seed: Tensor(shape: out.shape, repeating: 1))
        }
        XCTAssertEqual(weighted.forward(.other), 2 * 12)
        XCTAssertEqual(weighted.backward(.other), 12 + 2 * 12)
    }
}
