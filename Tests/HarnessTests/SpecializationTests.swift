import Foundation
import Harness
import Routing
import XCTest

/// The specialization measure: normalised mutual information and top-1 load balance of
/// hand-made contingency tables, and a real cell that records it for a routed method only.
final class SpecializationTests: XCTestCase {
    func testPerfectSpecializationIsOne() {
        // Each expert sees exactly one class.
        let t = [[5, 0, 0], [0, 5, 0], [0, 0, 5]]
        XCTAssertEqual(Specialization.normalizedMutualInformation(t), 1, accuracy: 1e-12)
        XCTAssertEqual(Specialization.loadMaxOverMean(t), 1, accuracy: 1e-12)
        // Two unused experts of four: still perfectly specialized; max share 1/2 over mean 1/4.
        let u = [[3, 0], [0, 3], [], []]
        XCTAssertEqual(Specialization.normalizedMutualInformation(u), 1, accuracy: 1e-12)
        XCTAssertEqual(Specialization.loadMaxOverMean(u), 2, accuracy: 1e-12)
    }

    func testIndependentIsZero() {
        // Expert and label independent: p(e, l) = p(e) p(l) in every cell.
        let t = [[2, 4], [1, 2]]
        XCTAssertEqual(Specialization.normalizedMutualInformation(t), 0, accuracy: 1e-12)
        // Loads 6 and 3 of 9: max share 2/3 over mean 1/2.
        XCTAssertEqual(Specialization.loadMaxOverMean(t), 4.0 / 3.0, accuracy: 1e-12)
        // Uniform over all pairs.
        XCTAssertEqual(Specialization.normalizedMutualInformation([[1, 1, 1], [1, 1, 1]]), 0, accuracy: 1e-12)
        // A constant label has no entropy: 0 by convention; an empty table too.
        XCTAssertEqual(Specialization.normalizedMutualInformation([[3], [5]]), 0)
        XCTAssertEqual(Specialization.normalizedMutualInformation([[0, 0], [0, 0]]), 0)
        XCTAssertEqual(Specialization.loadMaxOverMean([[0], [0]]), 0)
    }

    func testAsymmetricTableByHand() {
        // counts[expert][label] = [[2, 1], [0, 1]], N = 4.
        // p(e) = (3/4, 1/4), p(l) = (1/2, 1/2), H(label) = ln 2.
        // I = 2/4 ln((2/4) / (3/4 · 1/2)) + 1/4 ln((1/4) / (3/4 · 1/2)) + 1/4 ln((1/4) / (1/4 · 1/2))
        //   = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2 = 3/2 ln 2 − 3/4 ln 3 ≈ 0.2157616
        // I / H = 3/2 − 3/4 log2 3 ≈ 0.3112781.
        // Load: 3 and 1 of 4 tokens, max share 3/4 over mean 1/2 = 1.5.
        let t = [[2, 1], [0, 1]]
        XCTAssertEqual(Specialization.normalizedMutualInformation(t), 1.5 - 0.75 * log2(3.0), accuracy: 1e-12)
        XCTAssertEqual(Specialization.normalizedMutualInformation(t), 0.3112781, accuracy: 1e-7)
        XCTAssertEqual(Specialization.loadMaxOverMean(t), 1.5, accuracy: 1e-12)
    }

    func testCountsAccumulateLayerByLayer() throws {
        var c = Specialization.Counts()
        c.labelKind = "class"
        c.add(layer: 0, experts: 2, top1: [0, 0, 1], labels: [0, 0, 1])
        c.add(layer: 1, experts: 2, top1: [0, 1, 0], labels: [0, 0, 1])
        c.add(layer: 0, experts: 2, top1: [1], labels: [1])
        c.add(layer: 1, experts: 2, top1: [1], labels: [1])
        let r = try XCTUnwrap(c.record)
        XCTAssertEqual(r.perLayer[0], 1, accuracy: 1e-12)
        // Layer 1: [[1, 1], [1, 1]], independent.
        XCTAssertEqual(r.perLayer[1], 0, accuracy: 1e-12)
        XCTAssertEqual(r.mean, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.loadMaxOverMean, [1, 1])
        XCTAssertEqual(r.tokens, 4)
        XCTAssertEqual(r.labelKind, "class")
        // Tokens and labels that do not match: no record.
        c.add(layer: 0, experts: 2, top1: [1, 0], labels: [1])
        XCTAssertNil(c.record)
        XCTAssertNil(Specialization.Counts().record)
    }

