import Foundation
import Analysis
import Harness
import Tensor
import XCTest

/// The real command line: provenance from the binary, verify, selections, concurrent
/// processes on one results folder, and `--jobs`.
final class ReplicationCLITests: XCTestCase {
    func moebench() throws -> URL {
        let bundle = Bundle(for: ReplicationCLITests.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("moebench") }
        guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no moebench executable beside the tests (\(candidates[0].path)); run `swift build --build-tests` first")
        }
        return exe
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Two tasks x two methods x one seed of a tiny GLUE model: a few seconds per cell.
    static let suite = """
    suite: glue
    modality: text
    tasks: [sst2, rte]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, dropout: 0.1, max_length: 24, vocab_size: 300}
    methods:
      - {name: dense, method: dense}
      - {name: switch, method: switch, options: {experts: 4}}
    seeds: 1
    training: {steps: 40, batch_size: 8, lr: 0.002, checkpoint_every: 4}
    tiers:
      smoke: {}
    """

    func workspace() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        try Self.suite.write(to: root.appendingPathComponent("Suites/glue.yaml"), atomically: true, encoding: .utf8)
        return root
    }

    struct Run { var status: Int32; var output: String }

    @discardableResult
    func run(_ exe: URL, _ args: [String], in dir: URL) throws -> Run {
        let p = try start(exe, args, in: dir)
        let out = p.1.fileHandleForReading.readDataToEndOfFile()
        p.0.waitUntilExit()
        return Run(status: p.0.terminationStatus, output: String(decoding: out, as: UTF8.self))
    }

    func start(_ exe: URL, _ args: [String], in dir: URL) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = exe
        p.currentDirectoryURL = dir
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        return (p, pipe)
    }

    func replicateArgs(_ results: String, _ extra: [String] = []) -> [String] {
        ["replicate", "--suite", "glue", "--tier", "smoke", "--suites", "Suites", "--proxy-data", "data",
         "--results", results, "--no-report"] + extra
    }

    /// Every result file of a results folder, without what legitimately differs between runs
    /// (wall time, finish time, environment): the numbers and the configuration.
    func numbers(_ root: URL) throws -> [String: NSDictionary] {
        var out: [String: NSDictionary] = [:]
        for url in ResultStore.resultFiles(under: root) {
            var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            for k in ["wallSeconds", "finishedAt", "environment"] { obj[k] = nil }
            out[String(url.path.dropFirst(root.path.count))] = obj as NSDictionary
        }
        return out
    }

    func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", Self.packageRoot.path] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    // MARK: provenance

    func testVersionComesFromTheBinaryNotTheCurrentDirectory() throws {
        let exe = try moebench()
        // A directory that is another git repository at another commit: what the binary
        // prints must not come from here.
        let other = try workspace()
        defer { try? FileManager.default.removeItem(at: other) }
        for args in [["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", other.path] + args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
        }
        let r = try run(exe, ["--version"], in: other)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("code fingerprint: \(Build.fingerprint)"), r.output)
        XCTAssertTrue(r.output.contains("compiler: Swift version"), r.output)
        XCTAssertFalse(r.output.contains("5.x"), r.output)
        // The binary's commit is the one it was built from (as the test bundle, built with it),
        // not the other repository's.
        XCTAssertTrue(r.output.contains("commit: \(Build.commit)"), r.output)
        let otherHead = git(["-C", other.path, "rev-parse", "HEAD"])
        XCTAssertNotNil(otherHead)
        XCTAssertNotEqual(otherHead, Build.commit)
        if let head = git(["rev-parse", "HEAD"]) {
            XCTAssertEqual(Build.commit, head, "built at another commit than the package's HEAD: rebuild (swift build --build-tests)")
        }
        // A result made from the other directory records the binary's provenance.
        let made = try run(exe, replicateArgs("res", ["--methods", "dense", "--tasks", "rte", "--threads", "1"]), in: other)
        XCTAssertEqual(made.status, 0, made.output)
        let r0 = try ResultStore.read(other.appendingPathComponent("res/smoke/glue/rte__dense__s1.json"))
        XCTAssertEqual(r0.environment.gitCommit, Build.shortCommit)
        XCTAssertEqual(r0.environment.codeFingerprint, Build.fingerprint)
        XCTAssertEqual(r0.environment.threads, 1)
        // The binary chooses its OpenBLAS kernels from the CPU flags before the library loads
        // (MoEBench.main) unless OPENBLAS_CORETYPE is set; this test process keeps OpenBLAS's
        // own detection, which can name the same CPU otherwise (Cooperlake for SkylakeX).
        let env = ProcessInfo.processInfo.environment
        let binaryKind = env["OPENBLAS_CORETYPE"]
            ?? (env["MOEBENCH_NO_CORETYPE"] == nil ? EngineThreads.preferredCoreType() : nil)
            ?? RunEnvironment.cpuKind
        XCTAssertEqual(r0.environment.cpuKind, binaryKind)
        XCTAssertTrue(r0.environment.swiftVersion.hasPrefix("Swift version"), r0.environment.swiftVersion)
    }

    // MARK: verify

    func testVerifyPassesOnAnUnchangedReferenceAndFailsOnAPlantedChange() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        let made = try run(exe, replicateArgs("ref", ["--threads", "1"]), in: root)
        XCTAssertEqual(made.status, 0, made.output)
        let verify = ["verify", "--tier", "smoke", "--reference", "ref", "--suites", "Suites", "--proxy-data", "data"]

        var r = try run(exe, verify + ["--sample", "2"], in: root)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("sample: 2 of 4 cells (evenly spaced by path): smoke/glue/rte__dense__s1, smoke/glue/sst2__dense__s1"), r.output)
        XCTAssertTrue(r.output.contains("verify: 2 of 2 sampled cells reproduce"), r.output)
        XCTAssertEqual(r.output.components(separatedBy: "bit-identical").count - 1, 2, r.output)

        // Plant a change of one metric in the reference: verify fails and names it.
        let file = root.appendingPathComponent("ref/smoke/glue/sst2__dense__s1.json")
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        var metrics = try XCTUnwrap(obj["metrics"] as? [String: Double])
        metrics["accuracy"] = metrics["accuracy"]! + 0.0078125
        obj["metrics"] = metrics
        try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]).write(to: file)
        r = try run(exe, verify + ["--sample", "2"], in: root)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("MISMATCH smoke/glue/sst2__dense__s1"), r.output)
        XCTAssertTrue(r.output.contains("not bit-identical: accuracy"), r.output)

        // Comparing a finished rerun folder: the same verdicts, and the per-method table.
        let rerun = try run(exe, replicateArgs("rerun", ["--threads", "1"]), in: root)
        XCTAssertEqual(rerun.status, 0, rerun.output)
        r = try run(exe, ["verify", "--tier", "smoke", "--reference", "ref", "--rerun", "rerun"], in: root)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("| glue | switch |"), r.output)
        XCTAssertTrue(r.output.contains("all 2 cells bit-identical"), r.output)
        XCTAssertTrue(r.output.contains("1 of 2 cells differ"), r.output)
    }

    // MARK: selections and failures

    func testSelectionThatMatchesNothingIsAnError() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        var r = try run(exe, replicateArgs("res", ["--methods", "densse"]), in: root)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("--methods: densse matches no method of tier 'smoke' in glue; methods: dense, switch"), r.output)
        r = try run(exe, replicateArgs("res", ["--tasks", "cola"]), in: root)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("--tasks: cola matches no task"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("res").path), "nothing ran")
    }

    func testQuietPrintsOneLinePerCellAndASummaryTable() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        let r = try run(exe, replicateArgs("res", ["--quiet"]), in: root)
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.output.split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.contains { $0.contains(" step ") }, r.output)
        XCTAssertEqual(lines.filter { $0.contains(" done in ") }.count, 4, r.output)
        // The summary: the tasks' primary metrics per method, one seed each.
        XCTAssertTrue(r.output.contains("summary (primary metric, percent, mean ± SD over seeds [n]):"), r.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  method") && $0.contains("sst2 accuracy") && $0.contains("rte accuracy") }, r.output)
        XCTAssertEqual(lines.filter { $0.hasPrefix("  dense ") || $0.hasPrefix("  switch ") }.count, 2, r.output)
    }

    func testOutsideTheRepositoryTheErrorSaysHowToFixIt() throws {
        let exe = try moebench()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let r = try run(exe, ["replicate", "--tier", "smoke"], in: root)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("Suites: no such suites folder; run moebench from the repository root (where Suites/ is) or pass --suites DIR"), r.output)
    }

    func testUnwritableResultsFolderFailsTheRunNamingTheError() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        // The tier folder is a file: nothing can be written under it (as root, a read-only
        // folder would not stop anything).
        try FileManager.default.createDirectory(at: root.appendingPathComponent("res"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("res/smoke"))
        let r = try run(exe, replicateArgs("res", ["--methods", "dense", "--threads", "1"]), in: root)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("Not a directory"), r.output)
        XCTAssertTrue(r.output.contains("0 ran") && r.output.contains("2 failed"), r.output)
    }

    func testFailedCellIsRetriedOnRerunAndFailsTheExitUntilFixed() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        // A failed result of the current configuration and build: the next run retries it.
        let ok = try run(exe, replicateArgs("res", ["--methods", "dense", "--tasks", "rte", "--threads", "1"]), in: root)
        XCTAssertEqual(ok.status, 0, ok.output)
        let file = root.appendingPathComponent("res/smoke/glue/rte__dense__s1.json")
        var failed = try ResultStore.read(file)
        failed.status = "failed"
        failed.failure = "data error: train.tsv missing"
        try ResultStore.write(failed, to: file)
        var r = try run(exe, replicateArgs("res", ["--methods", "dense", "--tasks", "rte", "--threads", "1", "--keep-failed"]), in: root)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("1 failed (1 kept from earlier runs)"), r.output)
        r = try run(exe, replicateArgs("res", ["--methods", "dense", "--tasks", "rte", "--threads", "1"]), in: root)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("done: 1 ran, 0 cached, 0 failed"), r.output)
        XCTAssertTrue(try ResultStore.read(file).isOK)
    }

    // MARK: concurrent processes and --jobs

    func testTwoProcessesOnOneResultsFolderSplitTheCells() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        // The proxy data first, so that only the cells are concurrent.
        let warm = try run(exe, replicateArgs("warm", ["--methods", "dense", "--tasks", "rte", "--threads", "1"]), in: root)
        XCTAssertEqual(warm.status, 0, warm.output)
        let a = try start(exe, replicateArgs("res", ["--threads", "1"]), in: root)
        usleep(300_000)
        let b = try start(exe, replicateArgs("res", ["--threads", "1"]), in: root)
        let outA = String(decoding: a.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let outB = String(decoding: b.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        a.0.waitUntilExit(); b.0.waitUntilExit()
        XCTAssertEqual(a.0.terminationStatus, 0, outA)
        XCTAssertEqual(b.0.terminationStatus, 0, outB)
        func ran(_ s: String) -> Int {
            s.split(separator: "\n").filter { $0.contains(" done in ") }.count
        }
        XCTAssertEqual(ran(outA) + ran(outB), 4, "each cell runs once:\n\(outA)\n---\n\(outB)")
        XCTAssertGreaterThan(ran(outB), 0, "the second process took cells too:\n\(outB)")
        XCTAssertEqual(ResultStore.resultFiles(under: root.appendingPathComponent("res")).count, 4)
        let locks = (FileManager.default.enumerator(atPath: root.appendingPathComponent("res").path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".lock") }
        XCTAssertEqual(locks, [])
    }

    func testJobs2GivesTheSameResultFilesAsJobs1() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        let one = try run(exe, replicateArgs("one", ["--jobs", "1", "--threads", "1"]), in: root)
        XCTAssertEqual(one.status, 0, one.output)
        let two = try run(exe, replicateArgs("two", ["--jobs", "2", "--threads", "1"]), in: root)
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("[job 1]") && two.output.contains("[job 2]"), two.output)
        XCTAssertTrue(two.output.contains("progress: 4/4 cells"), two.output)
        XCTAssertTrue(two.output.contains("done: 4 ran, 0 cached, 0 failed"), two.output)
        let a = try numbers(root.appendingPathComponent("one")), b = try numbers(root.appendingPathComponent("two"))
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a, b)
        for url in ResultStore.resultFiles(under: root.appendingPathComponent("two")) {
            XCTAssertEqual(try ResultStore.read(url).environment.threads, 1)
        }
    }

    /// The pids of `pid`'s children (from /proc).
    func children(of pid: Int32) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    func testSIGKILLDuringJobs2ResumesToIdenticalResults() throws {
        let exe = try moebench()
        let root = try workspace()
        defer { try? FileManager.default.removeItem(at: root) }
        let one = try run(exe, replicateArgs("one", ["--threads", "1"]), in: root)
        XCTAssertEqual(one.status, 0, one.output)

        let ckptDir = root.appendingPathComponent("two/smoke/glue/.checkpoints")
        let (p, pipe) = try start(exe, replicateArgs("two", ["--jobs", "2", "--threads", "1"]), in: root)
        // Drain the output so the run never blocks on a full pipe.
        DispatchQueue.global().async { _ = pipe.fileHandleForReading.readDataToEndOfFile() }
        let deadline = Date().addingTimeInterval(120)
        var killed = false
        while p.isRunning, Date() < deadline {
            let ckpts = (try? FileManager.default.contentsOfDirectory(atPath: ckptDir.path)) ?? []
            if ckpts.contains(where: { $0.hasSuffix(".ckpt") }) {
                // kill -9 the whole run: the workers first, then the parent.
                for c in children(of: p.processIdentifier) { kill(c, SIGKILL) }
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(2_000)
        }
        p.waitUntilExit()
        try XCTSkipUnless(killed, "the run finished before a checkpoint was seen; nothing was interrupted")
        XCTAssertLessThan(ResultStore.resultFiles(under: root.appendingPathComponent("two")).count, 4)
        let again = try run(exe, replicateArgs("two", ["--jobs", "2", "--threads", "1"]), in: root)
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertEqual(try numbers(root.appendingPathComponent("one")), try numbers(root.appendingPathComponent("two")))
    }
}
