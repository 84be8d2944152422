import Tensor
import TestSupport
import XCTest

/// topK and argsort: hand-computed orders with ties, a brute-force reference (an insertion
/// sort written here, stable by construction), NaN placement and value gradients.
final class SortTests: XCTestCase {
    override func setUp() { Autograd.reset() }

    /// Stable order of `row` by insertion sort: an element moves left only past strictly
    /// worse ones. NaN ranks last.
    func referenceOrder(_ row: [Float], descending: Bool) -> [Int] {
        func before(_ a: Float, _ b: Float) -> Bool {
            if a.isNaN { return false }
            if b.isNaN { return true }
            return descending ? a > b : a < b
        }
        var order: [Int] = []
        for i in 0..<row.count {
            var pos = order.count
            while pos > 0 && before(row[i], row[order[pos - 1]]) { pos -= 1 }
            order.insert(i, at: pos)
        }
        return order
    }

    func testTopKHandComputedTies() {
        let x = Tensor(shape: [3, 4], scalars: [1, 3, 3, 2,
                                                5, 5, 5, 5,
                                                -1, 0, 4, 0])
        let (v2, i2) = topK(x, 2)
        XCTAssertEqual(v2.shape, [3, 2])
        XCTAssertEqual(v2.scalars, [3, 3, 5, 5, 4, 0])
        XCTAssertEqual(i2, [1, 2, 0, 1, 2, 1])
        let (v1, i1) = topK(x, 1)
        XCTAssertEqual(v1.scalars, [3, 5, 4])
        XCTAssertEqual(i1, [1, 0, 2])
        let (v4, i4) = topK(x, 4)
        XCTAssertEqual(v4.scalars, [3, 3, 2, 1, 5, 5, 5, 5, 4, 0, 0, -1])
        XCTAssertEqual(i4, [1, 2, 3, 0, 0, 1, 2, 3, 2, 1, 3, 0])
        let (v0, i0) = topK(x, 0)
        XCTAssertEqual(v0.shape, [3, 0])
        XCTAssertEqual(i0, [])
        // A 1-D input is one row.
        let (v, i) = topK(Tensor(shape: [3], scalars: [0.5, 2, 2]), 2)
        XCTAssertEqual(v.shape, [2])
        XCTAssertEqual(i, [1, 2])
    }

    func testTopKAgainstReference() {
        var rng = RNG(seed: 31)
        // Small integer values give many ties; C = 50 with k = 40 exercises the sort path.
        for (shape, ks) in [([6, 5], [1, 2, 3, 5]), ([2, 3, 8], [1, 2, 8]), ([4, 50], [1, 2, 31, 32, 33, 40, 50]),
                            ([5, 1], [1]), ([64], [2, 64])] {
            let c = shape.last!
            let rows = shape.dropLast().reduce(1, *)
            let x = Tensor(shape: shape, scalars: (0..<(rows * c)).map { _ in Float(rng.int(7)) - 3 })
            for k in ks {
                let (values, indices) = topK(x, k)
                XCTAssertEqual(values.shape, Array(shape.dropLast()) + [k])
                for r in 0..<rows {
                    let row = Array(x.scalars[(r * c)..<((r + 1) * c)])
                    let expected = Array(referenceOrder(row, descending: true).prefix(k))
                    XCTAssertEqual(Array(indices[(r * k)..<((r + 1) * k)]), expected, "shape \(shape) k \(k) row \(r)")
                    XCTAssertEqual(Array(values.scalars[(r * k)..<((r + 1) * k)]), expected.map { row[$0] })
                }
            }
        }
    }

    func testTopKNaNRanksLast() {
        let nan = Float.nan
        for k in [1, 2, 3] {
            let x = Tensor(shape: [2, 3], scalars: [nan, 1, 2, 1, nan, nan])
            let (_, i) = topK(x, k)
            let expected = [[2, 1, 0], [0, 1, 2]].flatMap { $0.prefix(k) }
            XCTAssertEqual(i, expected, "k \(k)")
        }
        let wide = Tensor(shape: [40], scalars: (0..<40).map { $0 % 3 == 0 ? nan : Float($0) })
        let (_, i) = topK(wide, 40)
        XCTAssertEqual(i, referenceOrder(wide.scalars, descending: true))
    }

    func testTopKGradients() {
        var rng = RNG(seed: 32)
        for (shape, k) in [([5, 6], 2), ([3, 4], 1), ([2, 2, 5], 3), ([1, 1], 1), ([2, 40], 36)] {
            // Well-separated values so that the perturbation never changes the selection.
            let n = shape.reduce(1, *)
            let perm = rng.permutation(n).map { Float($0) * 0.1 }
            let x = Tensor(shape: shape, scalars: perm)
            checkGradients([x], step: 1e-2, "topK \(shape) k \(k)") { topK($0[0], k).values }
        }
        // Gradient goes to the selected positions only.
        let x = Tensor(shape: [1, 4], scalars: [0.1, 0.9, 0.4, 0.7], requiresGrad: true)
        topK(x, 2).values.backward(seed: Tensor(shape: [1, 2], scalars: [10, 20]))
        XCTAssertEqual(x.grad!.scalars, [0, 10, 0, 20])
    }

    func testArgsortHandComputedAndStable() {
        let x = Tensor(shape: [2, 5], scalars: [3, 1, 2, 1, 3,
                                                0, 0, 0, 0, 0])
        XCTAssertEqual(argsort(x, descending: false), [1, 3, 2, 0, 4, 0, 1, 2, 3, 4])
        XCTAssertEqual(argsort(x, descending: true), [0, 4, 2, 1, 3, 0, 1, 2, 3, 4])
        XCTAssertEqual(argsort(Tensor(shape: [1], scalars: [5])), [0])
        let nan = Float.nan
        let withNaN = Tensor(shape: [4], scalars: [nan, 2, -1, nan])
        XCTAssertEqual(argsort(withNaN, descending: false), [2, 1, 0, 3])
        XCTAssertEqual(argsort(withNaN, descending: true), [1, 2, 0, 3])
    }

    func testArgsortAgainstReference() {
        var rng = RNG(seed: 33)
        for shape in [[7, 9], [3, 2, 17], [1, 1], [200]] {
            let c = shape.last!
            let rows = shape.dropLast().reduce(1, *)
            let x = Tensor(shape: shape, scalars: (0..<(rows * c)).map { _ in Float(rng.int(5)) })
            for descending in [false, true] {
                let got = argsort(x, descending: descending)
                XCTAssertEqual(got.count, rows * c)
                for r in 0..<rows {
                    let row = Array(x.scalars[(r * c)..<((r + 1) * c)])
                    XCTAssertEqual(Array(got[(r * c)..<((r + 1) * c)]), referenceOrder(row, descending: descending),
                                   "shape \(shape) descending \(descending) row \(r)")
                }
            }
        }
    }

    func testFlopsAreZero() {
        let counter = FlopCounter()
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 6, 5, 4], requiresGrad: true)
        Flops.counting(into: counter) {
            _ = argsort(x, descending: true)
            topK(x, 2).values.backward()
        }
        XCTAssertEqual(counter.total, 0)
        XCTAssertEqual(x.grad!.scalars, [0, 1, 1, 1, 1, 0])
    }
}
