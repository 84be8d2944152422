import Data
import Foundation
import Harness
import Routing
import XCTest

/// The tier key `shifted_eval` and a tiny CIFAR-100 cell with and without it.
final class ShiftedEvalTests: XCTestCase {
    let imageSuite = """
    suite: img
    modality: image
    tasks: [cifar100]
    model: {d: 16, depth: 1, heads: 2, ffn_hidden: 32, max_length: 17}
    methods:
      - {name: dense, method: dense}
    training: {steps: 4, batch_size: 8}
    tiers:
      smoke: {shifted_eval: true}
      proxy: {shifted_eval: false}
    """

    func testTierKeyParsedAndValidated() throws {
        let s = try Fixture.suite(imageSuite)
        XCTAssertEqual(try s.tier("smoke").shiftedEval, true)
        XCTAssertNil(try s.tier("proxy").shiftedEval)
        let on = try expandGrid(suite: s, tierName: "smoke")[0].config
        let off = try expandGrid(suite: s, tierName: "proxy")[0].config
        XCTAssertEqual(on.shiftedEval, true)
        XCTAssertNil(off.shiftedEval)
        // Off leaves the canonical JSON (so every existing hash) as it was.
        XCTAssertFalse(String(decoding: off.canonicalJSON, as: UTF8.self).contains("shifted"))
        XCTAssertThrowsError(try Fixture.suite(Fixture.suiteText.replacingOccurrences(
            of: "smoke: {seeds: [1]}", with: "smoke: {seeds: [1], shifted_eval: true}"))) {
            XCTAssertTrue("\($0)".contains("shifted_eval: a text tier needs the task mnli"), "\($0)")
        }
        XCTAssertThrowsError(try Fixture.suite(imageSuite.replacingOccurrences(of: "shifted_eval: false", with: "shifted_eval: 3"))) {
            XCTAssertTrue("\($0)".contains("expected true or false"), "\($0)")
        }
    }

