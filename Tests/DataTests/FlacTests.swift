import Data
import Foundation
import Tensor
import XCTest

/// FLAC decoding and encoding through libFLAC: round trips and every rejected input.
final class FlacTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("moebench-flac-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Random 16-bit samples including both extremes and silence.
    func randomSamples(_ n: Int, seed: UInt64) -> [Int16] {
        var rng = RNG(seed: seed)
        var s = (0..<n).map { i -> Int16 in
            // A tone plus noise: realistic enough that FLAC's predictor does real work.
            let v = 8000 * sin(Double(i) * 0.05) + Double(rng.normal()) * 2000
            return Int16(max(-32768, min(32767, v.rounded())))
        }
        s[0] = .min; s[1] = .max; s[2] = 0
        return s
    }

    func testRoundTripGivesIdenticalSamples() throws {
        let samples = randomSamples(40_000, seed: 1)   // several FLAC blocks (4096 each)
        let url = dir.appendingPathComponent("a.flac")
        try Flac.write(samples, to: url)
        XCTAssertEqual(try Flac.format(of: url), .speech)
        let back = try Flac.decode(url)
        XCTAssertEqual(back.count, samples.count)
        XCTAssertEqual(back, samples)
        // The file is really compressed FLAC: it starts with the "fLaC" marker.
        let head = try Data(contentsOf: url).prefix(4)
        XCTAssertEqual(Array(head), Array("fLaC".utf8))
    }

    func testDurationFromStreamInfo() throws {
        let url = dir.appendingPathComponent("d.flac")
        try Flac.write(randomSamples(24_000, seed: 3), sampleRate: 16_000, to: url)
        XCTAssertEqual(try Flac.duration(of: url), 1.5, accuracy: 1e-12)   // 24000 / 16000
        let bad = dir.appendingPathComponent("bad.flac")
        try Data("not flac".utf8).write(to: bad)
        XCTAssertThrowsError(try Flac.duration(of: bad)) { XCTAssertTrue("\($0)".contains(bad.path)) }
    }

    func testRoundTripEmptyAndShort() throws {
        for n in [1, 17, 4096, 4097] {
            let samples = randomSamples(max(n, 3), seed: UInt64(n)).prefix(n).map { $0 }
            let url = dir.appendingPathComponent("s\(n).flac")
            try Flac.write(samples, to: url)
            XCTAssertEqual(try Flac.decode(url), samples, "n = \(n)")
        }
    }

    func testAnyLayoutRoundTrip() throws {
        // Stereo 24-bit at 44.1 kHz, interleaved.
        var rng = RNG(seed: 7)
        let frames = 5000
        let samples = (0..<(frames * 2)).map { _ in Int32(rng.int(1 << 24)) - (1 << 23) }
        let format = FlacFormat(sampleRate: 44_100, channels: 2, bitsPerSample: 24)
        let url = dir.appendingPathComponent("st.flac")
        try Flac.encode(samples, format: format, to: url)
        let (back, f) = try Flac.decodeAny(url)
        XCTAssertEqual(f, format)
        XCTAssertEqual(back, samples)
    }

    func assertRejected(_ url: URL, contains needles: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try Flac.decode(url)
            XCTFail("expected an error for \(url.lastPathComponent)", file: file, line: line)
        } catch let e as DataError {
            XCTAssertEqual(e.file, url.path, file: file, line: line)
            for n in needles {
                XCTAssertTrue(e.description.contains(n), "message \"\(e.description)\" lacks \"\(n)\"",
                              file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testRejects8kHz() throws {
        let url = dir.appendingPathComponent("8k.flac")
        try Flac.write(randomSamples(800, seed: 2), sampleRate: 8000, to: url)
        assertRejected(url, contains: ["8k.flac", "8000 Hz", "expected 16000 Hz"])
    }

    func testRejects24Bit() throws {
        let url = dir.appendingPathComponent("24bit.flac")
        let s = randomSamples(800, seed: 3).map { Int32($0) * 256 }
        try Flac.encode(s, format: FlacFormat(sampleRate: 16_000, channels: 1, bitsPerSample: 24), to: url)
        assertRejected(url, contains: ["24bit.flac", "24-bit"])
    }

    func testRejectsStereo() throws {
        let url = dir.appendingPathComponent("stereo.flac")
        let s = randomSamples(1600, seed: 4).map { Int32($0) }
        try Flac.encode(s, format: FlacFormat(sampleRate: 16_000, channels: 2, bitsPerSample: 16), to: url)
        assertRejected(url, contains: ["stereo.flac", "2 channels"])
    }

    /// Byte length of the "fLaC" marker plus all metadata blocks (where audio frames start).
    func headerLength(_ bytes: [UInt8]) -> Int {
        var pos = 4
        while true {
            let last = bytes[pos] & 0x80 != 0
            let len = Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            pos += 4 + len
            if last { return pos }
        }
    }

    func testRejectsGarbageAfterValidHeader() throws {
        let good = dir.appendingPathComponent("good.flac")
        try Flac.write(randomSamples(20_000, seed: 5), to: good)
        var bytes = [UInt8](try Data(contentsOf: good))
        let h = headerLength(bytes)
        XCTAssertGreaterThan(bytes.count, h + 1000)
        var rng = RNG(seed: 9)
        for i in h..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let bad = dir.appendingPathComponent("garbage.flac")
        try Data(bytes).write(to: bad)
        XCTAssertEqual(try Flac.format(of: bad), .speech, "the header itself is valid")
        assertRejected(bad, contains: ["garbage.flac", "corrupt"])
    }

    func testRejectsFlippedBytesInsideAFrame() throws {
        let good = dir.appendingPathComponent("good.flac")
        try Flac.write(randomSamples(20_000, seed: 6), to: good)
        var bytes = [UInt8](try Data(contentsOf: good))
        let mid = (headerLength(bytes) + bytes.count) / 2
        for i in mid..<(mid + 8) { bytes[i] ^= 0x5A }
        let bad = dir.appendingPathComponent("flipped.flac")
        try Data(bytes).write(to: bad)
        assertRejected(bad, contains: ["flipped.flac", "corrupt"])
    }

    func testRejectsTruncatedStream() throws {
        let good = dir.appendingPathComponent("good.flac")
        try Flac.write(randomSamples(20_000, seed: 8), to: good)
        let bytes = try Data(contentsOf: good)
        let bad = dir.appendingPathComponent("truncated.flac")
        try bytes.prefix(bytes.count * 2 / 3).write(to: bad)
        assertRejected(bad, contains: ["truncated.flac", "corrupt"])
    }

    func testRejectsNonFlacAndMissingFiles() throws {
        let wav = dir.appendingPathComponent("not.flac")
        try Data("RIFF....WAVEfmt garbage that is not FLAC at all".utf8).write(to: wav)
        assertRejected(wav, contains: ["not.flac", "not a FLAC stream"])
        assertRejected(dir.appendingPathComponent("missing.flac"), contains: ["missing.flac", "not found"])
    }
}
