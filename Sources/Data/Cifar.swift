import Foundation
import Tensor

/// One split of CIFAR-100 (binary version) in memory.
///
/// `images` holds the raw bytes `[count, 3, 32, 32]` (channel planes R, G, B, each 32x32
/// row-major), exactly as stored in the records.
public struct CIFARSplit {
    /// Image side in pixels.
    public static let side = 32
    /// Bytes per image: 3 planes of 32x32.
    public static let pixelsPerImage = 3 * 32 * 32

    /// `"train"` or `"test"`.
    public let split: String
    /// The `.bin` file the split was read from.
    public let file: URL
    /// Raw pixels `[count, 3, 32, 32]`.
    public let images: [UInt8]
    /// Fine labels, 0-99.
    public let fineLabels: [Int]
    /// Coarse (superclass) labels, 0-19.
    public let coarseLabels: [Int]
    /// `fine_label_names.txt`, 100 names.
    public let fineNames: [String]
    /// `coarse_label_names.txt`, 20 names.
    public let coarseNames: [String]
    /// Difficulty level (1-3) per image, from `difficulty.tsv` when the data is the proxy.
    public let difficulty: [Int]?
    /// True when the dataset root holds synthetic proxy data (`PROXY.md`).
    public let isProxy: Bool

    public var count: Int { fineLabels.count }

    public init(split: String, file: URL, images: [UInt8], fineLabels: [Int], coarseLabels: [Int],
                fineNames: [String], coarseNames: [String], difficulty: [Int]? = nil, isProxy: Bool = false) {
        precondition(images.count == fineLabels.count * CIFARSplit.pixelsPerImage && fineLabels.count == coarseLabels.count)
        self.split = split
        self.file = file
        self.images = images
        self.fineLabels = fineLabels
        self.coarseLabels = coarseLabels
        self.fineNames = fineNames
        self.coarseNames = coarseNames
        self.difficulty = difficulty
        self.isProxy = isProxy
    }
}

/// Per-channel normalisation `x̂ = (p / 255 - mean[c]) / std[c]` for a pixel byte `p` of
/// channel `c`.
public struct CIFARNormalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3)
        self.mean = mean
        self.std = std
    }

    /// Mean and (population) standard deviation of each channel over every pixel of
    /// `split` (use the training split), on the `[0, 1]` scale.
    public static func fit(_ split: CIFARSplit) -> CIFARNormalization {
        var histogram = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 3)
        split.images.withUnsafeBufferPointer { px in
            let plane = CIFARSplit.side * CIFARSplit.side
            for i in 0..<split.count {
                for c in 0..<3 {
                    let base = i * CIFARSplit.pixelsPerImage + c * plane
                    for j in 0..<plane { histogram[c][Int(px[base + j])] += 1 }
                }
            }
        }
        var mean = [Float](), std = [Float]()
        for c in 0..<3 {
            var n = 0.0, s = 0.0, s2 = 0.0
            for v in 0..<256 {
                let k = Double(histogram[c][v]), x = Double(v) / 255
                n += k; s += k * x; s2 += k * x * x
            }
            let m = n > 0 ? s / n : 0
            let variance = n > 0 ? max(0, s2 / n - m * m) : 0
            mean.append(Float(m))
            std.append(Float(max(variance.squareRoot(), 1e-6)))
        }
        return CIFARNormalization(mean: mean, std: std)
    }
}

extension CIFARSplit {
    /// Mean and standard deviation per channel of this split (see `CIFARNormalization.fit`).
    public func channelStatistics() -> CIFARNormalization { CIFARNormalization.fit(self) }

    /// A normalised float batch `[indices.count, 3, 32, 32]` (no augmentation).
    public func batch(_ indices: [Int], normalization: CIFARNormalization) -> Tensor {
        var unused = RNG(seed: 0)
        return batch(indices, normalization: normalization, augment: false, rng: &unused)
    }

