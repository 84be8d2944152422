import Foundation
import Tensor
import XCTest
@testable import Data

/// Metrics against hand-computed values, including degenerate inputs.
final class MetricsTests: XCTestCase {
    // Binary example: TP 3 (i0, i4, i6), FP 2 (i1, i7), TN 2 (i2, i3), FN 1 (i5).
    let preds = [1, 1, 0, 0, 1, 0, 1, 1]
    let gold = [1, 0, 0, 0, 1, 1, 1, 0]

    func testAccuracy() {
        XCTAssertEqual(Metrics.accuracy(predictions: [1, 0, 1, 1], labels: [1, 1, 1, 0]), 0.5)
        XCTAssertEqual(Metrics.accuracy(predictions: preds, labels: gold), 5.0 / 8.0)
        XCTAssertEqual(Metrics.accuracy(predictions: [], labels: []), 0)
    }

    func testTopKAccuracyWithTiesToTheLowerIndex() {
        let scores: [Float] = [
            0.1, 0.9, 0.3, 0.2, 0.5, 0.4,   // label 0 ranks 6th: miss at k=5
            0.1, 0.9, 0.3, 0.2, 0.5, 0.4,   // label 2 ranks 4th: hit
            1, 1, 1, 1, 1, 1,               // label 5: five lower-indexed ties ahead -> miss
            1, 1, 1, 1, 1, 1,               // label 4: rank 5 -> hit
        ]
        XCTAssertEqual(Metrics.topKAccuracy(scores: scores, classes: 6, labels: [0, 2, 5, 4], k: 5), 0.5)
        XCTAssertEqual(Metrics.topKAccuracy(scores: scores, classes: 6, labels: [1, 2, 0, 4], k: 1), 0.5)
        let t = Tensor(shape: [4, 6], scalars: scores)
        XCTAssertEqual(Metrics.topKAccuracy(scores: t, labels: [1, 4, 5, 3], k: 2), 0.5)
        XCTAssertEqual(Metrics.topKAccuracy(scores: [], classes: 6, labels: [], k: 5), 0)
    }

    func testMatthews() {
        // (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (6 − 2) / sqrt(5·4·4·3).
        XCTAssertEqual(Metrics.matthews(predictions: preds, labels: gold), 4 / 240.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Metrics.matthews(predictions: gold, labels: gold), 1, accuracy: 1e-12)
        XCTAssertEqual(Metrics.matthews(predictions: gold.map { 1 - $0 }, labels: gold), -1, accuracy: 1e-12)
        // Constant predictor, constant labels: 0.
        XCTAssertEqual(Metrics.matthews(predictions: [1, 1, 1, 1], labels: [0, 1, 0, 1]), 0)
        XCTAssertEqual(Metrics.matthews(predictions: [0, 1, 0, 1], labels: [1, 1, 1, 1]), 0)
        XCTAssertEqual(Metrics.matthews(predictions: [], labels: []), 0)
        // Three classes: c = 3, s = 6, p = t = (2, 2, 2): (18 − 12) / sqrt(24·24) = 0.25.
        XCTAssertEqual(Metrics.matthews(predictions: [0, 1, 2, 0, 1, 2], labels: [0, 1, 2, 1, 2, 0]), 0.25, accuracy: 1e-12)
    }

    func testF1OfThePositiveClass() {
        // 2·3 / (2·3 + 2 + 1).
        XCTAssertEqual(Metrics.f1(predictions: preds, labels: gold), 6.0 / 9.0, accuracy: 1e-12)
        // Class 0 as positive: TP 2, FP 1, FN 2 -> 4 / 7.
        XCTAssertEqual(Metrics.f1(predictions: preds, labels: gold, positive: 0), 4.0 / 7.0, accuracy: 1e-12)
        // No positive prediction and no positive label: 0. No positive prediction: 0.
        XCTAssertEqual(Metrics.f1(predictions: [0, 0], labels: [0, 0]), 0)
        XCTAssertEqual(Metrics.f1(predictions: [0, 0], labels: [1, 0]), 0)
        XCTAssertEqual(Metrics.f1(predictions: [1, 1], labels: [1, 1]), 1)
    }