    func testTinyCellRecordsShiftedOnlyWhenOn() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.maxLength) = (16, 1, 2, 32, 17)
        var training = TrainingSpec.default
        training.steps = 4
        training.batchSize = 8
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        var cfg = CellConfig(suite: "cifar100", modality: .image, tier: "smoke", data: "smoke", task: "cifar100",
                             method: MethodEntry(label: "dense", method: "dense", options: [:]), seed: 1, model: model, training: training)
        let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                        resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
        t.recordsCurveMetric = false
        let off = try t.run(Cell(config: cfg), progress: { _ in })
        XCTAssertNil(off.shifted)
        cfg.shiftedEval = true
        let on = try t.run(Cell(config: cfg), progress: { _ in })
        let rec = try XCTUnwrap(on.shifted)
        let test = try CIFAR100.load(root: tmp.appendingPathComponent("data/proxy-smoke"), split: "test")
        XCTAssertEqual(rec.examples, min(ShiftedEval.imageSubset, test.count))
        XCTAssertEqual(Set(rec.sets.keys), Set(ImageCorruption.allSets.map { $0.0.setName(severity: $0.1) }))
        XCTAssertEqual(Set(rec.clean.keys), ["top1", "top5"])
        // The whole smoke test set is the subset here: the clean score is the cell's own.
        XCTAssertEqual(rec.clean["top1"]!, on.metrics["top1"]!, accuracy: 1e-12)
        XCTAssertEqual(on.metrics, off.metrics)
        for (_, m) in rec.sets { XCTAssertTrue((0...1).contains(m["top1"]!)) }
        // Round trip; a result without the field still decodes.
        let url = tmp.appendingPathComponent("r.json")
        try ResultStore.write(on, to: url)
        XCTAssertEqual(try ResultStore.read(url).shifted, rec)
        try ResultStore.write(off, to: url)
        XCTAssertFalse(try String(contentsOf: url, encoding: .utf8).contains("\"shifted\""))
        XCTAssertNil(try ResultStore.read(url).shifted)
        // The sets were written once, with their marker, in the dataset's own layout.
        let dir = CIFARShift.directory(root: tmp.appendingPathComponent("data/proxy-smoke"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".complete").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("gaussian_noise-3.bin").path))
    }

    /// A tiny LibriSpeech cell: WER and CER on the first 200 (here: every) test-clean
    /// utterances, clean and under each of the five shifts, written in LibriSpeech's layout.
    func testTinySpeechCellRecordsShifted() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.maxLength) = (16, 1, 2, 32, 400)
        var training = TrainingSpec.default
        training.steps = 2
        training.batchSize = 4
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        var cfg = CellConfig(suite: "librispeech", modality: .speech, tier: "smoke", data: "smoke", task: "librispeech",
                             method: MethodEntry(label: "dense", method: "dense", options: [:]), seed: 1, model: model, training: training)
        cfg.shiftedEval = true
        let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                        resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
        t.recordsCurveMetric = false
        let r = try t.run(Cell(config: cfg), progress: { _ in })
        let rec = try XCTUnwrap(r.shifted)
        let root = tmp.appendingPathComponent("data/proxy-smoke")
        let clean = try LibriSpeech.scan(root: root, subset: "test-clean")
        XCTAssertEqual(rec.examples, min(ShiftedEval.speechSubset, clean.count))
        XCTAssertEqual(Set(rec.sets.keys), Set(SpeechShift.all.map { $0.subset(of: "test-clean") }))
        XCTAssertEqual(Set(rec.clean.keys), ["wer", "cer"])
        if rec.examples == clean.count { XCTAssertEqual(rec.clean["wer"]!, r.metrics["wer_test-clean"]!, accuracy: 1e-12) }
        // Same utterances and transcripts; speed 0.9 is 1/0.9 as long.
        let slow = try LibriSpeech.scan(root: root, subset: "test-clean-speed0.9")
        XCTAssertEqual(slow.map(\.id), clean.map(\.id))
        XCTAssertEqual(slow.map(\.transcript), clean.map(\.transcript))
        let d0 = try Flac.duration(of: clean[0].audio), d1 = try Flac.duration(of: slow[0].audio)
        XCTAssertEqual(d1, d0 / 0.9, accuracy: 1e-3)
    }

    /// A tiny MNLI cell: the lexical-overlap probe beside the clean dev_matched subset.
    func testTinyMNLICellRecordsLexicalOverlap() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.maxLength, model.vocabSize) = (16, 1, 2, 32, 48, 300)
        var training = TrainingSpec.default
        training.steps = 3
        training.batchSize = 8
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        var cfg = CellConfig(suite: "glue", modality: .text, tier: "smoke", data: "smoke", task: "mnli",
                             method: MethodEntry(label: "dense", method: "dense", options: [:]), seed: 1, model: model, training: training)
        cfg.shiftedEval = true
        let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                        resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
        t.recordsCurveMetric = false
        let r = try t.run(Cell(config: cfg), progress: { _ in })
        let rec = try XCTUnwrap(r.shifted)
        XCTAssertEqual(Set(rec.sets.keys), ["lexical_overlap"])
        XCTAssertEqual(Set(rec.sets["lexical_overlap"]!.keys), ["accuracy_2way", "accuracy_entailed", "accuracy_non_entailed"])
        XCTAssertEqual(Set(rec.clean.keys), ["accuracy", "accuracy_2way"])
        XCTAssertGreaterThan(rec.examples, 0)
        let m = rec.sets["lexical_overlap"]!
        // Half the pairs are entailed: the 2-way accuracy is the mean of the two halves.
        XCTAssertEqual(m["accuracy_2way"]!, (m["accuracy_entailed"]! + m["accuracy_non_entailed"]!) / 2, accuracy: 1.0 / Double(rec.examples) + 1e-12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: LexicalOverlapProbe.url(root: tmp.appendingPathComponent("data/proxy-smoke")).path))
    }
}
