import Foundation
import XCTest

/// The real command line, killed with SIGKILL in the middle of a cell and started again,
/// ends with the same result file as an uninterrupted run (the resume contract of
/// `moebench replicate`).
final class KillResumeTests: XCTestCase {
    /// The `moebench` executable built beside the test bundle (`swift build --build-tests`
    /// builds it too).
    func moebench() throws -> URL {
        // The bundle is the build folder itself on Linux, a `.xctest` folder inside it elsewhere.
        let bundle = Bundle(for: KillResumeTests.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("moebench") }
        guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no moebench executable beside the tests (\(candidates[0].path)); run `swift build --build-tests` first")
        }
        return exe
    }

    static let suite = """
    suite: glue
    modality: text
    tasks: [sst2]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, dropout: 0.1, max_length: 24, vocab_size: 300}
    methods:
      - {name: switch, method: switch, options: {experts: 4}}
    seeds: 1
    training: {steps: 40, batch_size: 8, lr: 0.002, checkpoint_every: 4}
    tiers:
      smoke: {}
    """

    func launch(_ exe: URL, _ root: URL, results: String) throws -> Process {
        let p = Process()
        p.executableURL = exe
        p.currentDirectoryURL = root
        p.arguments = ["replicate", "--suite", "glue", "--tier", "smoke", "--suites", "Suites", "--proxy-data", "data",
                       "--results", results, "--no-report", "--threads", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func resultJSON(_ root: URL, _ results: String) throws -> [String: Any] {
        let url = root.appendingPathComponent(results).appendingPathComponent("smoke/glue/sst2__switch__s1.json")
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try XCTUnwrap(obj as? [String: Any])
    }

    func testSIGKILLMidCellResumesToTheSameResult() throws {
        let exe = try moebench()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("Suites"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.suite.write(to: root.appendingPathComponent("Suites/glue.yaml"), atomically: true, encoding: .utf8)

        // Uninterrupted (this also writes the proxy data both runs read).
        let a = try launch(exe, root, results: "a")
        a.waitUntilExit()
        XCTAssertEqual(a.terminationStatus, 0)
        let expected = try resultJSON(root, "a")

        // Killed once a checkpoint exists, then started again.
        let ckptDir = root.appendingPathComponent("b/smoke/glue/.checkpoints")
        let resultB = root.appendingPathComponent("b/smoke/glue/sst2__switch__s1.json")
        let b = try launch(exe, root, results: "b")
        let deadline = Date().addingTimeInterval(120)
        var killedMidCell = false
        while b.isRunning, Date() < deadline {
            let ckpts = (try? FileManager.default.contentsOfDirectory(atPath: ckptDir.path)) ?? []
            if ckpts.contains(where: { $0.hasSuffix(".ckpt") }) {
                kill(b.processIdentifier, SIGKILL)
                killedMidCell = true
                break
            }
            usleep(2_000)
        }
        b.waitUntilExit()
        try XCTSkipUnless(killedMidCell && b.terminationReason == .uncaughtSignal,
                          "the cell finished before a checkpoint was seen; nothing was interrupted")
        XCTAssertFalse(FileManager.default.fileExists(atPath: resultB.path), "a killed cell leaves no result file")
        let again = try launch(exe, root, results: "b")
        again.waitUntilExit()
        XCTAssertEqual(again.terminationStatus, 0)
        let resumed = try resultJSON(root, "b")

        XCTAssertEqual(resumed["metrics"] as? [String: Double], expected["metrics"] as? [String: Double])
        XCTAssertEqual(resumed["finalTrainLoss"] as? Double, expected["finalTrainLoss"] as? Double)
        XCTAssertEqual(resumed["configHash"] as? String, expected["configHash"] as? String)
        let fa = try XCTUnwrap(expected["flops"] as? [String: Any]), fb = try XCTUnwrap(resumed["flops"] as? [String: Any])
        XCTAssertEqual(fb["training"] as? Double, fa["training"] as? Double)
        // The learning curve, carried through the checkpoint, is the same.
        let ca = try XCTUnwrap(expected["curve"] as? NSDictionary), cb = try XCTUnwrap(resumed["curve"] as? NSDictionary)
        XCTAssertEqual(cb, ca)
        // The finished cell removes its checkpoint.
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: ckptDir.path)) ?? []).filter { $0.hasSuffix(".ckpt") }
        XCTAssertEqual(left, [])
    }
}
