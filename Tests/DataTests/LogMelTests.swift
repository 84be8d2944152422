import Data
import Foundation
import Tensor
import TestSupport
import XCTest

/// Log-mel features against a NumPy reference (float64, numpy.fft.rfft), written by
/// `Tests/DataTests/Fixtures/make_fixtures_logmel.py`. Regenerate with
/// `python3 Tests/DataTests/Fixtures/make_fixtures_logmel.py`.
final class LogMelTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let samples: [Int16]
            let frames: Int
            let logmel: [Float]
            let normalised: [Float]
        }
        let filterbank: [Float]
        let cases: [Case]
    }

    func fixture() throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "logmel", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testFilterbankMatchesReference() throws {
        let f = try fixture()
        let mel = LogMel()
        XCTAssertEqual(mel.filterbank.shape, [257, 80])
        assertClose(mel.filterbank, f.filterbank, atol: 1e-6, rtol: 1e-5)
        // Every triangle has some weight; the DC bin and the Nyquist bin none (HTK, 0-8000 Hz).
        for j in 0..<80 {
            XCTAssertGreaterThan((0..<257).map { mel.filterbank.data[$0 * 80 + j] }.max()!, 0.1, "triangle \(j)")
        }
    }

    func testFeaturesMatchReference() throws {
        let f = try fixture()
        let mel = LogMel()
        for (n, c) in f.cases.enumerated() {
            let x = c.samples.map { Float($0) / 32768 }
            let out = mel(x)
            XCTAssertEqual(out.shape, [c.frames, 80], "case \(n)")
            XCTAssertEqual(mel.frameCount(samples: c.samples.count), c.frames)
            // log-energies span about -14 (the floor) to +8: float32 GEMMs agree to ~2e-5.
            assertClose(out, c.logmel, atol: 2e-4, rtol: 1e-5, "case \(n)")
            assertClose(mel(c.samples), c.logmel, atol: 2e-4, rtol: 1e-5, "Int16 input, case \(n)")
            if c.frames > 1 {
                assertClose(mel(x, normalize: true), c.normalised, atol: 2e-4, rtol: 1e-4, "normalised, case \(n)")
            }
        }
        // The fixture's digital silence reaches the floor exactly: log(1e-6).
        XCTAssertTrue(f.cases[0].logmel.contains { abs($0 - Float(log(1e-6))) < 1e-4 })
    }

    func testFrameCount() {
        let mel = LogMel()
        XCTAssertEqual(mel.frameCount(samples: 0), 1)
        XCTAssertEqual(mel.frameCount(samples: 399), 1)
        XCTAssertEqual(mel.frameCount(samples: 400), 1)
        XCTAssertEqual(mel.frameCount(samples: 559), 1)
        XCTAssertEqual(mel.frameCount(samples: 560), 2)
        XCTAssertEqual(mel.frameCount(samples: 16_000), 98)       // 1 s -> 98 frames
    }

    /// A pure tone puts its energy in the mel bin whose triangle peaks nearest its frequency.
    func testToneLandsInItsMelBin() {
        let mel = LogMel()
        let freq = 2000.0
        let x = (0..<4000).map { Float(0.5 * sin(2 * Double.pi * freq * Double($0) / 16000)) }
        let out = mel(x)
        // HTK centre of triangle j: point j+1 of 82 equally spaced mel points.
        let hi = 2595 * log10(1 + 8000.0 / 700)
        let centres = (0..<80).map { 700 * (pow(10, hi * Double($0 + 1) / 81 / 2595) - 1) }
        let expected = centres.indices.min { abs(centres[$0] - freq) < abs(centres[$1] - freq) }!
        let row = (0..<80).map { out.data[5 * 80 + $0] }
        XCTAssertEqual(row.indices.max { row[$0] < row[$1] }!, expected)
    }
}
