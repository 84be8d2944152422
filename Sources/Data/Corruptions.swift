import Foundation
import Tensor

/// Image corruptions in the style of CIFAR-100-C (Hendrycks & Dietterich 2019, "Benchmarking
/// Neural Network Robustness to Common Corruptions and Perturbations"), applied to 32x32 RGB
/// images stored as CIFAR-100 planes (`[3, 32, 32]` bytes).
///
/// Each corruption has three severities, taken from severities 1, 3 and 5 of the paper's
/// CIFAR scale (its code for the 32x32 datasets):
///
/// | corruption | parameter | severity 1 | 2 | 3 |
/// |---|---|---|---|---|
/// | `gaussian_noise` | noise SD on the [0, 1] scale | 0.04 | 0.08 | 0.10 |
/// | `gaussian_blur` | kernel SD in pixels | 0.4 | 0.7 | 1.0 |
/// | `contrast` | factor on the deviation from each channel's mean | 0.75 | 0.4 | 0.15 |
/// | `jpeg` | JPEG quality | 80 | 58 | 40 |
///
/// - `gaussian_noise`: `x/255 + N(0, s²)` per pixel and channel, clipped to [0, 1]; the only
///   random corruption (its draws come from the seed).
/// - `gaussian_blur`: separable Gaussian kernel of SD `s`, truncated at radius `max(1, ⌈3s⌉)`,
///   normalised to sum 1, with edge pixels repeated beyond the border.
/// - `contrast`: `(x - m_c)·f + m_c` with `m_c` the image's mean of channel `c` (as the paper).
/// - `jpeg`: JPEG-like blockiness by 8x8 block DCT quantisation, per RGB channel (no YCbCr
///   conversion, no chroma subsampling, no entropy coding): pixels shifted by -128, the
///   orthonormal 2-D DCT-II of each 8x8 block, each coefficient rounded to a multiple of the
///   standard JPEG luminance table (ITU T.81 Annex K) scaled for the quality as libjpeg does
///   (`scale = 5000/q` below 50, `200 - 2q` from 50; entries `⌊(Q·scale + 50)/100⌋` clamped to
///   1...255), then the inverse DCT.
///
/// Every result is rounded to the nearest byte (halves away from zero) and clamped to 0...255.
public enum ImageCorruption: String, CaseIterable, Sendable {
    case gaussianNoise = "gaussian_noise"
    case gaussianBlur = "gaussian_blur"
    case contrast
    case jpeg

    public static let severities = [1, 2, 3]

    /// The corruption's parameter at `severity` (1-3): see the table above.
    public func parameter(severity: Int) -> Double {
        precondition(ImageCorruption.severities.contains(severity), "severity \(severity) out of 1...3")
        switch self {
        case .gaussianNoise: return [0.04, 0.08, 0.10][severity - 1]
        case .gaussianBlur: return [0.4, 0.7, 1.0][severity - 1]
        case .contrast: return [0.75, 0.4, 0.15][severity - 1]
        case .jpeg: return [80, 58, 40][severity - 1]
        }
    }

    /// `<corruption>-<severity>`, e.g. `gaussian_noise-2`: the shifted set's name and file stem.
    public func setName(severity: Int) -> String { "\(rawValue)-\(severity)" }

    /// Every (corruption, severity) in a fixed order: corruptions as declared, severities 1-3.
    public static var allSets: [(ImageCorruption, Int)] {
        allCases.flatMap { c in severities.map { (c, $0) } }
    }

    /// Corrupts `count` images (`[count, 3, 32, 32]` bytes). Noise draws come from `rng`, in
    /// image order, then channel, row and column order.
    public func apply(_ images: [UInt8], count: Int, severity: Int, rng: inout RNG) -> [UInt8] {
        let n = CIFARSplit.pixelsPerImage
        precondition(images.count == count * n)
        var out = [UInt8](repeating: 0, count: images.count)
        let p = parameter(severity: severity)
        let kernel = self == .gaussianBlur ? ImageCorruption.gaussianKernel(sigma: p) : []
        let table = self == .jpeg ? ImageCorruption.quantisationTable(quality: Int(p)) : []
        for i in 0..<count {
            let img = Array(images[(i * n)..<((i + 1) * n)])
            let res: [Double]
            switch self {
            case .gaussianNoise:
                res = img.map { (Double($0) / 255 + p * Double(rng.normal())).clamped01 * 255 }
            case .gaussianBlur: res = ImageCorruption.blur(img, kernel: kernel)
            case .contrast: res = ImageCorruption.contrast(img, factor: p)
            case .jpeg: res = ImageCorruption.blockDCT(img, table: table)
            }
            for j in 0..<n { out[i * n + j] = UInt8(min(255, max(0, res[j].rounded()))) }
        }
        return out
    }

