import Foundation
import Tensor
import TestSupport
import XCTest

/// Reference order by insertion sort, which is stable by construction: each element moves
/// left only past elements that rank strictly behind it. NaNs last.
private func referenceOrder(_ row: [Float], descending: Bool) -> [Int] {
    func behind(_ a: Float, _ b: Float) -> Bool {  // a ranks strictly behind b
        if b.isNaN { return false }
        if a.isNaN { return true }
        return descending ? a < b : a > b
    }
    var order: [Int] = []
    for j in 0..<row.count {
        var p = order.count
        while p > 0 && behind(row[order[p - 1]], row[j]) { p -= 1 }
        order.insert(j, at: p)
    }
    return order
}

final class SortTests: XCTestCase {
    override func tearDown() { Autograd.reset() }

    func testTopKHandComputedWithTies() {
        let x = Tensor(shape: [2, 4], scalars: [1, 3, 2, 3,
                                                5, -1, 5, 5])
        let (v2, i2) = topK(x, 2)
        XCTAssertEqual(v2.shape, [2, 2])
        XCTAssertEqual(v2.scalars, [3, 3, 5, 5])
        XCTAssertEqual(i2, [1, 3, 0, 2])
        let (v1, i1) = topK(x, 1)
        XCTAssertEqual(v1.shape, [2, 1])
        XCTAssertEqual(v1.scalars, [3, 5])
        XCTAssertEqual(i1, [1, 0])
        let (v4, i4) = topK(x, 4)
        XCTAssertEqual(v4.scalars, [3, 3, 2, 1, 5, 5, 5, -1])
        XCTAssertEqual(i4, [1, 3, 2, 0, 0, 2, 3, 1])
        let (v0, i0) = topK(x, 0)
        XCTAssertEqual(v0.shape, [2, 0])
        XCTAssertEqual(i0, [])
        // All equal: the lowest indices win.
        XCTAssertEqual(topK(Tensor(shape: [5], repeating: 7), 3).indices, [0, 1, 2])
        // Rank 1 and rank 3.
        XCTAssertEqual(topK(Tensor(shape: [3], scalars: [0, 9, 4]), 2).indices, [1, 2])
        let x3 = Tensor(shape: [2, 1, 3], scalars: [3, 1, 2, -1, -3, -2])
        let r3 = topK(x3, 2)
        XCTAssertEqual(r3.values.shape, [2, 1, 2])
        XCTAssertEqual(r3.indices, [0, 2, 0, 2])
    }

    func testTopKNaNRanksLast() {
        let x = Tensor(shape: [2, 3], scalars: [.nan, 1, 2, 4, .nan, 4])
        XCTAssertEqual(topK(x, 1).indices, [2, 0])
        XCTAssertEqual(topK(x, 2).indices, [2, 1, 0, 2])
        XCTAssertEqual(topK(x, 3).indices, [2, 1, 0, 0, 2, 1])
    }

    /// Random rows with many ties (values from a small set) against the stable reference,
    /// for the k = 1 path, the insertion path and the sorting path (k > 16).
    func testTopKMatchesStableReference() {
        var rng = RNG(seed: 21)
        for (rows, c) in [(7, 1), (9, 5), (6, 13), (3, 40)] {
            let scalars = (0..<(rows * c)).map { _ in Float(rng.int(5)) - 2 }
            let x = Tensor(shape: [rows, c], scalars: scalars)
            for k in Set([1, 2, 3, c / 2, c - 1, c, 17, 20]) where k >= 0 && k <= c {
                let (v, idx) = topK(x, k)
                var ev: [Float] = [], ei: [Int] = []
                for r in 0..<rows {
                    let ord = referenceOrder(Array(scalars[(r * c)..<((r + 1) * c)]), descending: true)
                    ei += ord.prefix(k)
                    ev += ord.prefix(k).map { scalars[r * c + $0] }
                }
                XCTAssertEqual(idx, ei, "rows \(rows) c \(c) k \(k)")
                XCTAssertEqual(v.scalars, ev, "rows \(rows) c \(c) k \(k)")
            }
        }
    }

    func testTopKGradient() {
        var rng = RNG(seed: 22)
        // Well-separated values (a shuffled ladder of step 0.1 plus small noise) so that the
        // finite-difference step never changes the selection.
        for (rows, c, k) in [(3, 5, 1), (4, 6, 2), (2, 3, 3), (1, 20, 18)] {
            var scalars: [Float] = []
            for _ in 0..<rows {
                scalars += rng.permutation(c).map { Float($0) * 0.1 + rng.uniform(-0.02, 0.02) }
            }
            let x = Tensor(shape: [rows, c], scalars: scalars)
            checkGradients([x], step: 5e-3, "topK rows \(rows) c \(c) k \(k)") { topK($0[0], k).values }
        }
        let x = Tensor(shape: [1, 3], scalars: [1, 3, 2], requiresGrad: true)
        let (v, _) = topK(x, 2)
        v.backward(seed: Tensor(shape: [1, 2], scalars: [10, 20]))
        XCTAssertEqual(x.grad!.scalars, [0, 10, 20])
    }

    func testArgsortStable() {
        let x = Tensor(shape: [2, 5], scalars: [2, 1, 2, 1, 3,
                                                0, 0, 0, -1, 0])
        XCTAssertEqual(argsort(x, descending: false), [1, 3, 0, 2, 4, 3, 0, 1, 2, 4])
        XCTAssertEqual(argsort(x, descending: true), [4, 0, 2, 1, 3, 0, 1, 2, 4, 3])
        let withNaN = Tensor(shape: [4], scalars: [.nan, 1, .nan, 0])
        XCTAssertEqual(argsort(withNaN, descending: false), [3, 1, 0, 2])
        XCTAssertEqual(argsort(withNaN, descending: true), [1, 3, 0, 2])
        XCTAssertEqual(argsort(Tensor(zeros: [3, 0]), descending: true), [])
        XCTAssertEqual(argsort(Tensor(shape: [1], scalars: [4]), descending: false), [0])
    }

    func testArgsortMatchesStableReference() {
        var rng = RNG(seed: 23)
        for (rows, c) in [(1, 1), (5, 7), (3, 64)] {
            let scalars = (0..<(rows * c)).map { _ in Float(rng.int(6)) * 0.5 }
            let x = Tensor(shape: [rows, c], scalars: scalars)
            for descending in [false, true] {
                var expected: [Int] = []
                for r in 0..<rows {
                    expected += referenceOrder(Array(scalars[(r * c)..<((r + 1) * c)]), descending: descending)
                }
                XCTAssertEqual(argsort(x, descending: descending), expected, "rows \(rows) c \(c) desc \(descending)")
            }
        }
    }

    func testNoFlopsAndNoTapeWithoutGrad() {
        var rng = RNG(seed: 24)
        let x = randomTensor([4, 6], &rng)
        let counter = FlopCounter()
        Flops.counting(into: counter) {
            _ = topK(x, 2)
            _ = argsort(x, descending: true)
        }
        XCTAssertEqual(counter.total, 0)
        XCTAssertEqual(Autograd.tapeCount, 0)
    }
}
