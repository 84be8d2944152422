import Tensor
import TestSupport
import XCTest

/// Shape ops (reshape, transpose, permute, concat, split) and indexing ops (embedding,
/// indexSelect, scatterAdd, gather): hand-computed values, brute-force index references,
/// finite-difference gradients and FLOP counts.
final class ShapeIndexingTests: XCTestCase {
    override func setUp() { Autograd.reset() }

    // MARK: reshape

    func testReshapeValuesInferenceAndSharedStorage() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let y = x.reshaped([3, -1])
        XCTAssertEqual(y.shape, [3, 2])
        XCTAssertEqual(y.scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(y.storage === x.storage, "reshape must not copy")
        XCTAssertEqual(x.reshaped([-1]).shape, [6])
        XCTAssertEqual(x.reshaped([1, 6, 1]).shape, [1, 6, 1])
        XCTAssertEqual(Tensor(scalar: 3).reshaped([1, 1]).shape, [1, 1])
        XCTAssertEqual(Tensor(shape: [1], scalars: [3]).reshaped([]).shape, [])
    }

    func testReshapeGradients() {
        var rng = RNG(seed: 21)
        for (shape, target) in [([2, 3, 4], [6, -1]), ([1], [1, 1]), ([5, 1], [-1]), ([3, 5], [5, 3])] {
            let x = randomTensor(shape, &rng)
            checkGradients([x], "reshape \(shape) -> \(target)") { $0[0].reshaped(target) }
            // Through a later op that reads the view: the gradient flows back into x.
            let b = randomTensor([x.count], &rng)
            checkGradients([x, b], "reshape then multiply") { $0[0].reshaped([-1]) * $0[1] }
        }
    }

