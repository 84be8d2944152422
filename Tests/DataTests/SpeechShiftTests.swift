import Data
import Foundation
import Tensor
import XCTest

/// The LibriSpeech shifts measured on a hand-built sine: the SNR of the added noise and the
/// speed factor by duration.
final class SpeechShiftTests: XCTestCase {
    /// Two seconds of a 440 Hz sine of amplitude 8000 at 16 kHz.
    let sine: [Int16] = (0..<32_000).map { Int16((8000 * sin(2 * Double.pi * 440 * Double($0) / 16_000)).rounded()) }

    func testNoiseSNRMeasured() {
        let x = sine.map(Double.init)
        for (k, snr) in [20.0, 10, 5].enumerated() {
            var rng = RNG(seed: UInt64(k))
            let y = SpeechShift.noise(snrDB: snr).apply(sine, rng: &rng)
            XCTAssertEqual(y.count, sine.count)
            let noise = zip(y, x).map { Double($0) - $1 }
            let measured = 20 * log10(SpeechShift.rms(x) / SpeechShift.rms(noise))
            XCTAssertEqual(measured, snr, accuracy: 0.2, "SNR \(snr) dB")
        }
        XCTAssertEqual(SpeechShift.all.map(\.name), ["noise20", "noise10", "noise5", "speed0.9", "speed1.1"])
        XCTAssertEqual(SpeechShift.noise(snrDB: 5).subset(of: "test-clean"), "test-clean-noise5")
    }

    /// Speed f: the duration (of the FLAC written and read back) is 1/f of the original, and
    /// the sine's frequency, counted by zero crossings, is f·440 Hz.
    func testSpeedFactorMeasuredByDuration() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-speed-\(UUID().uuidString).flac")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for f in [0.9, 1.1] {
            var rng = RNG(seed: 0)
            let y = SpeechShift.speed(factor: f).apply(sine, rng: &rng)
            try Flac.write(y, to: tmp)
            XCTAssertEqual(try Flac.duration(of: tmp), 2.0 / f, accuracy: 1.0 / 16_000 + 1e-9, "speed \(f)")
            XCTAssertEqual(try Flac.decode(tmp), y)
            var crossings = 0
            for i in 1..<y.count where (y[i - 1] < 0) != (y[i] < 0) { crossings += 1 }
            let hz = Double(crossings) / 2 / (Double(y.count) / 16_000)
            XCTAssertEqual(hz, 440 * f, accuracy: 2, "speed \(f)")
        }
    }

    func testDeterministic() {
        var a = RNG(seed: 5), b = RNG(seed: 5), c = RNG(seed: 6)
        let s = SpeechShift.noise(snrDB: 10)
        XCTAssertEqual(s.apply(sine, rng: &a), s.apply(sine, rng: &b))
        XCTAssertNotEqual(s.apply(sine, rng: &a), s.apply(sine, rng: &c))
    }
}
