import Foundation
import Tensor

/// Settings of the log-mel front end. The defaults are the usual ASR features for 16 kHz
/// speech: 80 bins, 25 ms window, 10 ms hop.
public struct LogMelConfig: Equatable, Sendable, Codable {
    public var sampleRate: Int = 16_000
    /// Window length in samples (400 = 25 ms).
    public var windowLength: Int = 400
    /// Hop in samples (160 = 10 ms).
    public var hopLength: Int = 160
    /// FFT size; the window is zero-padded to it. `nFFT / 2 + 1` frequency bins.
    public var nFFT: Int = 512
    public var melBins: Int = 80
    public var fMin: Float = 0
    public var fMax: Float = 8000
    /// Added before the logarithm: `log(mel + floor)`; digital silence gives `log(floor)`.
    public var floor: Float = 1e-6

    public init() {}

    /// Frequency bins of the power spectrum.
    public var frequencyBins: Int { nFFT / 2 + 1 }
}

/// 80-bin log-mel features.
///
/// For samples `x` (floats, e.g. `Int16 / 32768`) of length `n`:
/// 1. frames `t = 0 ..< T`, `T = 1 + ⌊(n − 400) / 160⌋` (no centring or padding; when
///    `n < 400`, a single frame zero-padded to 400), frame `t` = `x[160 t ..< 160 t + 400]`;
/// 2. periodic Hann window `w[i] = 0.5 − 0.5 cos(2π i / 400)`, zero-padded to 512;
/// 3. power spectrum `P[t, k] = (Σ_i w[i] x_t[i] cos(2π k i / 512))² + (Σ_i w[i] x_t[i] sin(2π k i / 512))²`
///    for `k = 0...256`, computed as one GEMM of the frames `[T, 400]` with the precomputed
///    windowed basis `[400, 514]` (cosines | sines), no normalisation;
/// 4. HTK mel filterbank: `mel(f) = 2595 log10(1 + f / 700)`, 82 points equally spaced on
///    that scale from 0 to 8000 Hz, triangle `j` rising from point `j` to `j+1` and falling
///    to `j+2`, peak 1, no area normalisation (torchaudio's `melscale_fbanks` with
///    `mel_scale: "htk", norm: None`), applied to bin frequencies `k · 16000 / 512`, as a
///    second GEMM `[T, 257] × [257, 80]`;
/// 5. `log(mel + 1e-6)`;
/// 6. optionally, per-utterance normalisation per mel bin over time:
///    `(x − mean) / (std + 1e-5)` with the population standard deviation.
///
/// Output `[T, 80]`. Cost per utterance: `2·T·400·514 + 2·T·257·80` FLOPs in the two GEMMs
/// plus `3·T·257 + 2·T·80` elementwise; it is input preprocessing, so it is not added to
/// the model's FLOP counter.
public final class LogMel {
    public let config: LogMelConfig
    /// Windowed DFT basis `[windowLength, 2 · frequencyBins]`: column `k` is `w[i] cos(2π k i / nFFT)`,
    /// column `frequencyBins + k` is `w[i] sin(2π k i / nFFT)`.
    public let basis: Tensor
    /// Mel filterbank `[frequencyBins, melBins]`.
    public let filterbank: Tensor

