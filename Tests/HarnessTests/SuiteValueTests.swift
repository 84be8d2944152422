import Foundation
import Analysis
import Harness
import Routing
import XCTest

/// Suite values that crashed the tool or were accepted silently are
/// errors naming the file, the line, the key and what was expected, before any cell runs.
final class SuiteValueTests: XCTestCase {
    static let text = """
    suite: glue
    modality: text
    tasks: [sst2, rte]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, dropout: 0.1, max_length: 24, vocab_size: 300}
    methods:
      - {name: switch, method: switch, options: {experts: 4}}
    seeds: 1
    training: {steps: 4, batch_size: 8, lr: 0.002}
    tiers:
      smoke:
        training: {}
    """

    static let image = """
    suite: cifar100
    modality: image
    tasks: [cifar100]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32}
    methods:
      - {name: dense, method: dense}
      - {name: dlr, method: dlr}
    seeds: 1
    training: {steps: 4, batch_size: 8, lr: 0.002}
    tiers:
      smoke:
        training: {}
    """

    /// Parses `text` with the tier's last line replaced by `line` (indented under the tier).
    func parse(_ text: String, _ line: String) throws -> Suite {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[lines.count - 1] = "    " + line
        return try Suite.parse(file: "Suites/s.yaml", text: lines.joined(separator: "\n"),
                               knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)
    }

