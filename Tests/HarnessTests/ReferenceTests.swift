import Data
import Foundation
import Analysis
import Harness
import Tensor
import XCTest

/// The reference rows on tiny hand-built datasets: chance rows exactly, the linear models
/// against separable data and a closed-form ridge solution.
final class ReferenceTests: XCTestCase {
    func ex(_ a: String, _ b: String? = nil, label: Int? = nil, score: Float? = nil, _ i: Int) -> GLUEExample {
        GLUEExample(textA: a, textB: b, label: label, score: score, index: i)
    }

    func testMajorityAndMostFrequent() {
        XCTAssertEqual(Chance.majority([0, 1, 1, 2, 1, 0]), 1)
        XCTAssertEqual(Chance.majority([2, 0, 0, 2]), 0)  // tie: the lower id
        XCTAssertEqual(Chance.mostFrequent([3, 3, 3, 1, 1, 2, 2, 0], count: 3), [3, 1, 2])
    }

    /// SST-2-like: four training sentences separable by one word; the dev split of three
    /// positives and one negative. Chance predicts the majority training label (1, 3 of 4
    /// training labels): dev accuracy 3/4. The linear model learns the word.
    func testGLUEClassificationChanceExactlyAndLinearSeparates() {
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        var train: [GLUEExample] = []
        for i in 0..<60 {
            let label = i % 4 == 0 ? 0 : 1
            let filler = "\(words[i % 6]) \(words[(i / 6) % 6])"
            train.append(ex("\(filler) \(label == 1 ? "good" : "bad") \(words[(i + 3) % 6])", label: label, i))
        }
        let dev = [ex("beta good gamma", label: 1, 0), ex("zeta bad alpha", label: 0, 1),
                   ex("good delta", label: 1, 2), ex("epsilon good", label: 1, 3)]
        let r = References.glue(suite: "glue", task: "sst2", glueTask: .sst2, train: train, evals: [("dev", dev)])
        XCTAssertEqual(r.row("chance")?.metrics, ["accuracy": 0.75])
        XCTAssertEqual(r.row("linear")?.metrics["accuracy"], 1.0)
        // Training set itself: separable, fitted perfectly.
        let onTrain = References.glue(suite: "glue", task: "sst2", glueTask: .sst2, train: train, evals: [("dev", train)])
        XCTAssertEqual(onTrain.row("linear")?.metrics["accuracy"], 1.0)
    }

    /// MRPC-like pairs (label 1 = the sentences share their words): chance predicts the
    /// majority class 1, F1 = 2·3/(2·3 + 1) on a dev split of three positives and one negative.
    func testPairChanceF1AndOverlapFeatures() {
        var train: [GLUEExample] = []
        let words = ["red", "blue", "green", "black", "white", "pink", "grey", "teal"]
        for i in 0..<80 {
            let a = "\(words[i % 8]) \(words[(i / 8) % 8]) \(words[(i + 3) % 8])"
            let same = i % 3 != 0
            let b = same ? a : "\(words[(i + 1) % 8]) \(words[(i / 8 + 5) % 8]) \(words[(i + 6) % 8])"
            train.append(ex(a, b, label: same && a != b ? 1 : (same ? 1 : 0), i))
        }
        let dev = [ex("one two", "one two", label: 1, 0), ex("three four", "three four", label: 1, 1),
                   ex("five six", "five six", label: 1, 2), ex("seven eight", "nine ten", label: 0, 3)]
        let r = References.glue(suite: "glue", task: "mrpc", glueTask: .mrpc, train: train, evals: [("dev", dev)])
        XCTAssertEqual(r.row("chance")!.metrics["accuracy"], 0.75)
        XCTAssertEqual(r.row("chance")!.metrics["f1"]!, 6.0 / 7.0, accuracy: 1e-12)
        // Unseen words: only the overlap statistics can tell, and they do.
        XCTAssertEqual(r.row("linear")!.metrics["accuracy"], 1.0)
    }

    /// STS-B: chance predicts the mean training score; correlations of a constant are 0.
    func testRegressionChance() {
        let train = (0..<30).map { ex("w\($0 % 4) x", "w\($0 % 5) y", score: Float($0 % 6), $0) }
        let dev = (0..<5).map { ex("w\($0) x", "w\($0) y", score: Float($0), $0) }
        let r = References.glue(suite: "glue", task: "stsb", glueTask: .stsb, train: train, evals: [("dev", dev)])
        XCTAssertEqual(r.row("chance")!.metrics, ["pearson": 0, "spearman": 0])
        XCTAssertTrue(r.row("chance")!.detail.contains("2.500"), r.row("chance")!.detail)
    }