    public init(_ config: LogMelConfig = LogMelConfig()) {
        precondition(config.windowLength <= config.nFFT && config.hopLength > 0 && config.melBins > 0
                     && config.fMax > config.fMin && config.fMax <= Float(config.sampleRate) / 2,
                     "inconsistent log-mel settings \(config)")
        self.config = config
        let win = config.windowLength, bins = config.frequencyBins
        basis = Tensor(uninitialized: [win, 2 * bins])
        for i in 0..<win {
            let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(win))
            for k in 0..<bins {
                // Reduce k·i modulo nFFT first so the angle stays small and exact.
                let angle = 2 * Double.pi * Double((k * i) % config.nFFT) / Double(config.nFFT)
                basis.data[i * 2 * bins + k] = Float(w * cos(angle))
                basis.data[i * 2 * bins + bins + k] = Float(w * sin(angle))
            }
        }
        filterbank = Tensor(shape: [bins, config.melBins], scalars: LogMel.melFilterbank(config))
    }

    /// The HTK mel filterbank `[frequencyBins, melBins]`, row-major (see the type's doc).
    public static func melFilterbank(_ c: LogMelConfig) -> [Float] {
        func hzToMel(_ f: Double) -> Double { 2595 * log10(1 + f / 700) }
        func melToHz(_ m: Double) -> Double { 700 * (pow(10, m / 2595) - 1) }
        let bins = c.frequencyBins, mels = c.melBins
        let lo = hzToMel(Double(c.fMin)), hi = hzToMel(Double(c.fMax))
        let points = (0..<(mels + 2)).map { melToHz(lo + (hi - lo) * Double($0) / Double(mels + 1)) }
        var fb = [Float](repeating: 0, count: bins * mels)
        for k in 0..<bins {
            let f = Double(k) * Double(c.sampleRate) / Double(c.nFFT)
            for j in 0..<mels {
                let up = (f - points[j]) / (points[j + 1] - points[j])
                let down = (points[j + 2] - f) / (points[j + 2] - points[j + 1])
                fb[k * mels + j] = Float(max(0, min(up, down)))
            }
        }
        return fb
    }

    /// Number of frames for `samples` samples: `1 + ⌊(samples − window) / hop⌋`, at least 1.
    public func frameCount(samples: Int) -> Int {
        samples <= config.windowLength ? 1 : 1 + (samples - config.windowLength) / config.hopLength
    }

    /// Features `[T, melBins]` of 16-bit samples (scaled by 1/32768).
    public func callAsFunction(_ samples: [Int16], normalize: Bool = false) -> Tensor {
        callAsFunction(samples.map { Float($0) * (1 / 32768) }, normalize: normalize)
    }

    /// Features `[T, melBins]` of float samples.
    public func callAsFunction(_ samples: [Float], normalize: Bool = false) -> Tensor {
        let win = config.windowLength, hop = config.hopLength, bins = config.frequencyBins
        let mels = config.melBins
        let t = frameCount(samples: samples.count)
        // Frames [T, win] (copied: overlapping rows cannot be one strided BLAS operand).
        let frames = [Float](unsafeUninitializedCapacity: t * win) { buf, n in
            samples.withUnsafeBufferPointer { x in
                for r in 0..<t {
                    let start = r * hop
                    let avail = max(0, min(win, x.count - start))
                    let dst = buf.baseAddress! + r * win
                    if avail > 0 { dst.update(from: x.baseAddress! + start, count: avail) }
                    if avail < win { (dst + avail).initialize(repeating: 0, count: win - avail) }
                }
            }
            n = t * win
        }
        // Spectrum [T, 2·bins] = frames · basis.
        var spectrum = [Float](repeating: 0, count: t * 2 * bins)
        frames.withUnsafeBufferPointer { f in
            spectrum.withUnsafeMutableBufferPointer { s in
                sgemm(transA: false, transB: false, m: t, n: 2 * bins, k: win, a: f.baseAddress!, lda: win,
                      b: basis.data, ldb: 2 * bins, beta: 0, c: s.baseAddress!, ldc: 2 * bins)
            }
        }
        // Power [T, bins], in place in the first half of each row.
        var power = [Float](repeating: 0, count: t * bins)
        spectrum.withUnsafeBufferPointer { s in
            power.withUnsafeMutableBufferPointer { p in
                for r in 0..<t {
                    let row = s.baseAddress! + r * 2 * bins
                    for k in 0..<bins { p[r * bins + k] = row[k] * row[k] + row[bins + k] * row[bins + k] }
                }
            }
        }
        // Mel energies [T, mels] = power · filterbank, then the log.
        let out = Tensor(uninitialized: [t, mels])
        power.withUnsafeBufferPointer { p in
            sgemm(transA: false, transB: false, m: t, n: mels, k: bins, a: p.baseAddress!, lda: bins,
                  b: filterbank.data, ldb: mels, beta: 0, c: out.data, ldc: mels)
        }
        let o = out.data
        for i in 0..<(t * mels) { o[i] = Foundation.log(o[i] + config.floor) }
        if normalize { LogMel.normalizeInPlace(out) }
        return out
    }

    /// Per-column normalisation over time of `features [T, bins]`:
    /// `(x − mean) / (std + 1e-5)`, population standard deviation.
    public static func normalizeInPlace(_ features: Tensor) {
        precondition(features.rank == 2)
        let t = features.shape[0], m = features.shape[1], x = features.data
        for j in 0..<m {
            var s = 0.0, s2 = 0.0
            for i in 0..<t { let v = Double(x[i * m + j]); s += v; s2 += v * v }
            let mean = s / Double(t)
            let std = max(0, s2 / Double(t) - mean * mean).squareRoot()
            let scale = Float(1 / (std + 1e-5)), mu = Float(mean)
            for i in 0..<t { x[i * m + j] = (x[i * m + j] - mu) * scale }
        }
    }
}