    /// The value is rejected at the tier's last line, naming `key` and `expected`.
    func assertRejected(_ text: String, _ line: String, key: String, expected: String,
                        file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try parse(text, line), file: file, line: lineNo) { error in
            guard let e = error as? SuiteError else { return XCTFail("not a SuiteError: \(error)", file: file, line: lineNo) }
            let last = text.split(separator: "\n", omittingEmptySubsequences: false).count
            XCTAssertTrue(e.description.hasPrefix("Suites/s.yaml:\(last): "), e.description, file: file, line: lineNo)
            XCTAssertTrue(e.key.hasSuffix(key), "\(e.key) should name \(key): \(e.description)", file: file, line: lineNo)
            XCTAssertTrue(e.description.contains(expected), "\(e.description) should say \(expected)", file: file, line: lineNo)
        }
    }

    func testMaxLength2WithASentencePairTaskIsAnError() {
        // Was: free(): corrupted unsorted chunks (SIGABRT) after 7 results were written.
        assertRejected(Self.text, "model: {max_length: 2}", key: "max_length", expected: "expected at least 3")
    }

    func testMaxLength1IsAnError() {
        // Was: SIGSEGV.
        assertRejected(Self.text, "model: {max_length: 1}", key: "max_length", expected: "expected at least 3")
    }

    func testMaxLength2IsEnoughForSingleSentenceTasks() throws {
        let s = try parse(Self.text, "tasks: [sst2]\n    model: {max_length: 2}")
        XCTAssertEqual(try s.tier("smoke").model.maxLength, 2)
        XCTAssertThrowsError(try parse(Self.text, "tasks: [sst2]\n    model: {max_length: 1}")) {
            XCTAssertTrue("\($0)".contains("expected at least 2"), "\($0)")
        }
    }

    func testNegativeTrainExamplesIsAnError() {
        // Was: SIGILL (a precondition in TrainLoop, Collection.prefix).
        assertRejected(Self.text, "training: {train_examples: -1}", key: "train_examples", expected: "of at least 1")
        assertRejected(Self.image, "training: {train_examples: -1}", key: "train_examples", expected: "of at least 1")
    }

    func testZeroTrainExamplesIsAnError() {
        assertRejected(Self.image, "training: {train_examples: 0}", key: "train_examples", expected: "of at least 1")
    }

    func testNegativeAndZeroEvalExamplesAreErrors() {
        assertRejected(Self.text, "training: {eval_examples: -1}", key: "eval_examples", expected: "of at least 1")
        // Was: status ok with every metric 0.
        assertRejected(Self.text, "training: {eval_examples: 0}", key: "eval_examples", expected: "of at least 1")
    }

    func testNegativeClipNormIsAnError() {
        // Was: status ok, loss 22.98 instead of 2.35.
        assertRejected(Self.text, "training: {clip_norm: -1}", key: "clip_norm", expected: "expected a number in (0,")
        assertRejected(Self.text, "training: {clip_norm: 0}", key: "clip_norm", expected: "expected a number in (0,")
    }

    func testClipNormNullTurnsClippingOff() throws {
        XCTAssertNil(try parse(Self.text, "training: {clip_norm: null}").tier("smoke").training.clipNorm)
    }

    func testNonFiniteLearningRateIsAnError() {
        // Was: every result write failed with EncodingError and the hash was that of empty bytes.
        assertRejected(Self.text, "training: {lr: .inf}", key: "lr", expected: "expected a finite number")
        assertRejected(Self.text, "training: {lr: .nan}", key: "lr", expected: "expected a finite number")
        assertRejected(Self.text, "training: {lr: 0}", key: "lr", expected: "expected a number in (0,")
        assertRejected(Self.text, "training: {lr: -0.1}", key: "lr", expected: "expected a number in (0,")
    }

    func testStepsEpochsAndBatchMustBePositiveAndBounded() {
        assertRejected(Self.text, "training: {steps: 0}", key: "steps", expected: "in 1...")
        assertRejected(Self.text, "training: {steps: 99999999999999999999}", key: "steps", expected: "expected an integer")
        assertRejected(Self.text, "training: {epochs: 0}", key: "epochs", expected: "expected a number in (0,")
        assertRejected(Self.text, "training: {epochs: 1e300}", key: "epochs", expected: "expected a number in (0,")
        assertRejected(Self.text, "training: {batch_size: -4}", key: "batch_size", expected: "in 1...")
        assertRejected(Self.text, "training: {warmup: .nan}", key: "warmup", expected: "finite")
        assertRejected(Self.text, "training: {weight_decay: -1}", key: "weight_decay", expected: "in [0, 1]")
    }

    func testModelSizesAreBounded() {
        assertRejected(Self.text, "model: {d: 100000000}", key: "d", expected: "in 1...8192")
        assertRejected(Self.text, "model: {heads: 0}", key: "heads", expected: "in 1...")
        assertRejected(Self.text, "model: {dropout: 1}", key: "dropout", expected: "in [0, 1)")
        assertRejected(Self.text, "model: {vocab_size: 4}", key: "vocab_size", expected: "special tokens")
        assertRejected(Self.text, "model: {moe_every: 3}", key: "moe_every", expected: "at most depth")
        // Each value within its limits, together too large to allocate.
        assertRejected(Self.text, "model: {d: 8192, ffn_hidden: 65536, depth: 8}", key: "model", expected: "parameters")
    }

    func testSeedsAreNonNegativeAndBounded() {
        assertRejected(Self.text, "seeds: [-1]", key: "seeds.[0]", expected: "of at least 0")
        assertRejected(Self.text, "seeds: 1000000000", key: "seeds", expected: "in 1...1000")
    }

    func testWrongTypesAreErrors() {
        assertRejected(Self.text, "training: {batch_size: [8]}", key: "batch_size", expected: "expected an integer")
        assertRejected(Self.text, "model: {d: {x: 1}}", key: "d", expected: "expected an integer")
        assertRejected(Self.text, "training: {lr: fast}", key: "lr", expected: "expected a number")
    }

    func testMethodOptionsOutOfRangeAreErrorsAtTheirLine() throws {
        func options(_ o: String) -> String {
            Self.text.replacingOccurrences(of: "options: {experts: 4}", with: "options: {\(o)}")
        }
        for (o, key, expected) in [("experts: 0", "experts", "1...1024"), ("experts: 100000", "experts", "1...1024"),
                                   ("capacity_factor_train: .inf", "capacity_factor_train", "finite"),
                                   ("capacity_factor_train: 1e300", "capacity_factor_train", "0...1000"),
                                   ("jitter_eps: 2", "jitter_eps", "[0, 1)"), ("experts: abc", "experts", "expected an integer"),
                                   ("balance_alpha: -1", "balance_alpha", "0...1000")] {
            XCTAssertThrowsError(try Suite.parse(file: "Suites/s.yaml", text: options(o), knownTasks: TaskCatalog.namesByModality,
                                                 knownMethods: MethodRegistry.knownOptions), o) { error in
                let d = "\(error)"
                XCTAssertTrue(d.hasPrefix("Suites/s.yaml:6: 'methods.[0].options.\(key)'"), d)
                XCTAssertTrue(d.contains(expected), "\(d) should say \(expected)")
            }
        }
    }

    func testSuiteAndMethodNamesAreSafeFileNames() {
        for (from, to, key) in [("suite: glue", "suite: ../../etc", "suite"),
                                ("{name: switch,", "{name: a__s1,", "methods.[0].name"),
                                ("{name: switch,", "{name: \"x/y\",", "methods.[0].name")] {
            XCTAssertThrowsError(try Suite.parse(file: "Suites/s.yaml", text: Self.text.replacingOccurrences(of: from, with: to),
                                                 knownTasks: TaskCatalog.namesByModality,
                                                 knownMethods: MethodRegistry.knownOptions)) { error in
                XCTAssertEqual((error as? SuiteError)?.key, key, "\(error)")
                XCTAssertTrue("\(error)".contains("letters, digits"), "\(error)")
            }
        }
    }

    func testLoRAValuesAreBounded() {
        let pre = Self.text.replacingOccurrences(of: "  smoke:\n    training: {}", with: "  pretrained:\n    training: {}")
        assertRejected(pre, "lora: {rank: 100000000}", key: "lora.rank", expected: "1...1024")
        assertRejected(pre, "lora: {alpha: .inf}", key: "lora.alpha", expected: "finite")
        assertRejected(pre, "lora: {alpha: 1e300}", key: "lora.alpha", expected: "(0, 10000]")
    }

    func testDLRTaskEmbeddingsMustCoverTheTasks() {
        let speech = Self.image.replacingOccurrences(of: "modality: image", with: "modality: speech")
            .replacingOccurrences(of: "tasks: [cifar100]", with: "tasks: [librispeech]")
            .replacingOccurrences(of: "method: dlr}", with: "method: dlr, options: {tasks: 3}}")
        XCTAssertThrowsError(try parse(speech, "training: {}")) {
            XCTAssertTrue("\($0)".contains("options.tasks 3 is too small"), "\($0)")
        }
    }

    /// The suite-level check runs through the command line too: exit non-zero, the message,
    /// and no result file.
    func testCommandLineRejectsTheSuiteBeforeAnyCell() throws {
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        let text = Self.text.replacingOccurrences(of: "    training: {}", with: "    model: {max_length: 2}")
        try text.write(to: root.appendingPathComponent("Suites/glue.yaml"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["replicate", "--suite", "glue", "--tier", "smoke", "--suites", "Suites", "--proxy-data", "data",
                             "--results", "results", "--no-report", "--threads", "1"], in: root)
        XCTAssertFalse(r.signaled, r.output)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Suites/glue.yaml:11: 'tiers.smoke.model.max_length'"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("results").path))
    }
}
