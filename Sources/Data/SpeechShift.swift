import Foundation
import Tensor

/// Shifted versions of LibriSpeech's test-clean: additive white noise at fixed SNRs and speed
/// perturbation, written as 16 kHz 16-bit mono FLAC in LibriSpeech's layout beside the
/// original, `LibriSpeech/test-clean-<shift>/<speaker>/<chapter>/…` with the same utterance ids
/// and `trans.txt` files.
///
/// - `noise20`, `noise10`, `noise5`: Gaussian white noise of SD `rms(x) / 10^(snr/20)` with
///   `rms(x)` the RMS of the whole utterance (so the SNR is 20, 10 or 5 dB measured on the
///   signal's RMS), drawn from the seed per utterance (`RNG(seed).split("speech-shift:<set>:<id>")`).
/// - `speed0.9`, `speed1.1`: speed perturbation as sox's `speed` effect (tempo and pitch
///   change together), done here by resampling with linear interpolation: output sample `i`
///   is the input at position `i·f`, so the duration becomes `1/f` of the original
///   (0.9: 11 % longer; 1.1: 9 % shorter).
///
/// Samples are rounded to the nearest integer and clamped to the 16-bit range.
public enum SpeechShift: Sendable, Equatable {
    case noise(snrDB: Double)
    case speed(factor: Double)

    /// The five shifts, in a fixed order.
    public static let all: [SpeechShift] = [.noise(snrDB: 20), .noise(snrDB: 10), .noise(snrDB: 5),
                                            .speed(factor: 0.9), .speed(factor: 1.1)]

    /// `noise20`, …, `speed0.9`, `speed1.1`.
    public var name: String {
        switch self {
        case .noise(let snr): return "noise\(Int(snr))"
        case .speed(let f): return "speed\(f)"
        }
    }

    /// The subset folder of this shift of `subset`, e.g. `test-clean-noise20`.
    public func subset(of subset: String) -> String { "\(subset)-\(name)" }

    /// Applies the shift to one utterance's samples.
    public func apply(_ samples: [Int16], rng: inout RNG) -> [Int16] {
        switch self {
        case .noise(let snr):
            let rms = SpeechShift.rms(samples.map(Double.init))
            let sd = rms / pow(10, snr / 20)
            return samples.map { SpeechShift.clamp(Double($0) + sd * Double(rng.normal())) }
        case .speed(let f):
            guard samples.count > 1 else { return samples }
            let n = Int((Double(samples.count - 1) / f).rounded(.down)) + 1
            return (0..<n).map { i in
                let pos = Double(i) * f
                let k = min(Int(pos), samples.count - 2), t = pos - Double(k)
                return SpeechShift.clamp(Double(samples[k]) * (1 - t) + Double(samples[k + 1]) * t)
            }
        }
    }

    public static func rms(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        return (x.map { $0 * $0 }.reduce(0, +) / Double(x.count)).squareRoot()
    }

    static func clamp(_ v: Double) -> Int16 { Int16(min(32767, max(-32768, v.rounded()))) }

    /// Writes every shift of `subset` of `root` into `into/<subset>-<shift>/` in LibriSpeech's
    /// layout (FLAC and `trans.txt` per chapter). `limit` keeps only the first utterances (in
    /// `LibriSpeech.scan` order); nil writes them all.
    public static func write(root: URL, subset: String, seed: UInt64, limit: Int? = nil, into: URL) throws {
        let utts = Array(try LibriSpeech.scan(root: root, subset: subset).prefix(limit ?? Int.max))
        let fm = FileManager.default
        for shift in all {
            let dir = into.appendingPathComponent(shift.subset(of: subset))
            var chapters: [String: [(String, String)]] = [:]
            for u in utts {
                let chapterDir = dir.appendingPathComponent(u.speaker).appendingPathComponent(u.chapter)
                do { try fm.createDirectory(at: chapterDir, withIntermediateDirectories: true) } catch {
                    throw DataError(file: chapterDir.path, "cannot create the folder: \(error.localizedDescription)")
                }
                var rng = RNG(seed: seed).split("speech-shift:\(shift.name):\(u.id)")
                let out = shift.apply(try u.loadSamples(), rng: &rng)
                try Flac.write(out, to: chapterDir.appendingPathComponent("\(u.id).flac"))
                chapters["\(u.speaker)/\(u.chapter)", default: []].append((u.id, u.transcript))
            }
            for (key, lines) in chapters {
                let parts = key.split(separator: "/")
                let url = dir.appendingPathComponent(key).appendingPathComponent("\(parts[0])-\(parts[1]).trans.txt")
                let text = lines.map { "\($0.0) \($0.1)\n" }.joined()
                do { try Data(text.utf8).write(to: url) } catch {
                    throw DataError(file: url.path, "cannot write: \(error.localizedDescription)")
                }
            }
        }
    }
}
