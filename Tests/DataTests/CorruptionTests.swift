import Data
import Foundation
import Tensor
import XCTest

/// The CIFAR-100-C-style corruptions, each checked by measurement on hand-built images, and
/// the shifted sets' files (layout, labels, determinism).
final class CorruptionTests: XCTestCase {
    let n = CIFARSplit.pixelsPerImage, side = CIFARSplit.side

    func image(_ f: (Int, Int, Int) -> UInt8) -> [UInt8] {
        var px = [UInt8](repeating: 0, count: n)
        for c in 0..<3 { for y in 0..<side { for x in 0..<side { px[c * 1024 + y * side + x] = f(c, y, x) } } }
        return px
    }

    func sd(_ v: [Double]) -> Double {
        let m = v.reduce(0, +) / Double(v.count)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
    }

    /// The noise's measured SD on a mid-grey image is the severity's sigma (x 255) within 3 %.
    func testGaussianNoiseLevel() {
        let count = 20
        let grey = [UInt8](repeating: 128, count: count * n)
        for s in ImageCorruption.severities {
            var rng = RNG(seed: 7)
            let out = ImageCorruption.gaussianNoise.apply(grey, count: count, severity: s, rng: &rng)
            let dev = out.map { Double($0) - 128 }
            let sigma = ImageCorruption.gaussianNoise.parameter(severity: s) * 255
            XCTAssertEqual(sd(dev), sigma, accuracy: 0.03 * sigma, "severity \(s)")
            XCTAssertEqual(dev.reduce(0, +) / Double(dev.count), 0, accuracy: 0.3)
        }
        XCTAssertEqual(ImageCorruption.severities.map { ImageCorruption.gaussianNoise.parameter(severity: $0) }, [0.04, 0.08, 0.10])
    }

    /// Contrast: each channel keeps its mean and its pixel SD scales by the factor.
    func testContrastScalesSD() {
        var rng = RNG(seed: 3)
        let img = image { _, _, _ in UInt8(40 + rng.int(180)) }
        for s in ImageCorruption.severities {
            var unused = RNG(seed: 0)
            let out = ImageCorruption.contrast.apply(img, count: 1, severity: s, rng: &unused)
            let f = ImageCorruption.contrast.parameter(severity: s)
            for c in 0..<3 {
                let a = img[(c * 1024)..<((c + 1) * 1024)].map(Double.init)
                let b = out[(c * 1024)..<((c + 1) * 1024)].map(Double.init)
                // Rounding to bytes adds at most 0.5 per pixel.
                XCTAssertEqual(sd(b), f * sd(a), accuracy: 0.5, "severity \(s) channel \(c)")
                XCTAssertEqual(b.reduce(0, +) / 1024, a.reduce(0, +) / 1024, accuracy: 0.5)
            }
        }
    }