    /// A normalised float batch `[indices.count, 3, 32, 32]`.
    ///
    /// With `augment`, each image gets the standard CIFAR augmentation, drawn from `rng` in
    /// this order per image: a random 32x32 crop of the image zero-padded by 4 pixels on each
    /// side (offsets `oy, ox` uniform in 0...8; padding is pixel value 0, i.e. black, before
    /// normalisation, as in the usual `RandomCrop(32, padding: 4)` on raw images), then a
    /// horizontal flip with probability 1/2. Output pixel `(y, x)` is the input pixel
    /// `(y + oy - 4, x' + ox - 4)` with `x' = 31 - x` when flipped, `x` otherwise.
    public func batch(_ indices: [Int], normalization: CIFARNormalization, augment: Bool,
                      rng: inout RNG) -> Tensor {
        let side = CIFARSplit.side, plane = side * side
        let out = Tensor(uninitialized: [indices.count, 3, side, side])
        // Lookup table: byte value -> normalised float, per channel.
        var lut = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 { lut[c * 256 + v] = (Float(v) / 255 - normalization.mean[c]) / normalization.std[c] }
        }
        let o = out.data
        images.withUnsafeBufferPointer { px in
            lut.withUnsafeBufferPointer { lut in
                for (b, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "image index \(index) out of range 0..<\(count)")
                    let src = px.baseAddress! + index * CIFARSplit.pixelsPerImage
                    let dst = o + b * CIFARSplit.pixelsPerImage
                    if !augment {
                        for c in 0..<3 {
                            for j in 0..<plane { dst[c * plane + j] = lut[c * 256 + Int(src[c * plane + j])] }
                        }
                        continue
                    }
                    let oy = rng.int(9) - 4, ox = rng.int(9) - 4
                    let flip = rng.next() & 1 == 1
                    for c in 0..<3 {
                        let zero = lut[c * 256]
                        for y in 0..<side {
                            let sy = y + oy
                            for x in 0..<side {
                                let sx = (flip ? side - 1 - x : x) + ox
                                dst[c * plane + y * side + x] = (sy < 0 || sy >= side || sx < 0 || sx >= side)
                                    ? zero : lut[c * 256 + Int(src[c * plane + sy * side + sx])]
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Reader for the binary version of CIFAR-100 (`cifar-100-binary/` under a dataset root).
public enum CIFAR100 {
    /// Folder under the dataset root.
    public static let folder = "cifar-100-binary"
    /// One record: coarse label byte, fine label byte, 1024 R, 1024 G, 1024 B bytes.
    public static let recordBytes = 3074
    public static let fineClasses = 100
    public static let coarseClasses = 20
    public static let downloadURL = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"

    /// Reads `root/cifar-100-binary/{split}.bin` with the two label-name files, and the
    /// proxy's difficulty side file `difficultyFile` when present (nil: levels not read).
    ///
    /// Throws a `DataError` when a file is missing (saying where to download and extract
    /// the archive), when the `.bin` size is not a multiple of 3074 (naming the offset of
    /// the truncated record), when a label byte is out of range (naming record and offset),
    /// or when a name file does not hold exactly 20 / 100 names.
    public static func load(root: URL, split: String, difficultyFile: String? = "difficulty.tsv") throws -> CIFARSplit {
        let dir = root.appendingPathComponent(folder)
        let file = dir.appendingPathComponent("\(split).bin")
        guard split == "train" || split == "test" else {
            throw DataError(file: file.path, "unknown CIFAR-100 split \"\(split)\" (expected train or test)")
        }
        let fineNames = try readNames(dir.appendingPathComponent("fine_label_names.txt"), root: root, expected: fineClasses)
        let coarseNames = try readNames(dir.appendingPathComponent("coarse_label_names.txt"), root: root, expected: coarseClasses)
        let bytes = try readFile(file, root: root)
        let (images, fine, coarse, n) = try parseRecords(bytes, file: file)
        let isProxy = DatasetLayout.isProxy(root)
        let difficulty = try difficultyFile.flatMap { try loadDifficulty(root: root, split: split, count: n, fileName: $0) }
        return CIFARSplit(split: split, file: file, images: images, fineLabels: fine, coarseLabels: coarse,
                          fineNames: fineNames, coarseNames: coarseNames, difficulty: difficulty, isProxy: isProxy)
    }

    /// The records of a CIFAR-100 binary file: pixels `[n, 3, 32, 32]`, fine and coarse
    /// labels, and the record count `n` (errors as `load`'s).
    static func parseRecords(_ bytes: Data, file: URL) throws -> ([UInt8], [Int], [Int], Int) {
        if bytes.count % recordBytes != 0 {
            let full = bytes.count / recordBytes
            throw DataError(file: file.path, location: "offset \(full * recordBytes)",
                            "file size \(bytes.count) is not a multiple of the \(recordBytes)-byte record "
                            + "(coarse label, fine label, 3072 pixels): the record at this offset has only "
                            + "\(bytes.count - full * recordBytes) bytes")
        }
        let n = bytes.count / recordBytes
        guard n > 0 else {
            throw DataError(file: file.path, "empty: expected at least one \(recordBytes)-byte record "
                            + "(coarse label, fine label, 3072 pixels)")
        }
        var images = [UInt8](repeating: 0, count: n * CIFARSplit.pixelsPerImage)
        var fine = [Int](repeating: 0, count: n)
        var coarse = [Int](repeating: 0, count: n)
        var failure: DataError?
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let src = raw.bindMemory(to: UInt8.self).baseAddress!
            images.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let rec = src + i * recordBytes
                    let c = Int(rec[0]), f = Int(rec[1])
                    if c >= coarseClasses || f >= fineClasses {
                        let which = c >= coarseClasses ? "coarse" : "fine"
                        let value = c >= coarseClasses ? c : f
                        let limit = c >= coarseClasses ? coarseClasses : fineClasses
                        let offset = i * recordBytes + (c >= coarseClasses ? 0 : 1)
                        failure = DataError(file: file.path, location: "record \(i), offset \(offset)",
                                            "\(which) label \(value) out of range 0-\(limit - 1)")
                        return
                    }
                    coarse[i] = c
                    fine[i] = f
                    (dst.baseAddress! + i * CIFARSplit.pixelsPerImage)
                        .update(from: rec + 2, count: CIFARSplit.pixelsPerImage)
                }
            }
        }
        if let failure { throw failure }
        return (images, fine, coarse, n)
    }

    /// A shifted test set, `cifar-100-binary/shifted/<name>.bin` (see `CIFARShift`), with
    /// the label names of the dataset root; only its first `limit` records when given.
    public static func loadShifted(root: URL, name: String, limit: Int? = nil) throws -> CIFARSplit {
        let dir = root.appendingPathComponent(folder)
        let file = CIFARShift.directory(root: root).appendingPathComponent("\(name).bin")
        let fineNames = try readNames(dir.appendingPathComponent("fine_label_names.txt"), root: root, expected: fineClasses)
        let coarseNames = try readNames(dir.appendingPathComponent("coarse_label_names.txt"), root: root, expected: coarseClasses)
        var bytes = try readFile(file, root: root)
        if let limit, bytes.count > limit * recordBytes { bytes = bytes.prefix(limit * recordBytes) }
        let (images, fine, coarse, _) = try parseRecords(bytes, file: file)
        return CIFARSplit(split: name, file: file, images: images, fineLabels: fine, coarseLabels: coarse,
                          fineNames: fineNames, coarseNames: coarseNames, isProxy: DatasetLayout.isProxy(root))
    }

    /// The proxy's `cifar-100-binary/difficulty.tsv` rows for `split` (header
    /// `split<TAB>index<TAB>level`, one row per image, levels 1-3), or nil when the file is
    /// absent (the published data has none). `fileName` names another side file of that format.
    public static func loadDifficulty(root: URL, split: String, count: Int,
                                      fileName: String = "difficulty.tsv") throws -> [Int]? {
        let url = root.appendingPathComponent(folder).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let text = try String(contentsOf: url, encoding: .utf8)
        var levels = [Int?](repeating: nil, count: count)
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            if k == 0 {
                guard cols == ["split", "index", "level"] else {
                    throw DataError(file: url.path, location: "line 1", "expected the header split<TAB>index<TAB>level")
                }
                continue
            }
            guard cols.count == 3, let index = Int(cols[1]), let level = Int(cols[2]), (1...3).contains(level) else {
                throw DataError(file: url.path, location: "line \(k + 1)",
                                "expected split<TAB>index<TAB>level with a level of 1-3")
            }
            guard cols[0] == split else { continue }
            guard index >= 0 && index < count else {
                throw DataError(file: url.path, location: "line \(k + 1)",
                                "index \(index) out of range 0..<\(count) for split \(split)")
            }
            levels[index] = level
        }
        if let missing = levels.firstIndex(where: { $0 == nil }) {
            throw DataError(file: url.path, "no level for \(split) image \(missing)")
        }
        return levels.map { $0! }
    }

    static func missingMessage(root: URL) -> String {
        "not found. Download \(downloadURL) (168,513,733 bytes, md5 03b5dce01913d631647c71ecec9e9cb8) "
            + "and extract it in the dataset folder (tar xzf cifar-100-binary.tar.gz -C \(root.path)) so that "
            + "\(root.appendingPathComponent(folder).path)/train.bin exists; or write the synthetic proxy "
            + "data there with `moebench data`"
    }

    static func readFile(_ url: URL, root: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError(file: url.path, missingMessage(root: root))
        }
        do { return try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw DataError(file: url.path, "cannot read: \(error.localizedDescription)")
        }
    }

    static func readNames(_ url: URL, root: URL, expected: Int) throws -> [String] {
        let data = try readFile(url, root: root)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(file: url.path, "not UTF-8 text (expected one label name per line)")
        }
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard names.count == expected else {
            throw DataError(file: url.path, "\(names.count) label names, expected \(expected) (one per line)")
        }
        return names
    }
}