    /// A smoke-sized CIFAR-100 cell records the specialization for Switch (one value per
    /// routed layer, in range) and not for dense; the field round-trips through a result
    /// file, and a result file without it still loads.
    func testRealCellRecordsSpecializationForRoutedMethodsOnly() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.dropout, model.maxLength) = (16, 2, 2, 32, 0.0, 17)
        var training = TrainingSpec.default
        training.steps = 4
        training.batchSize = 8
        training.evalExamples = 64
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        func run(_ method: String, _ options: [String: OptionValue]) throws -> CellResult {
            let cfg = CellConfig(suite: "survey", modality: .image, tier: "smoke", data: "smoke", task: "cifar100",
                                 method: MethodEntry(label: method, method: method, options: options),
                                 seed: 1, model: model, training: training)
            let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                            resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
            t.recordsCurveMetric = false
            return try t.run(Cell(config: cfg), progress: { _ in })
        }
        let sw = try run("switch", ["experts": .int(4)])
        let s = try XCTUnwrap(sw.specialization)
        XCTAssertEqual(s.perLayer.count, 2)
        XCTAssertEqual(s.loadMaxOverMean.count, 2)
        XCTAssertEqual(s.labelKind, "class")
        // 64 images of 16 patches plus the class token.
        XCTAssertEqual(s.tokens, 64 * 17)
        for v in s.perLayer { XCTAssertTrue(v >= 0 && v <= 1, "\(v)") }
        for v in s.loadMaxOverMean { XCTAssertTrue(v >= 1 && v <= 4, "\(v)") }
        XCTAssertEqual(s.mean, s.perLayer.reduce(0, +) / 2, accuracy: 1e-12)
        let url = tmp.appendingPathComponent("r__s1.json")
        try ResultStore.write(sw, to: url)
        XCTAssertEqual(try ResultStore.read(url).specialization, s)

        let dense = try run("dense", [:])
        XCTAssertNil(dense.specialization)
        try ResultStore.write(dense, to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertFalse(text.contains("specialization"))
        XCTAssertNil(try ResultStore.read(url).specialization)
    }

    /// Text and speech cells: the label kinds of classification (class), STS-B (score bins)
    /// and speech (the CTC argmax symbol of each frame); block mixers record nothing.
    func testLabelKindsOfTextAndSpeech() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.dropout, model.maxLength, model.vocabSize) = (16, 2, 2, 32, 0.0, 24, 300)
        var training = TrainingSpec.default
        training.steps = 3
        training.batchSize = 8
        training.evalExamples = 32
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        for (task, modality, method, kind) in [("sst2", Modality.text, "switch", "class"), ("stsb", .text, "top2", "score-bin"),
                                               ("librispeech", .speech, "hard", "ctc-argmax"), ("rte", .text, "molex", nil)] {
            var m = model
            if modality == .speech { m.maxLength = 200 }
            let cfg = CellConfig(suite: modality == .text ? "glue" : "librispeech", modality: modality, tier: "smoke", data: "smoke",
                                 task: task, method: MethodEntry(label: method, method: method,
                                                                 options: method == "molex" ? [:] : ["experts": .int(4)]),
                                 seed: 1, model: m, training: training)
            let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                            resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
            t.recordsCurveMetric = false
            let r = try t.run(Cell(config: cfg), progress: { _ in })
            guard let kind else { XCTAssertNil(r.specialization, task); continue }
            let s = try XCTUnwrap(r.specialization, task)
            XCTAssertEqual(s.labelKind, kind, task)
            XCTAssertEqual(s.perLayer.count, 2, task)
            XCTAssertGreaterThan(s.tokens, 32, task)
            for v in s.perLayer { XCTAssertTrue(v >= 0 && v <= 1, "\(task) \(v)") }
        }
    }
}
