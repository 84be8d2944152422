import Foundation
import Analysis
import Harness
import XCTest

/// An interrupted or concurrent first run must not break the proxy
/// data. Drives the real command line on fresh `--proxy-data` folders.
final class ProxyDataTests: XCTestCase {
    static let suite = """
    suite: glue
    modality: text
    tasks: [sst2, rte]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, dropout: 0.1, max_length: 24, vocab_size: 300}
    methods:
      - {name: dense, method: dense}
      - {name: switch, method: switch, options: {experts: 4}}
    seeds: 1
    training: {steps: 6, batch_size: 8, lr: 0.002, train_examples: 64, eval_examples: 32}
    tiers:
      smoke: {}
    """

    static let cells = ["sst2__dense__s1", "sst2__switch__s1", "rte__dense__s1", "rte__switch__s1"]

    var root: URL!

    override func setUpWithError() throws {
        _ = try CLI.executable()
        root = Fixture.tempDir()
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        try Self.suite.write(to: root.appendingPathComponent("Suites/glue.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    func args(data: String, results: String, shard: String? = nil) -> [String] {
        ["replicate", "--suite", "glue", "--tier", "smoke", "--suites", "Suites", "--proxy-data", data,
         "--results", results, "--no-report", "--threads", "1"] + (shard.map { ["--shard", $0] } ?? [])
    }

    /// The numbers of each cell's result (everything but timing and environment).
    func numbers(_ results: String) throws -> [String: NSDictionary] {
        var out: [String: NSDictionary] = [:]
        for cell in Self.cells {
            let url = root.appendingPathComponent(results).appendingPathComponent("smoke/glue/\(cell).json")
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], cell)
            XCTAssertEqual(obj["status"] as? String, "ok", "\(cell): \(obj["failure"] ?? "")")
            var kept = obj
            for k in ["wallSeconds", "finishedAt", "environment"] { kept.removeValue(forKey: k) }
            out[cell] = kept as NSDictionary
        }
        return out
    }

    /// Every file of the proxy root (path -> bytes), without the lock beside it.
    func tree(_ data: String) -> [String: Data] {
        let base = root.appendingPathComponent(data).appendingPathComponent("proxy-smoke")
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        for case let u as URL in e where (try? u.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            out[String(u.path.dropFirst(base.path.count))] = try? Data(contentsOf: u)
        }
        return out
    }

    func uninterrupted() throws -> [String: NSDictionary] {
        let a = try CLI.run(args(data: "data-a", results: "results-a"), in: root)
        XCTAssertEqual(a.status, 0, a.output)
        return try numbers("results-a")
    }

    /// Whether a GLUE task folder under one of `roots` has a train.tsv and no difficulty.tsv.
    func halfWrittenTask(_ roots: [URL]) -> Bool {
        let fm = FileManager.default
        for r in roots {
            let glue = r.appendingPathComponent("glue")
            for task in (try? fm.contentsOfDirectory(atPath: glue.path)) ?? [] {
                let dir = glue.appendingPathComponent(task)
                if fm.fileExists(atPath: dir.appendingPathComponent("train.tsv").path),
                   !fm.fileExists(atPath: dir.appendingPathComponent("difficulty.tsv").path) { return true }
            }
        }
        return false
    }

    func testSIGKILLDuringProxyGenerationThenRerunGivesTheSameResults() throws {
        let expected = try uninterrupted()

        let partial = root.appendingPathComponent("data-b/.proxy-smoke.partial-text")
        let started = try CLI.start(args(data: "data-b", results: "results-b"), in: root)
        let p = started.0
        var killed = false
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning, Date() < deadline {
            // Killed as soon as a GLUE task has its train.tsv and not yet its difficulty.tsv
            // (in the writer's partial folder, or straight in the data folder).
            if halfWrittenTask([partial, root.appendingPathComponent("data-b/proxy-smoke")]) {
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(1_000)
        }
        let first = CLI.finish(started)
        try XCTSkipUnless(killed && first.signaled, "the proxy data was written before the kill; nothing was interrupted")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("data-b/proxy-smoke/.complete-text").path))

        let again = try CLI.run(args(data: "data-b", results: "results-b"), in: root)
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertEqual(try numbers("results-b"), expected)
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path), "the partial folder is removed")
        XCTAssertEqual(tree("data-b"), tree("data-a"), "the rewritten proxy data differs from an uninterrupted write")
    }

    /// A dataset folder without its completion marker (what an interrupted write of an
    /// older version left) is replaced, not trusted and not refused.
    func testHalfWrittenProxyFolderIsRewritten() throws {
        let expected = try uninterrupted()
        let sst2 = root.appendingPathComponent("data-c/proxy-smoke/glue/SST-2")
        try FileManager.default.createDirectory(at: sst2, withIntermediateDirectories: true)
        try Data("sentence\tlabel\nhalf a li".utf8).write(to: sst2.appendingPathComponent("train.tsv"))
        let r = try CLI.run(args(data: "data-c", results: "results-c"), in: root)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try numbers("results-c"), expected)
        XCTAssertEqual(tree("data-c"), tree("data-a"))
    }

    /// Two processes (two shards of one grid) starting together on a fresh data folder:
    /// one writes, the other waits for it; both finish their cells.
    func testTwoConcurrentFirstRunsBothSucceed() throws {
        let expected = try uninterrupted()
        let s0 = try CLI.start(args(data: "data-d", results: "results-d", shard: "0/2"), in: root)
        let s1 = try CLI.start(args(data: "data-d", results: "results-d", shard: "1/2"), in: root)
        let r0 = CLI.finish(s0), r1 = CLI.finish(s1)
        XCTAssertEqual(r0.status, 0, r0.output)
        XCTAssertEqual(r1.status, 0, r1.output)
        XCTAssertEqual(try numbers("results-d"), expected)
        XCTAssertEqual(tree("data-d"), tree("data-a"))
        // Exactly one of them wrote the data.
        let writes = [r0, r1].filter { $0.output.contains("writing smoke proxy data for text") }.count
        XCTAssertEqual(writes, 1, r0.output + r1.output)
    }
}