    /// Blur: a checkerboard 128 ± 40 (the highest spatial frequency) comes out, away from the
    /// border, as 128 ± 40·H² with H = Σ w_k (-1)^k the 1-D kernel's gain at that frequency;
    /// a single bright pixel spreads as the outer product of the kernel.
    func testBlurAttenuatesCheckerboard() {
        let board = image { _, y, x in (x + y) % 2 == 0 ? 168 : 88 }
        for s in ImageCorruption.severities {
            let sigma = ImageCorruption.gaussianBlur.parameter(severity: s)
            let w = ImageCorruption.gaussianKernel(sigma: sigma)
            XCTAssertEqual(w.count, 2 * max(1, Int((3 * sigma).rounded(.up))) + 1)
            XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-12)
            let r = w.count / 2
            let h = w.enumerated().map { ($0.offset - r) % 2 == 0 ? $0.element : -$0.element }.reduce(0, +)
            var unused = RNG(seed: 0)
            let out = ImageCorruption.gaussianBlur.apply(board, count: 1, severity: s, rng: &unused)
            for y in r..<(side - r) {
                for x in r..<(side - r) {
                    let expected = 128 + ((x + y) % 2 == 0 ? 40 : -40) * h * h
                    XCTAssertEqual(Double(out[y * side + x]), expected, accuracy: 0.5 + 1e-9, "severity \(s) at \(y),\(x)")
                }
            }
            // Energy of the high-frequency component falls by H^4.
            XCTAssertLessThan(h * h, s == 1 ? 0.9 : 0.5)
        }
        // Impulse response at sigma 0.7 (severity 2): 250 * w_i * w_j, rounded.
        let dot = image { _, y, x in y == 16 && x == 16 ? 250 : 0 }
        var unused = RNG(seed: 0)
        let out = ImageCorruption.gaussianBlur.apply(dot, count: 1, severity: 2, rng: &unused)
        let w = ImageCorruption.gaussianKernel(sigma: 0.7), r = w.count / 2
        for dy in -r...r {
            for dx in -r...r {
                XCTAssertEqual(Double(out[(16 + dy) * side + 16 + dx]), (250 * w[dy + r] * w[dx + r]).rounded(), accuracy: 1e-9)
            }
        }
    }

    /// JPEG-like blockiness: the quality-scaled table, a constant block's hand-computed
    /// quantisation, and a faint checkerboard whose only (highest-frequency) coefficient is
    /// quantised away, leaving every 8x8 block constant.
    func testBlockDCTQuantisation() {
        let t40 = ImageCorruption.quantisationTable(quality: 40)
        XCTAssertEqual(t40[0], 20)  // ⌊(16·125 + 50)/100⌋
        XCTAssertEqual(t40[63], 124)  // ⌊(99·125 + 50)/100⌋
        XCTAssertEqual(ImageCorruption.quantisationTable(quality: 80)[0], 6)  // scale 40: ⌊(640 + 50)/100⌋
        // A constant block of 137: DC = 8·(137 - 128) = 72; 72/20 = 3.6 -> 4 -> 80; back 80/8 + 128 = 138.
        var unused = RNG(seed: 0)
        let flat = image { _, _, _ in 137 }
        XCTAssertEqual(Set(ImageCorruption.jpeg.apply(flat, count: 1, severity: 3, rng: &unused)), [138])
        // Quality 80, Q00 = 6: 72/6 = 12 exactly -> 137 unchanged.
        XCTAssertEqual(Set(ImageCorruption.jpeg.apply(flat, count: 1, severity: 1, rng: &unused)), [137])
        // Faint checkerboard (±3 around a per-block level): each block comes out constant at its level.
        let faint = image { c, y, x in UInt8(100 + 8 * ((y / 8) * 4 + x / 8) % 60 + c + ((x + y) % 2 == 0 ? 3 : -3)) }
        let out = ImageCorruption.jpeg.apply(faint, count: 1, severity: 3, rng: &unused)
        for c in 0..<3 {
            for by in 0..<4 {
                for bx in 0..<4 {
                    var values = Set<UInt8>()
                    for y in 0..<8 { for x in 0..<8 { values.insert(out[c * 1024 + (by * 8 + y) * side + bx * 8 + x]) } }
                    XCTAssertEqual(values.count, 1, "channel \(c) block \(by),\(bx)")
                }
            }
        }
    }

    func split(count: Int) -> CIFARSplit {
        var rng = RNG(seed: 11)
        let images = (0..<(count * n)).map { _ in UInt8(rng.int(256)) }
        return CIFARSplit(split: "test", file: URL(fileURLWithPath: "/dev/null"), images: images,
                          fineLabels: (0..<count).map { $0 % 100 }, coarseLabels: (0..<count).map { $0 % 20 },
                          fineNames: (0..<100).map { "f\($0)" }, coarseNames: (0..<20).map { "c\($0)" })
    }

    /// Same seed, same bytes; another seed changes only the noise sets. Files are CIFAR-100
    /// records with the test set's labels, read back by `loadShifted` (with a prefix limit).
    func testShiftedSetsDeterministicAndReadable() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-shift-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let test = split(count: 5)
        let dirs = ["a", "b", "c"].map { tmp.appendingPathComponent($0) }
        try CIFARShift.write(test: test, seed: 1, into: dirs[0])
        try CIFARShift.write(test: test, seed: 1, into: dirs[1])
        try CIFARShift.write(test: test, seed: 2, into: dirs[2])
        XCTAssertEqual(ImageCorruption.allSets.count, 12)
        for (c, s) in ImageCorruption.allSets {
            let file = "\(c.setName(severity: s)).bin"
            let a = try Data(contentsOf: dirs[0].appendingPathComponent(file))
            XCTAssertEqual(a.count, 5 * CIFAR100.recordBytes)
            XCTAssertEqual(a, try Data(contentsOf: dirs[1].appendingPathComponent(file)), file)
            let other = try Data(contentsOf: dirs[2].appendingPathComponent(file))
            if c == .gaussianNoise { XCTAssertNotEqual(a, other, file) } else { XCTAssertEqual(a, other, file) }
        }
        // Read back from a dataset root's layout.
        let root = tmp.appendingPathComponent("root")
        let cifar = root.appendingPathComponent(CIFAR100.folder)
        try FileManager.default.createDirectory(at: cifar, withIntermediateDirectories: true)
        try (0..<100).map { "f\($0)" }.joined(separator: "\n").write(to: cifar.appendingPathComponent("fine_label_names.txt"), atomically: true, encoding: .utf8)
        try (0..<20).map { "c\($0)" }.joined(separator: "\n").write(to: cifar.appendingPathComponent("coarse_label_names.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(at: dirs[0], to: CIFARShift.directory(root: root))
        let s = try CIFAR100.loadShifted(root: root, name: "contrast-2")
        XCTAssertEqual(s.fineLabels, test.fineLabels)
        XCTAssertEqual(s.coarseLabels, test.coarseLabels)
        var unused = RNG(seed: 0)
        XCTAssertEqual(s.images, ImageCorruption.contrast.apply(test.images, count: 5, severity: 2, rng: &unused))
        XCTAssertEqual(try CIFAR100.loadShifted(root: root, name: "jpeg-3", limit: 2).count, 2)
    }
}
