import Foundation
import XCTest

/// An invalid `MOEBENCH_THREADS` is an error, and a
/// discarded checkpoint leaves a log line.
final class EngineEnvironmentCLITests: XCTestCase {
    func testInvalidMOEBENCHTHREADSIsAnError() throws {
        let dir = FileManager.default.temporaryDirectory
        for bad in ["0", "abc", "-1", "", "2.5", "100000"] {
            let r = try CLI.run(["env"], in: dir, environment: ["MOEBENCH_THREADS": bad])
            XCTAssertFalse(r.signaled)
            XCTAssertNotEqual(r.status, 0, "MOEBENCH_THREADS=\(bad): \(r.output)")
            XCTAssertTrue(r.stderr.contains("MOEBENCH_THREADS=\(bad): expected an integer number of threads in 1...1024"),
                          "MOEBENCH_THREADS=\(bad): \(r.output)")
        }
        let ok = try CLI.run(["env"], in: dir, environment: ["MOEBENCH_THREADS": "2"])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.stdout.contains("threads: 2"), ok.output)
        // --threads wins over the environment and is checked the same way.
        XCTAssertEqual(try CLI.run(["env", "--threads", "1"], in: dir, environment: ["MOEBENCH_THREADS": "abc"]).status, 0)
        XCTAssertNotEqual(try CLI.run(["env", "--threads", "0"], in: dir).status, 0)
    }

    func testDiscardedCorruptCheckpointIsLogged() throws {
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        try """
        suite: glue
        modality: text
        tasks: [sst2]
        model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, max_length: 24, vocab_size: 300}
        methods:
          - {name: switch, method: switch, options: {experts: 4}}
        seeds: 1
        training: {steps: 6, batch_size: 8, lr: 0.002, checkpoint_every: 2, train_examples: 64, eval_examples: 32}
        tiers:
          smoke: {}
        """.write(to: root.appendingPathComponent("Suites/glue.yaml"), atomically: true, encoding: .utf8)
        let ckpt = root.appendingPathComponent("results/smoke/glue/.checkpoints/sst2__switch__s1.ckpt")
        try FileManager.default.createDirectory(at: ckpt.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("not a checkpoint".utf8).write(to: ckpt)
        let r = try CLI.run(["replicate", "--suite", "glue", "--tier", "smoke", "--suites", "Suites", "--proxy-data", "data",
                             "--results", "results", "--no-report", "--threads", "1"], in: root)
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("discarded checkpoint") }
        XCTAssertEqual(lines.count, 1, r.output)
        XCTAssertTrue(lines.first?.contains(ckpt.lastPathComponent) ?? false, r.output)
    }
}
