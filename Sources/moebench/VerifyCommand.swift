import ArgumentParser
import Foundation
import Analysis
import Harness
import Tensor

/// Re-runs a deterministic sample of the reference results (the committed `results/`) in a
/// scratch folder, or compares a finished rerun folder with them, and says whether they
/// reproduce: bit-identical on the same CPU kind and thread count, else within the seeds'
/// 95% CI. Exits 1 on any mismatch.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-run a sample of the reference results and check that they reproduce (exit 1 on a mismatch).",
        discussion: """
        The sample is deterministic: N cells evenly spaced over the reference's cells sorted by \
        path (--sample 0: every cell). Each cell runs with the reference's thread count unless \
        --threads is given. With --rerun DIR nothing runs: the results under DIR are compared with \
        the reference, cell by cell and as a table per suite and method.
        """)

    @Option(help: "Tier to verify.") var tier = "smoke"
    @Option(help: "Number of reference cells to re-run (0: all).") var sample = 4
    @Option(help: "Reference results folder (holding <tier>/<suite>/…).") var reference = "results"
    @Option(help: "Compare this finished results folder with the reference instead of running cells.") var rerun: String?
    @Option(help: "Folder for the re-run results (default: a new temporary folder, removed afterwards).") var scratch: String?
    @Option(help: "Suites folder: the reference's configurations must still be the suites' own.") var suites = "Suites"
    @Option(help: "Folder for generated proxy data.") var proxyData = "data"
    @Option(help: "Folder with the real datasets, for tiers that read them.") var data: String?
    @Option(help: "Engine threads for every cell (default: each reference cell's own).") var threads: Int?

    func validate() throws {
        guard sample >= 0 else { throw ValidationError("--sample must be 0 (all) or more, got \(sample)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard Suite.tierNames.contains(tier) else {
            throw ValidationError("--tier must be one of \(Suite.tierNames.joined(separator: ", ")), got '\(tier)'")
        }
    }

    func run() throws {
        let refRoot = URL(fileURLWithPath: reference).appendingPathComponent(tier)
        guard FileManager.default.fileExists(atPath: refRoot.path) else {
            throw HarnessError("\(refRoot.path): no reference results for tier '\(tier)' (make them with `make reference TIER=\(tier)`)")
        }
        let refs = try ResultStore.all(under: refRoot)
        guard !refs.isEmpty else { throw HarnessError("\(refRoot.path): no result files") }
        var mismatches = 0
        let failedRefs = refs.filter { !$0.isOK }
        for r in failedRefs {
            print("MISMATCH \(Reproduction.key(r)): the reference itself failed: \(r.failure ?? "?")")
        }
        mismatches += failedRefs.count
        let refCommits = Set(refs.map(\.environment.gitCommit)).sorted()
        let refKinds = Set(refs.map { "\($0.environment.kernelKind), \($0.environment.threads) threads" }).sorted()
        print("reference: \(refs.count) cells under \(refRoot.path), from commit(s) \(refCommits.joined(separator: ", ")), CPU kind(s) \(refKinds.joined(separator: "; "))")
        print("this build: commit \(Build.shortCommit), fingerprint \(Build.fingerprint(tier: tier)), CPU kind \(RunEnvironment.cpuKind)")

        if let rerun {
            let root = URL(fileURLWithPath: rerun).appendingPathComponent(tier)
            let reruns = FileManager.default.fileExists(atPath: root.path) ? try ResultStore.all(under: root) : []
            let byKey = Dictionary(reruns.map { (Reproduction.key($0), $0) }, uniquingKeysWith: { a, _ in a })
            for r in refs.filter(\.isOK) {
                guard let x = byKey[Reproduction.key(r)] else {
                    print("MISMATCH \(Reproduction.key(r)): not in \(root.path)")
                    mismatches += 1
                    continue
                }
                let c = Reproduction.compare(reference: r, rerun: x, allReference: refs)
                if !c.agree { print("MISMATCH \(c.id): \(c.detail)"); mismatches += 1 }
            }
            let rows = Reproduction.table(reference: refs, rerun: reruns)
            print("\nReproduction of tier \(tier): reference \(refRoot.path), rerun \(root.path) (suite scores in %)\n")
            print(Reproduction.markdown(rows))
            print("\nverify: \(refs.count - mismatches) of \(refs.count) cells reproduce, \(rows.filter(\.agree).count) of \(rows.count) suite x method rows agree")
            if mismatches > 0 || rows.contains(where: { !$0.agree }) { throw ExitCode(1) }
            return
        }

        let candidates = refs.filter(\.isOK).sorted { Reproduction.key($0) < Reproduction.key($1) }
        let n = sample == 0 ? candidates.count : min(sample, candidates.count)
        let chosen = (0..<n).map { candidates[$0 * candidates.count / max(n, 1)] }
        print("sample: \(n) of \(candidates.count) cells (evenly spaced by path): \(chosen.map { Reproduction.key($0) }.joined(separator: ", "))")

        // The reference must still be what the suites define.
        let current = try loadSuites(suites, name: "all").filter { $0.tiers[tier] != nil }
            .flatMap { try expandGrid(suite: $0, tierName: tier) }
        let currentHash = Dictionary(current.map { ("\($0.config.tier)/\($0.config.suite)/\($0.id)", $0.config.hash) },
                                     uniquingKeysWith: { a, _ in a })

        let ownScratch = scratch == nil
        let scratchURL = scratch.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("moebench-verify-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { if ownScratch { try? FileManager.default.removeItem(at: scratchURL) } }
        let start = Date()
        for (k, r) in chosen.enumerated() {
            let key = Reproduction.key(r)
            if let h = currentHash[key], h != r.configHash {
                print("MISMATCH \(key): the suite now gives configuration \(h), the reference has \(r.configHash): regenerate the reference (make reference TIER=\(tier))")
                mismatches += 1
            } else if currentHash[key] == nil {
                print("MISMATCH \(key): no longer a cell of the suites' '\(tier)' tier: regenerate the reference (make reference TIER=\(tier))")
                mismatches += 1
            }
            let t = threads ?? r.environment.threads
            EngineThreads.set(t)
            let env = RunEnvironment.capture()
            let cell = Cell(config: r.config)
            let trainer = Trainer(dataDir: URL(fileURLWithPath: proxyData), realData: data.map { URL(fileURLWithPath: $0) },
                                  resultsRoot: scratchURL, environment: env, log: { _ in })
            let summary = GridRunner(resultsRoot: scratchURL, force: true, log: { _ in }).run([cell], runner: trainer, environment: env)
            let x = try? ResultStore.read(cell.resultPath(in: scratchURL))
            guard summary.failed == 0, let x else {
                print("[\(k + 1)/\(n)] MISMATCH \(key): the rerun failed: \(x?.failure ?? "no result written")")
                mismatches += 1
                continue
            }
            let c = Reproduction.compare(reference: r, rerun: x, allReference: refs)
            if !c.agree { mismatches += 1 }
            print("[\(k + 1)/\(n)] \(c.agree ? "ok" : "MISMATCH") \(key) (\(t) threads, \(formatDuration(x.wallSeconds))): \(c.detail)")
        }
        print(String(format: "verify: %d of %d sampled cells reproduce (%@)", n - min(mismatches, n), n,
                     formatDuration(Date().timeIntervalSince(start))))
        if mismatches > 0 {
            print("verify: MISMATCH: the code gives other numbers than the reference results in \(reference)/\(tier); if the change is intended, regenerate them (make reference TIER=\(tier))")
            throw ExitCode(1)
        }
    }
}