    /// The ridge solution against the closed form `(XᵀX + λP)⁻¹ Xᵀy` computed by Gaussian
    /// elimination, on a dense 12 × 4 design (bias in column 0, unpenalised).
    func testRidgeAgreesWithClosedForm() {
        var rng = RNG(seed: 3)
        let n = 12, d = 4
        var xs: [SparseVector] = [], ys: [Double] = []
        var X = [[Double]]()
        for _ in 0..<n {
            var row = [1.0]
            for _ in 1..<d { row.append(Double(rng.uniform(-1, 1))) }
            X.append(row)
            xs.append(row.enumerated().map { ($0.offset, $0.element) })
            let noise = Double(rng.uniform(-0.1, 0.1))
            let y: Double = 0.5 + 2 * row[1] - row[2] + 0.3 * row[3]
            ys.append(y + noise)
        }
        for lambda in [0.0, 0.5, 3.0] {
            // A = XᵀX + λP, b = Xᵀy.
            var A = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d)
            for i in 0..<d {
                for j in 0..<d {
                    var acc = 0.0
                    for r in 0..<n { acc += X[r][i] * X[r][j] }
                    A[i][j] = acc
                }
                if i != 0 { A[i][i] += lambda }
                var rhs = 0.0
                for r in 0..<n { rhs += X[r][i] * ys[r] }
                A[i][d] = rhs
            }
            for c in 0..<d {
                let p = (c..<d).max { Swift.abs(A[$0][c]) < Swift.abs(A[$1][c]) }!
                A.swapAt(c, p)
                for r in 0..<d where r != c {
                    let f = A[r][c] / A[c][c]
                    for k in c...d { A[r][k] -= f * A[c][k] }
                }
            }
            let closed = (0..<d).map { A[$0][d] / A[$0][$0] }
            let m = SparseRidge.solve(xs, ys, dimension: d, lambda: lambda, bias: 0)
            for i in 0..<d { XCTAssertEqual(m.weights[i], closed[i], accuracy: 1e-9, "λ = \(lambda), w\(i)") }
        }
    }

    func testLogisticSeparatesASeparableSet() {
        // Two features; class = sign of x0 − x1 with a margin; bias feature 2.
        var rng = RNG(seed: 5)
        var xs: [SparseVector] = [], ys: [Int] = []
        while xs.count < 200 {
            let a = Double(rng.uniform(-1, 1)), b = Double(rng.uniform(-1, 1))
            guard Swift.abs(a - b) > 0.2 else { continue }
            xs.append([(0, a), (1, b), (2, 1)])
            ys.append(a > b ? 1 : 0)
        }
        let (m, _) = SparseLogistic.fit(xs, ys, classes: 2, dimension: 3, maxEpochs: 30)
        XCTAssertEqual(zip(xs, ys).filter { m.predict($0.0) == $0.1 }.count, 200)
    }

    /// The best constant transcript on hand-built references. References "A B", "A B",
    /// "A C": empty → 6 errors of 6 words; "A" → 4; "A B" → 1 (one substitution in "A C");
    /// "A B" + anything adds an insertion per reference. So "A B", WER 1/6.
    func testBestConstantTranscript() {
        let refs = ["A B", "A B", "A C"]
        let best = Chance.bestConstantTranscript(references: refs)
        XCTAssertEqual(best.words, ["A", "B"])
        XCTAssertEqual(best.wer, 1.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(Chance.constantWER(best.words, references: refs), best.wer, accuracy: 1e-12)
        let r = References.speech(suite: "librispeech", trainTranscripts: refs,
                                  evals: [("test-clean", ["A B C", "B"]), ("test-other", ["D"])])
        let empty = r.row("chance")!.metrics
        XCTAssertEqual(empty["wer_test-clean"], 1.0)
        XCTAssertEqual(empty["wer_test-other"], 1.0)
        let constant = r.row("chance: constant transcript")!.metrics
        // "A B" against "A B C" (1 deletion) and "B" (1 insertion): 2 errors over 4 words.
        XCTAssertEqual(constant["wer_test-clean"]!, 0.5, accuracy: 1e-12)
        // Against "D": 1 substitution + 1 insertion over 1 word.
        XCTAssertEqual(constant["wer_test-other"]!, 2.0, accuracy: 1e-12)
        XCTAssertNil(r.row("linear"))
    }

    /// CIFAR-100 on eight images of four classes (solid colours): chance top-1 is the
    /// majority class's share, top-5 counts every class among the five most frequent; the
    /// softmax on pixels separates the colours.
    func testCIFARChanceAndLinear() {
        let labels = [3, 3, 3, 7, 7, 1, 9, 3, 7, 1, 9, 3, 7, 1, 9, 3]
        let colours: [Int: [UInt8]] = [3: [250, 10, 10], 7: [10, 250, 10], 1: [10, 10, 250], 9: [250, 250, 10]]
        var images: [UInt8] = []
        for l in labels { for c in 0..<3 { images += [UInt8](repeating: colours[l]![c], count: 1024) } }
        let split = CIFARSplit(split: "train", file: URL(fileURLWithPath: "/dev/null"), images: images, fineLabels: labels,
                               coarseLabels: labels.map { _ in 0 }, fineNames: (0..<100).map(String.init),
                               coarseNames: (0..<20).map(String.init), difficulty: nil, isProxy: true)
        let r = References.cifar(suite: "cifar100", train: split, trainCount: 16, test: split, testCount: 16, maxEpochs: 30)
        XCTAssertEqual(r.row("chance")!.metrics["top1"], 6.0 / 16.0)
        XCTAssertEqual(r.row("chance")!.metrics["top5"], 1.0)
        XCTAssertEqual(r.row("linear")!.metrics["top1"], 1.0)
    }

    func testFeaturesOfPairsIncludeSharedWordsAndOverlap() {
        let f = NGramFeaturizer()
        let same = Dictionary(uniqueKeysWithValues: f.features("the cat sat", "the cat sat"))
        let diff = Dictionary(uniqueKeysWithValues: f.features("the cat sat", "a dog ran"))
        // Reserved ids 1…4: Jaccard of unigrams and bigrams, shares of each side.
        XCTAssertEqual([1, 2, 3, 4].map { same[$0]! }, [1, 1, 1, 1])
        XCTAssertEqual([1, 2, 3, 4].map { diff[$0]! }, [0, 0, 0, 0])
        XCTAssertEqual(same[0], 1)
        XCTAssertGreaterThan(same.count, diff.count - 4)
    }
}