    func testPearsonAndSpearman() {
        // dx = (−1.5, −.5, .5, 1.5), dy = (−3, −1, 0, 4): 11 / sqrt(5·26).
        XCTAssertEqual(Metrics.pearson([1, 2, 3, 4] as [Float], [2, 4, 5, 9]), 11 / 130.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(Metrics.pearson([1, 2, 3] as [Float], [3, 2, 1]), -1, accuracy: 1e-12)
        // Constant input or fewer than two values: 0.
        XCTAssertEqual(Metrics.pearson([2, 2, 2] as [Float], [1, 2, 3]), 0)
        XCTAssertEqual(Metrics.pearson([1] as [Float], [1]), 0)
        XCTAssertEqual(Metrics.spearman([5, 5, 5], [1, 2, 3]), 0)
        // Average ranks for ties: x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4): 4.5 / sqrt(4.5·5)
        // (scipy.stats.spearmanr gives 0.9486832980505139).
        XCTAssertEqual(Metrics.spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / 22.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Metrics.ranks([10, 20, 10, 30, 20, 20]), [1.5, 4, 1.5, 6, 4, 4])
        // Monotone but not linear: Spearman 1, Pearson below 1.
        XCTAssertEqual(Metrics.spearman([1, 2, 3, 4], [1, 8, 27, 1000]), 1, accuracy: 1e-12)
        XCTAssertLessThan(Metrics.pearson([1, 2, 3, 4] as [Float], [1, 8, 27, 1000]), 0.9)
    }

    func testTranscriptNormalisation() {
        XCTAssertEqual(Metrics.normalizeTranscript("  The cat, sat;   on\tthe \"mat\"! "), "THE CAT SAT ON THE MAT")
        XCTAssertEqual(Metrics.normalizeTranscript("Don\u{2019}t stop-it"), "DON'T STOPIT")
        XCTAssertEqual(Metrics.normalizeTranscript(" ... "), "")
    }

    func testWordErrorRate() {
        // sat -> sit (S), "the" deleted (D): 2 / 6.
        let r = Metrics.wordErrorRate(hypotheses: ["The cat, sit on   mat!"], references: ["the cat sat on the mat"])
        XCTAssertEqual(r, ErrorRate(substitutions: 1, deletions: 1, insertions: 0, referenceLength: 6))
        XCTAssertEqual(r.rate, 2.0 / 6.0, accuracy: 1e-12)
        // Insertion.
        XCTAssertEqual(Metrics.wordErrorRate(hypotheses: ["a x b"], references: ["a b"]),
                       ErrorRate(insertions: 1, referenceLength: 2))
        // The apostrophe is a letter: DONT vs DON'T is a substitution; U+2019 reads as '.
        XCTAssertEqual(Metrics.wordErrorRate(hypotheses: ["dont"], references: ["DON'T"]).substitutions, 1)
        XCTAssertEqual(Metrics.wordErrorRate(hypotheses: ["Don\u{2019}t"], references: ["DON'T"]).errors, 0)
        // Counts are summed over the set before dividing: (0 + 3 deletions + 2 insertions) / (2 + 3 + 0).
        let set = Metrics.wordErrorRate(hypotheses: ["a b", "", "c d"], references: ["a b", "x y z", ""])
        XCTAssertEqual(set, ErrorRate(substitutions: 0, deletions: 3, insertions: 2, referenceLength: 5))
        XCTAssertEqual(set.rate, 1.0, accuracy: 1e-12)
        // Empty references only.
        XCTAssertEqual(Metrics.wordErrorRate(hypotheses: [""], references: [""]).rate, 0)
        XCTAssertEqual(Metrics.wordErrorRate(hypotheses: ["a"], references: [""]).rate, .infinity)
    }

    func testCharacterErrorRate() {
        // "ABC DE" vs "ABD DE": one substitution over 6 characters (the space counts).
        let r = Metrics.characterErrorRate(hypotheses: ["abd de"], references: ["abc de"])
        XCTAssertEqual(r, ErrorRate(substitutions: 1, referenceLength: 6))
        // Missing space: one deletion.
        XCTAssertEqual(Metrics.characterErrorRate(hypotheses: ["abcde"], references: ["abc de"]),
                       ErrorRate(deletions: 1, referenceLength: 6))
        XCTAssertEqual(Metrics.characterErrorRate(hypotheses: [""], references: ["ab"]),
                       ErrorRate(deletions: 2, referenceLength: 2))
    }

    func testAlignmentCountsMatchEditDistance() {
        // kitten -> sitting: distance 3 (2 substitutions, 1 insertion).
        let r = Metrics.align(hypothesis: Array("sitting"), reference: Array("kitten"))
        XCTAssertEqual(r, ErrorRate(substitutions: 2, deletions: 0, insertions: 1, referenceLength: 6))
        let d = Metrics.align(hypothesis: Array("flaw"), reference: Array("lawn"))
        XCTAssertEqual(d.errors, 2)
    }

    func testGLUETaskScoring() {
        let m = GLUETask.mrpc.evaluate(predictions: preds, labels: gold)
        XCTAssertEqual(m[.f1]!, 6.0 / 9.0, accuracy: 1e-12)
        XCTAssertEqual(m[.accuracy]!, 5.0 / 8.0, accuracy: 1e-12)
        XCTAssertEqual(Set(GLUETask.cola.evaluate(predictions: preds, labels: gold).keys), [.matthews])
        let s = GLUETask.stsb.evaluate(predictedScores: [1, 2, 3, 4], goldScores: [2, 4, 5, 9])
        XCTAssertEqual(s[.pearson]!, 11 / 130.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(s[.spearman]!, 1, accuracy: 1e-12)
    }
}
