// Reference fixtures (Fixtures/ctc_reference.json) are written by a float64 NumPy alpha
// recursion cross-checked against brute-force alignment enumeration; regenerate with
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_c.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class CTCLossTests: XCTestCase {
    /// T = 2, C = 2 (blank 0, label 1), target [1].
    /// Frame 0 logits (0, 0): p = (1/2, 1/2). Frame 1 logits (0, ln 3): p = (1/4, 3/4).
    /// Alignments collapsing to [1]: (1,1) 3/8, (blank,1) 3/8, (1,blank) 1/8: P = 7/8.
    /// Occupancies: frame 0 blank 3/7, label 4/7; frame 1 blank 1/7, label 6/7.
    /// Gradient = softmax − occupancy = (1/14, −1/14, 3/28, −3/28).
    func testHandWorkedTwoFrames() {
        for reduction in [CTCReduction.mean, .sum] {
            let logits = Tensor(shape: [1, 2, 2], scalars: [0, 0, 0, Float(log(3.0))], requiresGrad: true)
            let loss = ctcLoss(logits: logits, inputLengths: [2], targets: [[1]], reduction: reduction)
            XCTAssertEqual(loss.shape, [])
            assertClose(loss, [Float(-log(0.875))], atol: 1e-6)
            loss.backward()
            assertClose(logits.grad!, [1.0 / 14, -1.0 / 14, 3.0 / 28, -3.0 / 28], atol: 1e-6)
        }
    }

    /// The loss by enumerating every path in C^T (collapse repeats, drop blanks), and the
    /// gradient softmax − (posterior probability that frame t emits class c).
    func bruteForce(_ logits: [Float], T: Int, C: Int, target: [Int], blank: Int) -> (loss: Double, grad: [Double]) {
        var p = [Double](repeating: 0, count: T * C)
        for t in 0..<T {
            let row = (0..<C).map { Double(logits[t * C + $0]) }
            let z = row.map { exp($0) }.reduce(0, +)
            for c in 0..<C { p[t * C + c] = exp(row[c]) / z }
        }
        var total = 0.0
        var occupancy = [Double](repeating: 0, count: T * C)
        var path = [Int](repeating: 0, count: T)
        let paths = Int(pow(Double(C), Double(T)))
        for _ in 0..<paths {
            var collapsed: [Int] = []
            var prev = -1
            for c in path {
                if c != prev && c != blank { collapsed.append(c) }
                prev = c
            }
            if collapsed == target {
                var prob = 1.0
                for t in 0..<T { prob *= p[t * C + path[t]] }
                total += prob
                for t in 0..<T { occupancy[t * C + path[t]] += prob }
            }
            var i = T - 1
            while i >= 0 { path[i] += 1; if path[i] < C { break }; path[i] = 0; i -= 1 }
        }
        let grad = (0..<(T * C)).map { p[$0] - occupancy[$0] / total }
        return (-log(total), grad)
    }

    func testAgainstBruteForceEnumeration() {
        var rng = RNG(seed: 21)
        let cases: [(T: Int, C: Int, target: [Int], blank: Int)] = [
            (4, 3, [], 0), (4, 3, [1], 0), (4, 3, [2, 2], 0), (4, 3, [1, 2, 1], 0), (5, 3, [1, 1, 2], 0),
            (5, 3, [2, 2, 2], 0), (4, 3, [0, 1], 2), (1, 3, [2], 0), (3, 2, [1, 1], 0), (5, 4, [3, 1, 3], 0),
        ]
        for (T, C, target, blank) in cases {
            let values = (0..<(T * C)).map { _ in rng.uniform(-2, 2) }
            let logits = Tensor(shape: [1, T, C], scalars: values, requiresGrad: true)
            let ref = bruteForce(values, T: T, C: C, target: target, blank: blank)
            let loss = ctcLoss(logits: logits, inputLengths: [T], targets: [target], blank: blank, reduction: .sum)
            assertClose(loss, [Float(ref.loss)], atol: 1e-5, rtol: 1e-5, "T\(T) C\(C) \(target)")
            loss.backward()
            assertClose(logits.grad!, ref.grad.map { Float($0) }, atol: 1e-5, rtol: 1e-4, "grad T\(T) C\(C) \(target)")
        }
    }

    func testGradientsFiniteDifference() {
        var rng = RNG(seed: 22)
        let T = 5, C = 4
        let setups: [(lengths: [Int], targets: [[Int]], blank: Int)] = [
            ([5, 3, 4], [[1, 1], [2], [3, 1, 3]], 0),
            ([5, 5, 2], [[0, 1, 0], [], [1]], 2),
            ([4, 5], [[1, 2, 1], [3, 3]], 0),
        ]
        for (lengths, targets, blank) in setups {
            for reduction in [CTCReduction.mean, .sum] {
                let logits = randomTensor([lengths.count, T, C], &rng, -1.5, 1.5)
                checkGradients([logits], "\(targets) blank \(blank) \(reduction)") {
                    ctcLoss(logits: $0[0], inputLengths: lengths, targets: targets, blank: blank, reduction: reduction)
                }
            }
        }
    }

    func testPaddingFramesGetNoGradient() {
        var rng = RNG(seed: 23)
        let logits = randomTensor([2, 6, 3], &rng)
        logits.requiresGrad = true
        ctcLoss(logits: logits, inputLengths: [6, 2], targets: [[1, 2], [2]]).backward()
        let g = logits.grad!.scalars
        XCTAssertEqual(Array(g[24..<36]), [Float](repeating: 0, count: 12))
        XCTAssertTrue(g[18..<24].contains { $0 != 0 })
        // Each used frame's gradient sums to zero (softmax and occupancy both sum to 1).
        for row in 0..<8 {   // frames 0..<6 of sequence 0, frames 0..<2 of sequence 1
            XCTAssertEqual(g[(row * 3)..<(row * 3 + 3)].reduce(0, +), 0, accuracy: 1e-6)
        }
    }

    func testMeanIsPerTargetLengthThenBatchMean() {
        var rng = RNG(seed: 24)
        let T = 5, C = 4
        let values = (0..<(3 * T * C)).map { _ in rng.uniform(-1, 1) }
        let lengths = [5, 4, 5], targets = [[1, 2, 3], [2], []]
        let mean = ctcLoss(logits: Tensor(shape: [3, T, C], scalars: values), inputLengths: lengths,
                           targets: targets, reduction: .mean).item
        var expected: Float = 0
        for b in 0..<3 {
            let single = Tensor(shape: [1, T, C], scalars: Array(values[(b * T * C)..<((b + 1) * T * C)]))
            let nll = ctcLoss(logits: single, inputLengths: [lengths[b]], targets: [targets[b]], reduction: .sum).item
            expected += nll / Float(max(targets[b].count, 1)) / 3
        }
        XCTAssertEqual(mean, expected, accuracy: 1e-5)
    }

    func testInfeasibleSequences() {
        var rng = RNG(seed: 25)
        let values = (0..<(2 * 3 * 3)).map { _ in rng.uniform(-1, 1) }
        // Sequence 1: target [1, 1] needs 3 frames (1, blank, 1) but has 2; sequence 0 is fine.
        let lengths = [3, 2], targets = [[1, 2], [1, 1]]
        let feasible = Tensor(shape: [1, 3, 3], scalars: Array(values[0..<9]), requiresGrad: true)
        let lossFeasible = ctcLoss(logits: feasible, inputLengths: [3], targets: [[1, 2]], reduction: .sum)
        lossFeasible.backward()

        let logits = Tensor(shape: [2, 3, 3], scalars: values, requiresGrad: true)
        let loss = ctcLoss(logits: logits, inputLengths: lengths, targets: targets, reduction: .sum)
        XCTAssertEqual(loss.item, lossFeasible.item, accuracy: 1e-6)   // infinite loss zeroed
        loss.backward()
        let g = logits.grad!.scalars
        assertClose(Array(g[0..<9]), feasible.grad!.scalars, atol: 1e-6)
        XCTAssertEqual(Array(g[9..<18]), [Float](repeating: 0, count: 9))

        let rawLogits = Tensor(shape: [2, 3, 3], scalars: values, requiresGrad: true)
        let raw = ctcLoss(logits: rawLogits, inputLengths: lengths, targets: targets, reduction: .mean, zeroInfinity: false)
        XCTAssertEqual(raw.item, .infinity)
        raw.backward()
        let rg = rawLogits.grad!.scalars
        XCTAssertTrue(rg[9..<15].allSatisfy { $0.isNaN })           // PyTorch: NaN gradient
        XCTAssertTrue(rg[0..<9].allSatisfy { $0.isFinite })

        // Empty input: loss 0 for an empty target, +inf otherwise.
        let empty = Tensor(shape: [2, 3, 3], scalars: values)
        XCTAssertEqual(ctcLoss(logits: empty, inputLengths: [0, 0], targets: [[], [1]], reduction: .sum,
                               zeroInfinity: false).item, .infinity)
        XCTAssertEqual(ctcLoss(logits: empty, inputLengths: [0, 0], targets: [[], []], reduction: .sum).item, 0)
    }

    struct Fixture: Decodable {
        let name: String
        let B: Int, T: Int, C: Int, blank: Int
        let inputLengths: [Int]
        let targets: [[Int]]
        let logits: [Float]
        let nll: [Double?]
        let meanLoss: Double, sumLoss: Double
        let meanGrad: [Float], sumGrad: [Float]
    }

    func testMatchesNumPyReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ctc_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let fixtures = try JSONDecoder().decode([Fixture].self, from: Data(contentsOf: url))
        XCTAssertEqual(fixtures.count, 4)
        for f in fixtures {
            for (reduction, expected, grad) in [(CTCReduction.mean, f.meanLoss, f.meanGrad), (.sum, f.sumLoss, f.sumGrad)] {
                let logits = Tensor(shape: [f.B, f.T, f.C], scalars: f.logits, requiresGrad: true)
                let loss = ctcLoss(logits: logits, inputLengths: f.inputLengths, targets: f.targets,
                                   blank: f.blank, reduction: reduction)
                assertClose(loss, [Float(expected)], atol: 1e-5, rtol: 1e-5, "\(f.name) \(reduction)")
                loss.backward()
                assertClose(logits.grad!, grad, atol: 2e-6, rtol: 1e-4, "grad \(f.name) \(reduction)")
            }
            // Per-sequence losses, infinite ones kept (zeroInfinity: false).
            for b in 0..<f.B {
                let n = f.T * f.C
                let single = Tensor(shape: [1, f.T, f.C], scalars: Array(f.logits[(b * n)..<((b + 1) * n)]))
                let nll = ctcLoss(logits: single, inputLengths: [f.inputLengths[b]], targets: [f.targets[b]],
                                  blank: f.blank, reduction: .sum, zeroInfinity: false).item
                if let ref = f.nll[b] {
                    XCTAssertEqual(Double(nll), ref, accuracy: 1e-5 * max(1, abs(ref)), "\(f.name) sequence \(b)")
                } else {
                    XCTAssertEqual(nll, .infinity, "\(f.name) sequence \(b)")
                }
            }
        }
    }

    func testFlopCounts() {
        var rng = RNG(seed: 26)
        let logits = randomTensor([2, 4, 3], &rng)
        logits.requiresGrad = true
        let counter = FlopCounter()
        Flops.counting(into: counter) {
            ctcLoss(logits: logits, inputLengths: [4, 3], targets: [[1, 2], [2]]).backward()
        }
        let usedLogits = (4 + 3) * 3, cells = 4 * 5 + 3 * 3
        XCTAssertEqual(counter.forwardTotal, 5 * usedLogits + 12 * cells)
        XCTAssertEqual(counter.backwardTotal, 16 * cells + 3 * usedLogits)
    }
}
