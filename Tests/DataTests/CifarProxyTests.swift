import Data
import Foundation
import Tensor
import XCTest

/// The synthetic CIFAR-100: exact format, determinism, and that it is a learning problem
/// whose difficulty levels mean something.
final class CifarProxyTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-cproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testSmokeScaleWritesTheExactFormat() throws {
        let start = Date()
        try CIFARProxy.write(root: root, seed: 1, scale: .smoke)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 6, "smoke generation took \(seconds) s")
        let dir = root.appendingPathComponent("cifar-100-binary")
        let size = { (name: String) in
            (try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(name).path)[.size] as! NSNumber).intValue
        }
        XCTAssertEqual(try size("train.bin"), 1000 * 3074)
        XCTAssertEqual(try size("test.bin"), 200 * 3074)

        for (split, perClass) in [("train", 10), ("test", 2)] {
            let s = try CIFAR100.load(root: root, split: split)
            XCTAssertTrue(s.isProxy)
            XCTAssertEqual(s.fineNames, CIFARProxy.fineNames)
            XCTAssertEqual(s.coarseNames, CIFARProxy.coarseNames)
            XCTAssertEqual(Set(s.fineNames).count, 100)
            var counts = [Int](repeating: 0, count: 100)
            for i in 0..<s.count {
                counts[s.fineLabels[i]] += 1
                XCTAssertEqual(s.coarseLabels[i], s.fineLabels[i] / 5)
            }
            XCTAssertEqual(counts, [Int](repeating: perClass, count: 100), split)
            let levels = try XCTUnwrap(s.difficulty)
            XCTAssertEqual(Set(levels), [1, 2, 3], split)
            // Records are shuffled: the first ten are not all one class.
            XCTAssertGreaterThan(Set(s.fineLabels.prefix(10)).count, 1)
            // Images use the byte range (not blank).
            XCTAssertGreaterThan(Set(s.images.prefix(3072 * 20)).count, 200)
        }
        let note = try String(contentsOf: root.appendingPathComponent("PROXY.md"), encoding: .utf8)
        XCTAssertTrue(note.contains("## cifar-100-binary"))
        XCTAssertTrue(note.contains("seed 1"))
    }

    func testDeterministicForASeed() throws {
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b"), c = root.appendingPathComponent("c")
        try CIFARProxy.write(root: a, seed: 5, trainPerClass: 1, testPerClass: 1)
        try CIFARProxy.write(root: b, seed: 5, trainPerClass: 1, testPerClass: 1)
        try CIFARProxy.write(root: c, seed: 6, trainPerClass: 1, testPerClass: 1)
        for name in ["train.bin", "test.bin", "difficulty.tsv", "fine_label_names.txt"] {
            let fa = try Data(contentsOf: a.appendingPathComponent("cifar-100-binary/\(name)"))
            let fb = try Data(contentsOf: b.appendingPathComponent("cifar-100-binary/\(name)"))
            XCTAssertEqual(fa, fb, name)
        }
        XCTAssertNotEqual(try Data(contentsOf: a.appendingPathComponent("cifar-100-binary/train.bin")),
                          try Data(contentsOf: c.appendingPathComponent("cifar-100-binary/train.bin")))
        var r1 = RNG(seed: 3), r2 = RNG(seed: 3)
        XCTAssertEqual(CIFARProxy.render(fine: 42, level: 2, rng: &r1), CIFARProxy.render(fine: 42, level: 2, rng: &r2))
    }

    func testRefusesToOverwritePublishedData() throws {
        let dir = root.appendingPathComponent("cifar-100-binary")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("train.bin"))
        XCTAssertThrowsError(try CIFARProxy.write(root: root, seed: 1, trainPerClass: 1, testPerClass: 1)) { e in
            XCTAssertTrue("\(e)".contains("not overwriting"), "\(e)")
        }
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("train.bin")), Data([1, 2, 3]))
    }

    /// Rewriting replaces the dataset's section of PROXY.md and keeps other sections.
    func testProxyNoteKeepsOtherSections() throws {
        try "# Synthetic proxy data\n\n## glue\n\nGLUE text.\n".write(
            to: root.appendingPathComponent("PROXY.md"), atomically: true, encoding: .utf8)
        try CIFARProxy.write(root: root, seed: 1, trainPerClass: 1, testPerClass: 1)
        try CIFARProxy.write(root: root, seed: 2, trainPerClass: 1, testPerClass: 1)
        let note = try String(contentsOf: root.appendingPathComponent("PROXY.md"), encoding: .utf8)
        XCTAssertTrue(note.contains("## glue\n\nGLUE text."))
        XCTAssertEqual(note.components(separatedBy: "## cifar-100-binary").count, 2, note)
        XCTAssertTrue(note.contains("seed 2") && !note.contains("seed 1:"), note)
    }

    /// A nearest-centroid classifier on normalised pixels (distances by one engine GEMM)
    /// beats chance (1%) clearly, and does better on level-1 images than on level-3 ones.
    func testLearnableAndGradedByNearestCentroid() throws {
        try CIFARProxy.write(root: root, seed: 11, trainPerClass: 16, testPerClass: 9)
        let train = try CIFAR100.load(root: root, split: "train")
        let test = try CIFAR100.load(root: root, split: "test")
        let norm = train.channelStatistics()
        let d = 3072
        let x = train.batch(Array(0..<train.count), normalization: norm)
        let centroids = Tensor(zeros: [100, d])
        var counts = [Float](repeating: 0, count: 100)
        for i in 0..<train.count {
            let c = train.fineLabels[i]
            counts[c] += 1
            for j in 0..<d { centroids.data[c * d + j] += x.data[i * d + j] }
        }
        for c in 0..<100 { for j in 0..<d { centroids.data[c * d + j] /= counts[c] } }
        let xt = test.batch(Array(0..<test.count), normalization: norm).reshaped2D(test.count, d)
        let dots = matmul(xt, centroids, transposeB: true)          // [n, 100]
        var norms = [Float](repeating: 0, count: 100)
        for c in 0..<100 { for j in 0..<d { norms[c] += centroids.data[c * d + j] * centroids.data[c * d + j] } }
        var correct = [Int](repeating: 0, count: 4), total = [Int](repeating: 0, count: 4)
        var coarseCorrect = 0
        for i in 0..<test.count {
            // argmin ||x - c||^2 = argmin (||c||^2 - 2 x.c)
            var best = 0, bestScore = Float.infinity
            for c in 0..<100 {
                let score = norms[c] - 2 * dots.data[i * 100 + c]
                if score < bestScore { bestScore = score; best = c }
            }
            let level = test.difficulty![i]
            total[level] += 1; total[0] += 1
            if best == test.fineLabels[i] { correct[level] += 1; correct[0] += 1 }
            if best / 5 == test.coarseLabels[i] { coarseCorrect += 1 }
        }
        let acc = (0...3).map { total[$0] > 0 ? Float(correct[$0]) / Float(total[$0]) : 0 }
        let coarseAcc = Float(coarseCorrect) / Float(test.count)
        print("nearest centroid: fine accuracy \(acc[0]) (level 1: \(acc[1]), 2: \(acc[2]), 3: \(acc[3])), coarse \(coarseAcc)")
        XCTAssertGreaterThan(acc[0], 0.08, "well above chance (0.01)")
        XCTAssertGreaterThan(coarseAcc, 0.18, "well above chance (0.05)")
        XCTAssertGreaterThan(acc[1], acc[3] + 0.08, "level 1 easier than level 3")
    }
}

private extension Tensor {
    /// The same storage viewed as `[rows, cols]`.
    func reshaped2D(_ rows: Int, _ cols: Int) -> Tensor {
        precondition(rows * cols == count)
        return Tensor(shape: [rows, cols], storage: storage)
    }
}