    func testReshapeGradientAccumulatesWithOtherUses() {
        // y = x·2 + reshape(x): dy/dx = 3 everywhere.
        let x = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4], requiresGrad: true)
        let y = x * 2 + x.reshaped([4]).reshaped([2, 2])
        y.sum().backward()
        XCTAssertEqual(x.grad!.scalars, [3, 3, 3, 3])
    }

    // MARK: transpose / permute

    func testTransposeHandComputed() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let t = x.transposed(0, 1)
        XCTAssertEqual(t.shape, [3, 2])
        XCTAssertEqual(t.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(x.transposed(-1, -2).scalars, t.scalars)
        let y = Tensor(shape: [2, 2, 2], scalars: [0, 1, 2, 3, 4, 5, 6, 7])
        // out[i, j, k] = y[k, j, i]
        XCTAssertEqual(y.transposed(0, 2).scalars, [0, 4, 2, 6, 1, 5, 3, 7])
        XCTAssertEqual(y.transposed(1, 1).scalars, y.scalars)
    }

    /// Brute-force reference: `out[i] = x[j]` with `j[perm[k]] = i[k]`.
    func referencePermute(_ x: Tensor, _ perm: [Int]) -> [Float] {
        let outShape = perm.map { x.shape[$0] }
        let n = outShape.reduce(1, *)
        var inStrides = [Int](repeating: 1, count: x.rank)
        for d in stride(from: x.rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * x.shape[d + 1] }
        var result = [Float]()
        for flat in 0..<n {
            var rem = flat, src = 0
            for k in stride(from: outShape.count - 1, through: 0, by: -1) {
                let i = rem % outShape[k]
                rem /= outShape[k]
                src += i * inStrides[perm[k]]
            }
            result.append(x.data[src])
        }
        return result
    }

    func testPermuteAgainstBruteForce() {
        var rng = RNG(seed: 22)
        let shapes: [[Int]] = [[7], [1, 5], [3, 4], [2, 3, 4], [2, 1, 3, 5], [40, 37], [3, 33, 35], [1, 1, 1]]
        for shape in shapes {
            let x = randomTensor(shape, &rng)
            for _ in 0..<6 {
                let perm = rng.permutation(shape.count)
                let y = x.permuted(perm)
                XCTAssertEqual(y.shape, perm.map { shape[$0] })
                XCTAssertEqual(y.scalars, referencePermute(x, perm), "permute \(shape) by \(perm)")
            }
        }
        let empty = Tensor(zeros: [2, 0, 3])
        XCTAssertEqual(empty.permuted([2, 0, 1]).shape, [3, 2, 0])
    }

    func testPermuteAndTransposeGradients() {
        var rng = RNG(seed: 23)
        for shape in [[1, 3], [3, 4], [2, 3, 5], [2, 1, 3, 2]] {
            let x = randomTensor(shape, &rng)
            for _ in 0..<3 {
                let perm = rng.permutation(shape.count)
                checkGradients([x], "permute \(shape) \(perm)") { $0[0].permuted(perm) }
            }
            checkGradients([x], "transpose \(shape)") { $0[0].transposed(0, -1) }
        }
        // Large enough for the tiled path: the gradient must be the inverse permutation.
        let x = randomTensor([34, 35], &rng)
        x.requiresGrad = true
        let seed = randomTensor([35, 34], &rng)
        x.transposed(0, 1).backward(seed: seed)
        XCTAssertEqual(x.grad!.scalars, seed.transposed(0, 1).scalars)
    }

    // MARK: concat / split

    func testConcatAndSplitHandComputed() {
        let a = Tensor(shape: [2, 1], scalars: [1, 2])
        let b = Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])
        let c = Tensor.concat([a, b], axis: 1)
        XCTAssertEqual(c.shape, [2, 3])
        XCTAssertEqual(c.scalars, [1, 3, 4, 2, 5, 6])
        let r = Tensor.concat([b, Tensor(shape: [1, 2], scalars: [7, 8])], axis: 0)
        XCTAssertEqual(r.scalars, [3, 4, 5, 6, 7, 8])
        let parts = c.split([1, 2], axis: -1)
        XCTAssertEqual(parts.map(\.shape), [[2, 1], [2, 2]])
        XCTAssertEqual(parts[0].scalars, a.scalars)
        XCTAssertEqual(parts[1].scalars, b.scalars)
        let rows = r.split([2, 0, 1], axis: 0)
        XCTAssertEqual(rows.map(\.shape), [[2, 2], [0, 2], [1, 2]])
        XCTAssertEqual(rows[2].scalars, [7, 8])
    }

    func testConcatSplitRoundTripAndGradients() {
        var rng = RNG(seed: 24)
        for axis in [0, 1, 2, -1] {
            var shapes: [[Int]] = []
            for size in [1, 3, 2] {
                var s = [2, 3, 4]
                s[(axis + 3) % 3] = size
                shapes.append(s)
            }
            let xs = shapes.map { randomTensor($0, &rng) }
            let joined = Tensor.concat(xs, axis: axis)
            let back = joined.split([1, 3, 2], axis: axis)
            for (p, x) in zip(back, xs) { XCTAssertEqual(p.scalars, x.scalars, "axis \(axis)") }
            checkGradients(xs, "concat axis \(axis)") { Tensor.concat($0, axis: axis) }
            for piece in 0..<3 {
                checkGradients([joined.copy()], "split axis \(axis) piece \(piece)") {
                    $0[0].split([1, 3, 2], axis: axis)[piece]
                }
            }
            // Two pieces used at once accumulate into disjoint slices.
            let w = randomTensor(shapes[0], &rng)
            checkGradients([joined.copy(), w], "split pieces 0 and 2, axis \(axis)") {
                let p = $0[0].split([1, 3, 2], axis: axis)
                return Tensor.concat([p[0] * $0[1], p[2]], axis: axis)
            }
        }
    }

    // MARK: embedding / indexSelect

    func testEmbeddingHandComputedAndRepeatedIds() {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let e = embedding(table, [2, 0, 2, 2])
        XCTAssertEqual(e.shape, [4, 2])
        XCTAssertEqual(e.scalars, [5, 6, 1, 2, 5, 6, 5, 6])
        e.backward(seed: Tensor(shape: [4, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40]))
        // Row 2 collects ids at positions 0, 2, 3; row 1 is never used.
        XCTAssertEqual(table.grad!.scalars, [2, 20, 0, 0, 8, 80])
        XCTAssertEqual(embedding(table, []).shape, [0, 2])
    }

    func testEmbeddingAndIndexSelectGradients() {
        var rng = RNG(seed: 25)
        let table = randomTensor([5, 3], &rng)
        checkGradients([table], "embedding") { embedding($0[0], [4, 0, 4, 1, 4]) }
        checkGradients([randomTensor([1, 1], &rng)], "embedding 1×1") { embedding($0[0], [0, 0, 0]) }
        for shape in [[4], [4, 3], [3, 2, 5], [1, 1, 1]] {
            let x = randomTensor(shape, &rng)
            let rows = (0..<7).map { _ in rng.int(shape[0]) } + [0, 0]
            checkGradients([x], "indexSelect \(shape) \(rows)") { $0[0].indexSelect(rows: rows) }
        }
    }

    func testIndexSelectValues() {
        let x = Tensor(shape: [3, 2, 2], scalars: (0..<12).map(Float.init))
        let y = x.indexSelect(rows: [2, 2, 0])
        XCTAssertEqual(y.shape, [3, 2, 2])
        XCTAssertEqual(y.scalars, [8, 9, 10, 11, 8, 9, 10, 11, 0, 1, 2, 3])
        let v = Tensor(shape: [4], scalars: [10, 20, 30, 40]).indexSelect(rows: [3, 1])
        XCTAssertEqual(v.shape, [2])
        XCTAssertEqual(v.scalars, [40, 20])
    }

    // MARK: scatterAdd

    func testScatterAddHandComputed() {
        let src = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let w = Tensor(shape: [3], scalars: [0.5, 2, -1], requiresGrad: true)
        let out = scatterAdd(src, rows: [1, 3, 1], count: 4, weights: w)
        XCTAssertEqual(out.shape, [4, 2])
        // row 1: 0.5·[1, 2] - [5, 6]; row 3: 2·[3, 4]; rows 0 and 2 stay 0.
        XCTAssertEqual(out.scalars, [0, 0, -4.5, -5, 0, 0, 6, 8])
        let g = Tensor(shape: [4, 2], scalars: [9, 9, 1, 2, 9, 9, 3, 4])
        out.backward(seed: g)
        XCTAssertEqual(src.grad!.scalars, [0.5, 1, 6, 8, -1, -2])
        // dw[i] = <g[rows[i]], src[i]>
        XCTAssertEqual(w.grad!.scalars, [1 + 4, 9 + 16, 5 + 12])
        let plain = Autograd.noGrad { scatterAdd(src, rows: [0, 0, 2], count: 3) }
        XCTAssertEqual(plain.scalars, [4, 6, 0, 0, 5, 6])
    }

    func testScatterAddGradients() {
        var rng = RNG(seed: 26)
        for (srcShape, count) in [([5, 3], 3), ([4, 2, 3], 6), ([1, 1], 1), ([6], 2)] {
            let src = randomTensor(srcShape, &rng)
            let n = srcShape[0]
            let rows = (0..<n).map { _ in rng.int(count) }
            let w = randomTensor([n], &rng), w2 = randomTensor([n, 1], &rng)
            checkGradients([src, w], "scatterAdd \(srcShape) weights [n]") {
                scatterAdd($0[0], rows: rows, count: count, weights: $0[1])
            }
            checkGradients([src, w2], "scatterAdd \(srcShape) weights [n, 1]") {
                scatterAdd($0[0], rows: rows, count: count, weights: $0[1])
            }
            checkGradients([src], "scatterAdd \(srcShape) unweighted") {
                scatterAdd($0[0], rows: rows, count: count)
            }
        }
        // All rows into one slot (the repeated-row extreme).
        let src = randomTensor([4, 3], &rng), w = randomTensor([4], &rng)
        checkGradients([src, w], "scatterAdd all into row 1") {
            scatterAdd($0[0], rows: [1, 1, 1, 1], count: 2, weights: $0[1])
        }
    }

    func testIndexSelectScatterAddRoundTrip() {
        // The MoE dispatch/combine pair: gathering rows and scattering them back with
        // weights summing to 1 per row reproduces the input.
        var rng = RNG(seed: 27)
        let x = randomTensor([5, 4], &rng)
        let rows = [0, 1, 2, 3, 4, 0, 2, 4]
        let w = Tensor(shape: [8], scalars: [0.25, 1, 0.5, 1, 0.1, 0.75, 0.5, 0.9])
        let y = scatterAdd(x.indexSelect(rows: rows), rows: rows, count: 5, weights: w)
        assertClose(y, x, atol: 1e-6)
    }

    // MARK: gather

    func testGatherHandComputedAndGradients() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let y = x.gather(indices: [2, 0, 1, 1], k: 2)
        XCTAssertEqual(y.shape, [2, 2])
        XCTAssertEqual(y.scalars, [3, 1, 5, 5])
        y.backward(seed: Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
        XCTAssertEqual(x.grad!.scalars, [2, 0, 1, 0, 7, 0])

        var rng = RNG(seed: 28)
        for (shape, k) in [([4, 5], 2), ([3, 1], 1), ([2, 3, 4], 3), ([1, 7], 7)] {
            let x = randomTensor(shape, &rng)
            let rows = shape.dropLast().reduce(1, *)
            let idx = (0..<(rows * k)).map { _ in rng.int(shape.last!) }
            checkGradients([x], "gather \(shape) k\(k)") { $0[0].gather(indices: idx, k: k) }
            XCTAssertEqual(x.gather(indices: idx, k: k).shape, Array(shape.dropLast()) + [k])
        }
    }

    // MARK: FLOPs

    func testFlopCounts() {
        var rng = RNG(seed: 29)
        let x = randomTensor([4, 3], &rng)
        x.requiresGrad = true
        let w = randomTensor([4], &rng)
        w.requiresGrad = true
        let movement = FlopCounter()
        Flops.counting(into: movement) {
            let y = Tensor.concat([x.reshaped([2, 6]).transposed(0, 1), x.reshaped([6, 2])], axis: 1)
            let z = embedding(y, [1, 1]).sum() + x.indexSelect(rows: [0, 3]).gather(indices: [0, 2], k: 1).sum()
                + scatterAdd(x, rows: [0, 1, 0, 1], count: 2).split([1, 1], axis: 0)[0].sum()
            z.backward()
        }
        // Only the sums (ops outside this file) count: the movement ops add nothing.
        let sumsOnly = FlopCounter()
        let a = Tensor(zeros: [2, 4]), b = Tensor(zeros: [2, 1]), c = Tensor(zeros: [1, 3])
        for t in [a, b, c] { t.requiresGrad = true }
        Flops.counting(into: sumsOnly) { (a.sum() + b.sum() + c.sum()).backward() }
        XCTAssertEqual(movement.forwardTotal, sumsOnly.forwardTotal)
        XCTAssertEqual(movement.backwardTotal, sumsOnly.backwardTotal)

        let weighted = FlopCounter()
        Flops.counting(into: weighted) {
            let out = scatterAdd(x, rows: [0, 1, 0, 1], count: 2, weights: w)
            out.backward()
        }
        XCTAssertEqual(weighted.forwardTotal, 2 * 4 * 3)
        XCTAssertEqual(weighted.backwardTotal, 2 * 4 * 3 + 2 * 4 * 3)
    }
}
