import Data
import Foundation
import Tensor
import TestSupport
import XCTest

/// The CIFAR-100 binary reader, batches, normalisation and augmentation, on small files
/// written byte by byte in the test.
final class CifarTests: XCTestCase {
    var root: URL!
    var dir: URL { root.appendingPathComponent("cifar-100-binary") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-cifar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("cifar-100-binary"),
                                                withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// Record `i`: coarse `i % 20`, fine `(7 i) % 100`, pixel `j` of channel `c` =
    /// `(i + 3 c + j) % 256`.
    func record(_ i: Int) -> [UInt8] {
        var r: [UInt8] = [UInt8(i % 20), UInt8((7 * i) % 100)]
        for c in 0..<3 { for j in 0..<1024 { r.append(UInt8((i + 3 * c + j) % 256)) } }
        return r
    }

    func writeDataset(records: Int, split: String = "train") throws {
        var bytes: [UInt8] = []
        for i in 0..<records { bytes += record(i) }
        try Data(bytes).write(to: dir.appendingPathComponent("\(split).bin"))
        try writeNames()
    }

    func writeNames(fine: Int = 100, coarse: Int = 20) throws {
        // The published name files end with a blank line; the reader must ignore it.
        let f = (0..<fine).map { "fine_\($0)" }.joined(separator: "\n") + "\n\n"
        let c = (0..<coarse).map { "coarse_\($0)" }.joined(separator: "\n") + "\n"
        try f.write(to: dir.appendingPathComponent("fine_label_names.txt"), atomically: true, encoding: .utf8)
        try c.write(to: dir.appendingPathComponent("coarse_label_names.txt"), atomically: true, encoding: .utf8)
    }

    func expectError(_ body: () throws -> Void, file path: String, contains needles: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let e as DataError {
            XCTAssertEqual(e.file, path, file: file, line: line)
            for n in needles {
                XCTAssertTrue(e.description.contains(n), "\"\(e.description)\" lacks \"\(n)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testReadsRecords() throws {
        try writeDataset(records: 5)
        let s = try CIFAR100.load(root: root, split: "train")
        XCTAssertEqual(s.count, 5)
        XCTAssertEqual(s.coarseLabels, [0, 1, 2, 3, 4])
        XCTAssertEqual(s.fineLabels, [0, 7, 14, 21, 28])
        XCTAssertEqual(s.fineNames.count, 100)
        XCTAssertEqual(s.fineNames[99], "fine_99")
        XCTAssertEqual(s.coarseNames.count, 20)
        XCTAssertNil(s.difficulty)
        XCTAssertFalse(s.isProxy)
        for i in 0..<5 {
            XCTAssertEqual(Array(s.images[(i * 3072)..<((i + 1) * 3072)]), Array(record(i)[2...]), "image \(i)")
        }
    }

    func testTruncatedFileNamesFileAndOffset() throws {
        var bytes: [UInt8] = []
        for i in 0..<3 { bytes += record(i) }
        bytes.removeLast(100)
        try writeNames()
        let url = dir.appendingPathComponent("train.bin")
        try Data(bytes).write(to: url)
        expectError({ _ = try CIFAR100.load(root: root, split: "train") }, file: url.path,
                    contains: ["train.bin", "offset 6148", "not a multiple of the 3074-byte record", "2974 bytes"])
    }

    func testLabelOutOfRangeNamesRecordAndOffset() throws {
        var bytes: [UInt8] = []
        for i in 0..<4 { bytes += record(i) }
        bytes[2 * 3074 + 1] = 100          // fine label of record 2
        try writeNames()
        let url = dir.appendingPathComponent("test.bin")
        try Data(bytes).write(to: url)
        expectError({ _ = try CIFAR100.load(root: root, split: "test") }, file: url.path,
                    contains: ["test.bin", "record 2", "offset 6149", "fine label 100 out of range 0-99"])
        bytes[2 * 3074 + 1] = 5
        bytes[3 * 3074] = 20               // coarse label of record 3
        try Data(bytes).write(to: url)
        expectError({ _ = try CIFAR100.load(root: root, split: "test") }, file: url.path,
                    contains: ["record 3", "offset 9222", "coarse label 20 out of range 0-19"])
    }

    func testMissingFilesSayWhereToDownloadAndExtract() throws {
        try writeNames()
        let url = dir.appendingPathComponent("train.bin")
        expectError({ _ = try CIFAR100.load(root: root, split: "train") }, file: url.path,
                    contains: ["not found", "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                               "tar xzf cifar-100-binary.tar.gz -C \(root.path)"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("fine_label_names.txt"))
        expectError({ _ = try CIFAR100.load(root: root, split: "train") },
                    file: dir.appendingPathComponent("fine_label_names.txt").path,
                    contains: ["not found", "cifar-100-binary.tar.gz"])
    }

    func testWrongNameCountAndUnknownSplit() throws {
        try writeDataset(records: 1)
        try writeNames(fine: 99)
        expectError({ _ = try CIFAR100.load(root: root, split: "train") },
                    file: dir.appendingPathComponent("fine_label_names.txt").path,
                    contains: ["99 label names, expected 100"])
        try writeNames()
        expectError({ _ = try CIFAR100.load(root: root, split: "valid") },
                    file: dir.appendingPathComponent("valid.bin").path, contains: ["expected train or test"])
    }

    func testDifficultyFile() throws {
        try writeDataset(records: 3)
        let tsv = dir.appendingPathComponent("difficulty.tsv")
        try "split\tindex\tlevel\ntrain\t0\t1\ntest\t0\t3\ntrain\t2\t3\ntrain\t1\t2\n"
            .write(to: tsv, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CIFAR100.load(root: root, split: "train").difficulty, [1, 2, 3])
        try "split\tindex\tlevel\ntrain\t0\t1\ntrain\t1\t4\n".write(to: tsv, atomically: true, encoding: .utf8)
        expectError({ _ = try CIFAR100.load(root: root, split: "train") }, file: tsv.path, contains: ["line 3"])
    }

    /// Statistics against a direct double-precision computation.
    func testChannelStatistics() throws {
        try writeDataset(records: 7)
        let s = try CIFAR100.load(root: root, split: "train")
        let norm = s.channelStatistics()
        let records = (0..<7).map { record($0) }
        for c in 0..<3 {
            var vals: [Double] = []
            for i in 0..<7 { for j in 0..<1024 { vals.append(Double(records[i][2 + c * 1024 + j]) / 255) } }
            let m = vals.reduce(0, +) / Double(vals.count)
            let v = vals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(vals.count)
            assertClose([norm.mean[c], norm.std[c]], [Float(m), Float(v.squareRoot())], atol: 1e-6, rtol: 1e-5)
        }
    }

    func testBatchNormalisesPixels() throws {
        try writeDataset(records: 4)
        let s = try CIFAR100.load(root: root, split: "train")
        let norm = CIFARNormalization(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3])
        let t = s.batch([3, 1], normalization: norm)
        XCTAssertEqual(t.shape, [2, 3, 32, 32])
        var expected: [Float] = []
        for i in [3, 1] {
            let r = record(i)
            for c in 0..<3 {
                for j in 0..<1024 { expected.append((Float(r[2 + c * 1024 + j]) / 255 - norm.mean[c]) / norm.std[c]) }
            }
        }
        assertClose(t, expected, atol: 1e-6)
    }

    /// Augmentation against a direct reference: pad to 40x40 with zeros, crop at the drawn
    /// offsets, flip; same draws in the same order.
    func testAugmentationMatchesPadCropFlipReference() throws {
        try writeDataset(records: 3)
        let s = try CIFAR100.load(root: root, split: "train")
        let norm = CIFARNormalization(mean: [0, 0, 0], std: [1, 1, 1])
        var rng = RNG(seed: 42)
        var replay = rng
        let indices = Array(repeating: [0, 1, 2], count: 20).flatMap { $0 }
        let t = s.batch(indices, normalization: norm, augment: true, rng: &rng)
        var expected: [Float] = []
        var seenOffsets = Set<[Int]>(), flips = Set<Bool>()
        let records = (0..<3).map { record($0) }
        for i in indices {
            let oy = replay.int(9), ox = replay.int(9)
            let flip = replay.next() & 1 == 1
            seenOffsets.insert([oy, ox]); flips.insert(flip)
            for c in 0..<3 {
                var padded = [[Float]](repeating: [Float](repeating: 0, count: 40), count: 40)
                for y in 0..<32 { for x in 0..<32 { padded[y + 4][x + 4] = Float(records[i][2 + c * 1024 + y * 32 + x]) / 255 } }
                var crop = (0..<32).map { y in (0..<32).map { x in padded[y + oy][x + ox] } }
                if flip { crop = crop.map { Array($0.reversed()) } }
                expected += crop.flatMap { $0 }
            }
        }
        assertClose(t, expected, atol: 1e-7)
        XCTAssertEqual(flips.count, 2)
        XCTAssertGreaterThan(seenOffsets.count, 25)
        // Deterministic for a seed.
        var again = RNG(seed: 42)
        XCTAssertEqual(s.batch(indices, normalization: norm, augment: true, rng: &again).scalars, t.scalars)
    }
}
