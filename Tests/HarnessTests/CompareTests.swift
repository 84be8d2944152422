import Foundation
import Analysis
import Harness
import Report
import XCTest

final class CompareTests: XCTestCase {
    static let extraSuite = """
    suite: extra
    modality: text
    tasks: [cola]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32}
    methods:
      - {name: dense, method: dense}
    seeds: 2
    training: {steps: 10, batch_size: 4, lr: 0.001}
    tiers:
      proxy: {}
    """

    /// Folder A: the demo suite (sst2, rte × dense, switch × seeds 1, 2) and the extra suite.
    /// Folder B: the demo suite only, accuracies moved by known amounts, switch/rte seed 2
    /// only (no pairing possible for an interval).
    func makeFolders() throws -> (URL, URL, URL) {
        let dir = Fixture.tempDir()
        let a = dir.appendingPathComponent("A"), b = dir.appendingPathComponent("B")
        for cell in try expandGrid(suite: try Fixture.suite(), tierName: "proxy") {
            let c = cell.config
            let base = 0.6 + 0.05 * Double(c.seed) + (c.task == "rte" ? 0.1 : 0)
            try ResultStore.write(Fixture.result(cell, metrics: ["accuracy": base]), to: cell.resultPath(in: a))
            // dense: +2 points on seed 1, +4 on seed 2; switch: −1 on every seed.
            let shift = c.method.label == "dense" ? 0.02 * Double(c.seed) : -0.01
            if c.method.label == "switch" && c.task == "rte" && c.seed == 1 { continue }
            try ResultStore.write(Fixture.result(cell, metrics: ["accuracy": base + shift]), to: cell.resultPath(in: b))
        }
        let extra = try Suite.parse(file: "extra.yaml", text: Self.extraSuite, knownTasks: TaskCatalog.namesByModality,
                                    knownMethods: Fixture.methods)
        for cell in try expandGrid(suite: extra, tierName: "proxy") {
            try ResultStore.write(Fixture.result(cell, metrics: ["mcc": 0.3]), to: cell.resultPath(in: a))
        }
        return (dir, a, b)
    }

    func testPairedDifferencesAndMissingSuites() throws {
        let (dir, a, b) = try makeFolders()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ra = try ResultStore.all(under: a.appendingPathComponent("proxy"))
        let rb = try ResultStore.all(under: b.appendingPathComponent("proxy"))
        let cmp = ResultComparison.compare(a: ra, b: rb)
        XCTAssertEqual(cmp.map(\.suite), ["demo", "extra"])
        XCTAssertEqual(cmp[1].presence, .onlyA)
        XCTAssertTrue(cmp[1].rows.isEmpty)

        let rows = cmp[0].rows
        func row(_ m: String, _ t: String) -> ResultComparison.Row { rows.first { $0.method == m && $0.task == t }! }
        // dense/sst2: differences 0.02 and 0.04: mean 0.03, SD √2·0.01, t(0.975, 1) = 12.7062.
        let d = row("dense", "sst2")
        XCTAssertEqual(d.pairing, .paired)
        XCTAssertEqual(d.pairedSeeds, [1, 2])
        XCTAssertEqual(d.difference!, 0.03, accuracy: 1e-12)
        XCTAssertEqual(d.low!, 0.03 - 12.7062047 * 0.01, accuracy: 1e-6)
        XCTAssertEqual(d.high!, 0.03 + 12.7062047 * 0.01, accuracy: 1e-6)
        // switch/sst2: the same shift on both seeds: SD 0, the interval is the point.
        let s = row("switch", "sst2")
        XCTAssertEqual(s.difference!, -0.01, accuracy: 1e-12)
        XCTAssertEqual(s.low!, -0.01, accuracy: 1e-12)
        XCTAssertEqual(s.high!, -0.01, accuracy: 1e-12)
        // switch/rte: one seed on B's side: the difference of means, no interval.
        let r = row("switch", "rte")
        XCTAssertEqual(r.pairing, .none)
        XCTAssertEqual(r.pairedSeeds, [2])
        XCTAssertEqual(r.difference!, (0.6 + 0.1 + 0.1 - 0.01) - (0.6 + 0.1 + 0.075), accuracy: 1e-12)
        XCTAssertNil(r.low)
        // The suite average pairs where both tasks succeeded: dense on seeds 1 and 2.
        let avg = row("dense", "avg")
        XCTAssertEqual(avg.difference!, 0.03, accuracy: 1e-12)
        XCTAssertNil(rows.first { $0.method == "switch" && $0.task == "avg" }?.low, "switch seed 1 has no rte result in B")

        let md = ResultComparison.markdown(cmp, nameA: "A", nameB: "B", tier: "proxy")
        XCTAssertTrue(md.contains("| dense | SST-2 | 67.50 ± 3.54 (2) | 70.50 ± 4.95 (2) | +3.00 | [-9.71, +15.71] | paired, seeds 1 2 |"), md)
        XCTAssertTrue(md.contains("Missing: only in A"))
        XCTAssertFalse(md.lowercased().contains("regressed"))
    }

    /// The command exits 0 on a comparison with a missing suite, non-zero with a clear
    /// message on a folder that does not exist.
    func testCommandExitCodes() throws {
        let (dir, a, b) = try makeFolders()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ok = try runMoebench(["compare", a.path, b.path, "--tier", "proxy"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains("## extra"), ok.out)
        XCTAssertTrue(ok.out.contains("Missing: only in A"))
        let one = try runMoebench(["compare", a.path, b.path, "--suite", "demo"])
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertFalse(one.out.contains("## extra"))
        let bad = try runMoebench(["compare", a.path, dir.appendingPathComponent("nope").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("no such results folder"), bad.err)
        let noSuite = try runMoebench(["compare", a.path, b.path, "--suite", "imagenet"])
        XCTAssertNotEqual(noSuite.status, 0)
        XCTAssertTrue(noSuite.err.contains("suites present: demo, extra"), noSuite.err)
    }
}

/// Runs the `moebench` built beside the test bundle; returns its exit status and output.
func runMoebench(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    // The test bundle (or the xctest runner) sits in the build folder beside the command.
    let dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                Bundle(for: CompareTests.self).bundleURL.deletingLastPathComponent()]
    guard let bin = dirs.map({ $0.appendingPathComponent("moebench") }).first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw HarnessError("no moebench command beside the tests in \(dirs.map(\.path)): build it first (swift build --build-tests builds it)")
    }
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["MOEBENCH_NO_CORETYPE"] = "1"
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