    // MARK: Kernels

    /// Normalised 1-D Gaussian weights at offsets `-r...r`, `r = max(1, ⌈3σ⌉)`.
    public static func gaussianKernel(sigma: Double) -> [Double] {
        let r = max(1, Int((3 * sigma).rounded(.up)))
        let w = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let s = w.reduce(0, +)
        return w.map { $0 / s }
    }

    static func blur(_ img: [UInt8], kernel: [Double]) -> [Double] {
        let side = CIFARSplit.side, plane = side * side, r = kernel.count / 2
        var out = [Double](repeating: 0, count: img.count)
        var tmp = [Double](repeating: 0, count: plane)
        for c in 0..<3 {
            let base = c * plane
            for y in 0..<side {
                for x in 0..<side {
                    var s = 0.0
                    for k in -r...r { s += kernel[k + r] * Double(img[base + y * side + min(side - 1, max(0, x + k))]) }
                    tmp[y * side + x] = s
                }
            }
            for y in 0..<side {
                for x in 0..<side {
                    var s = 0.0
                    for k in -r...r { s += kernel[k + r] * tmp[min(side - 1, max(0, y + k)) * side + x] }
                    out[base + y * side + x] = s
                }
            }
        }
        return out
    }

    static func contrast(_ img: [UInt8], factor: Double) -> [Double] {
        let plane = CIFARSplit.side * CIFARSplit.side
        var out = [Double](repeating: 0, count: img.count)
        for c in 0..<3 {
            let px = img[(c * plane)..<((c + 1) * plane)].map(Double.init)
            let m = px.reduce(0, +) / Double(plane)
            for j in 0..<plane { out[c * plane + j] = (px[j] - m) * factor + m }
        }
        return out
    }

    /// The standard JPEG luminance quantisation table (ITU T.81, Annex K, table K.1), row-major.
    public static let luminanceTable: [Int] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ]

    /// The luminance table scaled for `quality` (1-100) as libjpeg's `jpeg_quality_scaling`.
    public static func quantisationTable(quality: Int) -> [Double] {
        let q = min(100, max(1, quality))
        let scale = q < 50 ? 5000 / q : 200 - 2 * q
        return luminanceTable.map { Double(min(255, max(1, ($0 * scale + 50) / 100))) }
    }

    /// Orthonormal 8-point DCT-II basis: `basis[u][x] = C(u) cos((2x+1)uπ/16)`.
    static let basis: [[Double]] = (0..<8).map { (u: Int) -> [Double] in
        let scale: Double = u == 0 ? (1.0 / 8.0).squareRoot() : (2.0 / 8.0).squareRoot()
        return (0..<8).map { (x: Int) -> Double in
            let angle = Double(2 * x + 1) * Double(u) * Double.pi / 16
            return scale * cos(angle)
        }
    }

    static func blockDCT(_ img: [UInt8], table: [Double]) -> [Double] {
        let side = CIFARSplit.side, plane = side * side
        var out = [Double](repeating: 0, count: img.count)
        var block = [Double](repeating: 0, count: 64), coef = [Double](repeating: 0, count: 64)
        var tmp = [Double](repeating: 0, count: 64)
        for c in 0..<3 {
            for by in stride(from: 0, to: side, by: 8) {
                for bx in stride(from: 0, to: side, by: 8) {
                    for y in 0..<8 { for x in 0..<8 { block[y * 8 + x] = Double(img[c * plane + (by + y) * side + bx + x]) - 128 } }
                    // Rows then columns: coef[v][u] = Σ_y Σ_x B[v][y] B[u][x] block[y][x].
                    for y in 0..<8 { for u in 0..<8 { var s = 0.0; for x in 0..<8 { s += basis[u][x] * block[y * 8 + x] }; tmp[y * 8 + u] = s } }
                    for v in 0..<8 { for u in 0..<8 { var s = 0.0; for y in 0..<8 { s += basis[v][y] * tmp[y * 8 + u] }; coef[v * 8 + u] = s } }
                    for k in 0..<64 { coef[k] = (coef[k] / table[k]).rounded() * table[k] }
                    for v in 0..<8 { for x in 0..<8 { var s = 0.0; for u in 0..<8 { s += basis[u][x] * coef[v * 8 + u] }; tmp[v * 8 + x] = s } }
                    for y in 0..<8 {
                        for x in 0..<8 {
                            var s = 0.0
                            for v in 0..<8 { s += basis[v][y] * tmp[v * 8 + x] }
                            out[c * plane + (by + y) * side + bx + x] = s + 128
                        }
                    }
                }
            }
        }
        return out
    }
}

