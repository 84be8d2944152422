import Data
import Foundation
import XCTest

/// `moebench data inspect` checks what training needs, through the
/// real command line, on a copy of the smoke proxy data altered file by file.
final class DataInspectCLITests: XCTestCase {
    var root: URL!
    var data: URL { root.appendingPathComponent("d") }

    /// The smoke proxy data, written once for the class; each test alters its own copy.
    nonisolated(unsafe) static var pristine: URL?

    override class func tearDown() {
        if let p = pristine { try? FileManager.default.removeItem(at: p) }
        pristine = nil
    }

    override func setUpWithError() throws {
        if Self.pristine == nil {
            let p = Fixture.tempDir()
            let r = try CLI.run(["data", "proxy", "--out", "d", "--scale", "smoke", "--seed", "3"], in: p)
            XCTAssertEqual(r.status, 0, r.output)
            Self.pristine = p
        }
        root = Fixture.tempDir()
        try FileManager.default.copyItem(at: Self.pristine!.appendingPathComponent("d"), to: data)
    }

    override func tearDown() {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    func inspect(_ dataset: String, _ extra: [String] = []) throws -> CLI.Run {
        let r = try CLI.run(["data", "inspect", dataset, "--root", "d"] + extra, in: root)
        XCTAssertFalse(r.signaled, r.output)
        return r
    }

    /// One FLAC file of a subset.
    func someFlac(_ subset: String) throws -> URL {
        let base = data.appendingPathComponent("LibriSpeech/\(subset)")
        let e = try XCTUnwrap(FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil))
        for case let u as URL in e where u.pathExtension == "flac" { return u }
        throw XCTSkip("no FLAC file under \(base.path)")
    }

    func testInspectLibriSpeechPassesOnGoodData() throws {
        let r = try inspect("librispeech")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("every file decoded"), r.output)
    }

    func testInspectLibriSpeechRejects22kHz() throws {
        let f = try someFlac("test-clean")
        let samples = try Flac.decode(f).map(Int32.init)
        try Flac.encode(samples, format: FlacFormat(sampleRate: 22_050, channels: 1, bitsPerSample: 16), to: f)
        let r = try inspect("librispeech")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains(f.lastPathComponent) && r.stderr.contains("22050 Hz"), r.output)
        XCTAssertTrue(r.stderr.contains("expected 16000 Hz"), r.output)
    }

    func testInspectLibriSpeechRejectsStereo() throws {
        let f = try someFlac("dev-clean")
        let mono = try Flac.decode(f).map(Int32.init)
        try Flac.encode(mono.flatMap { [$0, $0] }, format: FlacFormat(sampleRate: 16_000, channels: 2, bitsPerSample: 16), to: f)
        let r = try inspect("librispeech")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains(f.lastPathComponent) && r.stderr.contains("2 channels"), r.output)
    }

    func testInspectLibriSpeechDecodesAndCatchesATruncatedStream() throws {
        let f = try someFlac("train-clean-100")
        let bytes = try Data(contentsOf: f)
        try bytes.prefix(bytes.count * 2 / 3).write(to: f)
        let r = try inspect("librispeech")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains(f.lastPathComponent), r.output)
        // Headers only: the truncation is not seen, and the report says so.
        let headers = try inspect("librispeech", ["--no-decode"])
        XCTAssertEqual(headers.status, 0, headers.output)
        XCTAssertTrue(headers.stdout.contains("headers only"), headers.output)
    }

    func testInspectGLUEReportsAMissingTestFileAsAbsent() throws {
        try FileManager.default.removeItem(at: data.appendingPathComponent("glue/RTE/test.tsv"))
        let r = try inspect("glue")
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("RTE/test") && r.stdout.contains("absent"), r.output)
        // A missing training file is still an error.
        try FileManager.default.removeItem(at: data.appendingPathComponent("glue/RTE/train.tsv"))
        XCTAssertNotEqual(try inspect("glue").status, 0)
    }

    func testEmptyCIFARFileIsAnErrorInInspect() throws {
        let train = data.appendingPathComponent("cifar-100-binary/train.bin")
        try Data().write(to: train)
        let r = try inspect("cifar100")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains(train.lastPathComponent) && r.stderr.contains("empty"), r.output)
    }

    /// Runs a one-cell suite of `modality`/`task` on the altered data (`--data`).
    func train(_ modality: String, _ task: String) throws -> CLI.Run {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        try """
        suite: \(task)
        modality: \(modality)
        tasks: [\(task)]
        model: {d: 8, depth: 1, heads: 2, ffn_hidden: 16, max_length: 64}
        methods:
          - {name: dense, method: dense}
        seeds: 1
        training: {steps: 2, batch_size: 4}
        tiers:
          smoke: {data: real}
        """.write(to: root.appendingPathComponent("Suites/\(task).yaml"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["replicate", "--suite", task, "--tier", "smoke", "--suites", "Suites", "--data", "d",
                             "--results", "results", "--no-report", "--threads", "1"], in: root)
        XCTAssertFalse(r.signaled, r.output)
        return r
    }

    /// Was: SIGILL. Now the cell fails with the file named, and the run exits non-zero.
    func testEmptyCIFARFileIsAnErrorInTraining() throws {
        try Data().write(to: data.appendingPathComponent("cifar-100-binary/train.bin"))
        let r = try train("image", "cifar100")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("train.bin") && r.output.contains("empty"), r.output)
    }

    /// An empty training subset would reach TrainLoop's "no training examples" precondition.
    func testEmptyLibriSpeechSubsetIsAnError() throws {
        let subset = data.appendingPathComponent("LibriSpeech/train-clean-100")
        try FileManager.default.removeItem(at: subset)
        try FileManager.default.createDirectory(at: subset, withIntermediateDirectories: true)
        let r = try train("speech", "librispeech")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("train-clean-100") && r.output.contains("holds no utterances"), r.output)
        XCTAssertNotEqual(try inspect("librispeech").status, 0)
    }

    /// A GLUE file with a header and no rows: every metric would be computed over nothing.
    func testEmptyGLUESplitIsAnError() throws {
        let dev = data.appendingPathComponent("glue/RTE/dev.tsv")
        let header = try String(contentsOf: dev, encoding: .utf8).split(separator: "\n")[0]
        try Data((header + "\n").utf8).write(to: dev)
        let r = try inspect("glue")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains("RTE/dev.tsv") && r.stderr.contains("holds no examples"), r.output)
    }
}