extension Double {
    fileprivate var clamped01: Double { Swift.min(1, Swift.max(0, self)) }
}

/// The shifted CIFAR-100 test sets: every `ImageCorruption` at every severity applied to a
/// dataset root's `test.bin`, written as CIFAR-100 binary files
/// `cifar-100-binary/shifted/<corruption>-<severity>.bin` (same records, same labels, same
/// order as `test.bin`) with `shifted/SHIFTED.md` describing them.
public enum CIFARShift {
    public static let folder = "shifted"

    /// `root/cifar-100-binary/shifted`.
    public static func directory(root: URL) -> URL {
        root.appendingPathComponent(CIFAR100.folder).appendingPathComponent(folder)
    }

    /// Writes every shifted set of `test` into `dir` (created). Deterministic for `seed`:
    /// each set draws from `RNG(seed).split("cifar-shift:<name>")`.
    public static func write(test: CIFARSplit, seed: UInt64, into dir: URL) throws {
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw DataError(file: dir.path, "cannot create the folder: \(error.localizedDescription)")
        }
        let n = CIFARSplit.pixelsPerImage
        for (c, s) in ImageCorruption.allSets {
            var rng = RNG(seed: seed).split("cifar-shift:\(c.setName(severity: s))")
            let px = c.apply(test.images, count: test.count, severity: s, rng: &rng)
            var bytes = [UInt8](repeating: 0, count: test.count * CIFAR100.recordBytes)
            for i in 0..<test.count {
                bytes[i * CIFAR100.recordBytes] = UInt8(test.coarseLabels[i])
                bytes[i * CIFAR100.recordBytes + 1] = UInt8(test.fineLabels[i])
                for j in 0..<n { bytes[i * CIFAR100.recordBytes + 2 + j] = px[i * n + j] }
            }
            let file = dir.appendingPathComponent("\(c.setName(severity: s)).bin")
            do { try Data(bytes).write(to: file) } catch {
                throw DataError(file: file.path, "cannot write: \(error.localizedDescription)")
            }
        }
        let rows = ImageCorruption.allCases.map { c in
            "| `\(c.rawValue)` | " + ImageCorruption.severities.map { String(c.parameter(severity: $0)) }.joined(separator: " | ") + " |"
        }.joined(separator: "\n")
        let notes = """
            # Shifted CIFAR-100 test sets

            Corruptions in the style of CIFAR-100-C (Hendrycks & Dietterich 2019) applied to \
            `../test.bin` (\(test.count) images) by moebench, seed \(seed): one CIFAR-100 binary \
            file per corruption and severity, `<corruption>-<severity>.bin`, with the records, \
            labels and order of `test.bin`. Parameters (severities 1, 3 and 5 of the paper's CIFAR scale):

            | corruption | 1 | 2 | 3 |
            |---|---|---|---|
            \(rows)

            gaussian_noise: noise SD on the [0, 1] scale; gaussian_blur: kernel SD in pixels; \
            contrast: factor on the deviation from each channel's mean; jpeg: JPEG quality of an \
            8x8 block DCT quantisation per RGB channel with the standard luminance table.

            """
        try Data(notes.utf8).write(to: dir.appendingPathComponent("SHIFTED.md"))
    }
}
