import ArgumentParser
import Data
import Foundation
import Analysis
import Harness
import Report
import Routing
import Tensor

/// Suites run only when named: `all` (the default replication, the nightly, verify, bench)
/// leaves them out. `survey` is the survey table's own grid (`make survey`).
let suitesRunByNameOnly: Set<String> = ["survey"]

/// Loads every suite file of `Suites/` (or one by name), validated against the registered
/// methods and the known tasks. `all` is every suite but `suitesRunByNameOnly`.
/// A line that reports a finished (or failed) cell: what `--quiet` keeps.
func isCellLine(_ line: String) -> Bool {
    line.contains(" done in ") || line.contains("FAILED")
}

/// The summary table printed at the end of a run: per suite, method and task, the task's
/// primary metric (percent) as mean ± SD over the seeds with an ok result, and the count.
func runSummaryTable(_ cells: [Cell], resultsRoot: URL) -> String {
    var groups: [String: [String: [String: [Double]]]] = [:]
    var failed = 0
    for c in cells {
        guard let r = ResultStore.cached(c, resultsRoot: resultsRoot) else { continue }
        guard r.isOK else { failed += 1; continue }
        guard let metric = TaskCatalog.info(r.task)?.headlineMetric, let v = r.metrics[metric] else { continue }
        groups[r.suite, default: [:]][r.task, default: [:]][r.method, default: []].append(v * 100)
    }
    guard !groups.isEmpty else { return "" }
    var s = "\nsummary (primary metric, percent, mean ± SD over seeds [n]):\n"
    for (suite, byTask) in groups.sorted(by: { $0.key < $1.key }) {
        let order = cells.map(\.config.method.label).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let tasks = cells.filter { $0.config.suite == suite }.map(\.config.task).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let methods = order.filter { m in byTask.values.contains { $0[m] != nil } }
        let header = ["method"] + tasks.compactMap { t in byTask[t] == nil ? nil : "\(t) \(TaskCatalog.info(t)?.headlineMetric ?? "")" }
        var rows = [header]
        for m in methods {
            var row = [m]
            for t in tasks where byTask[t] != nil {
                let v = byTask[t]?[m] ?? []
                if v.isEmpty { row.append("—"); continue }
                let mean = v.reduce(0, +) / Double(v.count)
                let sd = v.count > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
                row.append(v.count > 1 ? String(format: "%.1f ± %.1f [%d]", mean, sd, v.count) : String(format: "%.1f [1]", mean))
            }
            rows.append(row)
        }
        let widths = (0..<header.count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        s += "\(suite):\n"
        for row in rows {
            let line = "  " + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            s += String(line.reversed().drop(while: { $0 == " " }).reversed()) + "\n"
        }
    }
    if failed > 0 { s += "(\(failed) failed cell(s) not in the table)\n" }
    return s
}

func loadSuites(_ dir: String, name: String) throws -> [Suite] {
    let fm = FileManager.default
    guard let files = try? fm.contentsOfDirectory(atPath: dir) else {
        throw HarnessError("\(dir): no such suites folder; run moebench from the repository root (where Suites/ is) or pass --suites DIR")
    }
    let names = files.filter { $0.hasSuffix(".yaml") && $0 != "claims.yaml" }.sorted()
    var suites: [Suite] = []
    for f in names {
        let s = try Suite.load(file: (dir as NSString).appendingPathComponent(f), knownTasks: TaskCatalog.namesByModality,
                               knownMethods: MethodRegistry.knownOptions)
        if name == "all" ? !suitesRunByNameOnly.contains(s.name) : s.name == name { suites.append(s) }
    }
    if suites.isEmpty {
        let known = try names.map { try Suite.load(file: (dir as NSString).appendingPathComponent($0), knownTasks: TaskCatalog.namesByModality,
                                                   knownMethods: MethodRegistry.knownOptions).name }
        throw HarnessError("no suite named '\(name)' in \(dir); suites: \(known.joined(separator: ", ")), or 'all'")
    }
    // The default order of a full replication: cheapest suites first.
    let order = ["cifar100", "librispeech", "glue"]
    return suites.sorted { (order.firstIndex(of: $0.name) ?? 99, $0.name) < (order.firstIndex(of: $1.name) ?? 99, $1.name) }
}

/// Expands the grid of the selected suites and tier, applying --seeds, --methods, --tasks
/// (a selection that matches nothing is an error naming what exists), --pretrained-model and
/// --data.
func selectCells(suites suiteList: [Suite], tier: String, seeds: Int?, methods: String?, tasks: String?,
                 pretrainedModel: String?, realData: String?, log: (String) -> Void = { print($0) }) throws -> [Cell] {
    var cells: [Cell] = []
    var allMethods: [String] = [], allTasks: [String] = []
    let wantMethods = methods.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    let wantTasks = tasks.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    if let wantMethods, wantMethods.isEmpty { throw HarnessError("--methods: expected comma-separated method labels, got '\(methods!)'") }
    if let wantTasks, wantTasks.isEmpty { throw HarnessError("--tasks: expected comma-separated task names, got '\(tasks!)'") }
    for s in suiteList {
        guard s.tiers[tier] != nil else {
            log("suite \(s.name): no '\(tier)' tier, skipped")
            continue
        }
        var suiteCells = try expandGrid(suite: s, tierName: tier, seedCount: seeds)
        for c in suiteCells {
            if !allMethods.contains(c.config.method.label) { allMethods.append(c.config.method.label) }
            if !allTasks.contains(c.config.task) { allTasks.append(c.config.task) }
        }
        if let wantMethods { suiteCells = suiteCells.filter { wantMethods.contains($0.config.method.label) } }
        if let wantTasks { suiteCells = suiteCells.filter { wantTasks.contains($0.config.task) } }
        for k in suiteCells.indices where suiteCells[k].config.pretrained != nil {
            if let pretrainedModel { suiteCells[k].config.pretrained!.model = pretrainedModel }
            // The pretrained tier fine-tunes on the real GLUE files when --data is given.
            if realData != nil { suiteCells[k].config.data = "real" }
        }
        cells += suiteCells
    }
    let names = suiteList.map(\.name).joined(separator: ", ")
    if let unknown = wantMethods?.filter({ !allMethods.contains($0) }), !unknown.isEmpty {
        throw HarnessError("--methods: \(unknown.joined(separator: ", ")) matches no method of tier '\(tier)' in \(names); methods: \(allMethods.joined(separator: ", "))")
    }
    if let unknown = wantTasks?.filter({ !allTasks.contains($0) }), !unknown.isEmpty {
        throw HarnessError("--tasks: \(unknown.joined(separator: ", ")) matches no task of tier '\(tier)' in \(names); tasks: \(allTasks.joined(separator: ", "))")
    }
    if cells.isEmpty {
        throw HarnessError("the selection matches no cell of tier '\(tier)' in \(names) (methods: \(allMethods.joined(separator: ", ")); tasks: \(allTasks.joined(separator: ", ")))")
    }
    return cells
}

/// Writes the proxy data every cell needs, once, before workers start (so that parallel
/// workers never write the same data folder at the same time).
func ensureProxyData(_ cells: [Cell], proxyData: String) throws {
    var seen = Set<String>()
    for c in cells {
        guard let scale = ProxyScale(rawValue: c.config.data) else { continue }
        guard seen.insert("\(c.config.modality.rawValue)|\(scale.rawValue)").inserted else { continue }
        try DataSource.proxy(scale, dataDir: URL(fileURLWithPath: proxyData))
            .ensureProxy(for: c.config.modality, scale: scale, log: { print($0) })
    }
}

struct ReplicateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Run the grid method × task × seed of one suite or all, caching and resuming, then render the reports.",
        discussion: """
        A cached result is reused only when its configuration hash and its code fingerprint \
        (`moebench --version`) match this build; results of other code are stale and re-run \
        (--keep-stale keeps them). Failed results are re-run. Each cell runs under a lock file \
        beside its result, so several processes on one results folder split the work.

        Examples:
          moebench replicate --tier smoke                      # every suite, one seed, about a minute
          moebench replicate --suite glue --tasks sst2,rte --methods dense,dlr --seeds 2
          moebench replicate --tier proxy --jobs 2 --threads 1 --quiet
          moebench replicate --suite cifar100 --tier full --data /datasets --shard 0/8 --no-report
        """)

    @Option(help: "Suite name, or 'all'.") var suite = "all"
    @Option(help: "Tier: smoke, proxy, full or pretrained.") var tier = "proxy"
    @Option(help: "Folder with the real datasets (glue/, cifar-100-binary/, LibriSpeech/); required by the full tier, used by the pretrained tier when given.")
    var data: String?
    @Option(help: "Folder for generated proxy data.") var proxyData = "data"
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Reports folder.") var reports = "reports"
    @Option(help: "Suites folder.") var suites = "Suites"
    @Option(help: "Run only the first N seeds of each tier.") var seeds: Int?
    @Option(help: "Run only these methods (comma-separated labels).") var methods: String?
    @Option(help: "Run only these tasks (comma-separated).") var tasks: String?
    @Option(help: "Run shard I of N (0-based): every N-th cell starting at I.") var shard: String?
    @Option(help: "Pretrained tier: the BERT-family model folder (config.json, model.safetensors, vocab.txt) instead of the suite's pretrained_model.")
    var pretrainedModel: String?
    @Option(help: "Run N cells at once, each in its own worker process with --threads threads.") var jobs = 1
    @Flag(help: "Re-run every cell, cached or not.") var force = false
    @Flag(help: "Keep results made by other code (another code fingerprint) instead of re-running them.") var keepStale = false
    @Flag(help: "Keep failed results instead of re-running them (they still count as failures).") var keepFailed = false
    @Flag(help: .hidden) var retryFailed = false
    @Option(help: .hidden) var workerOf: Int32?
    @Option(help: .hidden) var startedAt: Double?
    @Flag(help: "Do not render the reports afterwards.") var noReport = false
    @Flag(help: "Print one line per finished cell (no step or progress lines), then the summary.") var quiet = false
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        guard Suite.tierNames.contains(tier) else {
            throw ValidationError("--tier must be one of \(Suite.tierNames.joined(separator: ", ")), got '\(tier)'")
        }
        if let data, !FileManager.default.fileExists(atPath: data) {
            throw ValidationError("--data \(data): no such folder")
        }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    func run() throws {
        try engine.apply()
        let shardSel = try shard.map { try Shard(parsing: $0) } ?? .all
        let suiteList = try loadSuites(suites, name: suite)
        let env = RunEnvironment.capture()
        let resultsURL = URL(fileURLWithPath: results)
        let cells = try selectCells(suites: suiteList, tier: tier, seeds: seeds, methods: methods, tasks: tasks,
                                    pretrainedModel: pretrainedModel, realData: data, log: workerOf == nil ? { print($0) } : { _ in })
        let summary: GridSummary
        if jobs > 1 {
            print("moebench replicate: tier \(tier), \(suiteList.map(\.name).joined(separator: ", ")), \(jobs) jobs x \(env.threads) threads, commit \(env.gitCommit), fingerprint \(Build.fingerprint(tier: tier)), \(env.kernelKind)")
            summary = try runJobs(cells, shardSel: shardSel, threads: env.threads)
        } else {
            if workerOf == nil {
                print("moebench replicate: tier \(tier), \(suiteList.map(\.name).joined(separator: ", ")), threads \(env.threads), commit \(env.gitCommit), fingerprint \(Build.fingerprint(tier: tier)), \(env.kernelKind)")
            }
            let trainer = Trainer(dataDir: URL(fileURLWithPath: proxyData), realData: data.map { URL(fileURLWithPath: $0) },
                                  resultsRoot: resultsURL, environment: env)
            var runner = GridRunner(resultsRoot: resultsURL, shard: shardSel, retryFailed: !keepFailed, keepStale: keepStale, force: force)
            if let startedAt { runner.startedAt = Date(timeIntervalSince1970: startedAt) }
            if quiet {
                runner.log = { line in if isCellLine(line) { print(line) } }
                trainer.log = { _ in }
            }
            if let parent = workerOf {
                // A --jobs worker: stops as soon as its parent is gone (a kill -9 of the run),
                // and leaves the step lines to the parent's whole-grid progress.
                runner.shouldContinue = { getppid() == parent }
                runner.log = { line in if !line.contains(" step ") { print(line) } }
                trainer.log = { _ in }
            }
            summary = runner.run(cells, runner: trainer, environment: env)
        }
        if workerOf == nil {
            let table = runSummaryTable(cells.enumerated().filter { shardSel.contains($0.offset) }.map(\.element), resultsRoot: resultsURL)
            if !table.isEmpty { print(table) }
        }
        if workerOf != nil {
            print("worker-summary ran=\(summary.ran) failed=\(summary.failed) locked=\(summary.lockedElsewhere)")
            if summary.hasFailures { throw ExitCode(2) }
            return
        }
        let locked = summary.lockedElsewhere == 0 ? "" : ", \(summary.lockedElsewhere) left to other processes"
        let failedNote = summary.cachedFailed == 0 ? "\(summary.failed) failed" : "\(summary.failed + summary.cachedFailed) failed (\(summary.cachedFailed) kept from earlier runs)"
        let staleNote = summary.stale == 0 ? "" : "\(summary.staleDescription) \(keepStale && !force ? "kept" : "re-run"), "
        print("done: \(summary.ran) ran, \(summary.cached) cached, \(staleNote)\(failedNote), \(summary.skippedOtherShards) in other shards\(locked)")
        if !noReport {
            let all = try ResultStore.all(under: resultsURL.appendingPathComponent(tier))
            let claimsFile = (suites as NSString).appendingPathComponent("claims.yaml")
            let claims = FileManager.default.fileExists(atPath: claimsFile) ? try ClaimsFile.load(file: claimsFile) : []
            let notes = tier == PretrainedSpec.tierName ? try PretrainedReport.notes(results: all, resultsRoot: resultsURL) : [:]
            let refs = References.forResults(all.filter { $0.tier == tier }, resultsRoot: resultsURL, dataDir: URL(fileURLWithPath: proxyData),
                                             realData: data.map { URL(fileURLWithPath: $0) })
            for f in try ReportWriter.write(results: all, tier: tier, claims: claims, outDir: URL(fileURLWithPath: reports),
                                            notes: notes, references: refs) {
                print("wrote \(f.path)")
            }
        }
        if summary.hasFailures {
            print("error: \(summary.failed + summary.cachedFailed) cell(s) of the grid failed; see the FAILED lines above (a rerun retries them)")
            throw ExitCode(2)
        }
    }

    /// `--jobs N`: N worker processes of this program on the same results folder, each
    /// running `replicate` over the same grid with its own --threads; the per-cell lock files
    /// split the cells between them. Processes, not threads: the engine's autograd tape and
    /// the BLAS thread count are process-global. This process prints the whole grid's
    /// progress and ETA, and sums the workers' summaries.
    func runJobs(_ cells: [Cell], shardSel: Shard, threads: Int) throws -> GridSummary {
        let resultsURL = URL(fileURLWithPath: results)
        let scan = GridRunner(resultsRoot: resultsURL, shard: shardSel, retryFailed: !keepFailed, keepStale: keepStale, force: force)
        let mine = cells.enumerated().filter { shardSel.contains($0.offset) }.map(\.element)
        // The initial scan, as one process would print it.
        var summary = GridSummary()
        summary.skippedOtherShards = cells.count - mine.count
        var todo: [Cell] = []
        var staleCommits: [String: Int] = [:]
        for cell in mine {
            let st = scan.state(cell)
            if case .stale(let r) = st {
                summary.stale += 1
                staleCommits[r.environment.gitCommit, default: 0] += 1
            }
            switch scan.decide(st) {
            case .reuse: summary.cached += 1
            case .reuseFailed: summary.cachedFailed += 1
            case .run: todo.append(cell)
            }
        }
        summary.staleCommits = staleCommits.keys.sorted()
        print("grid: \(cells.count) cells, shard \(shardSel): \(mine.count), cached \(summary.cached), \(summary.staleDescription), to run \(todo.count) in \(jobs) jobs")
        if todo.isEmpty { return summary }
        try ensureProxyData(todo, proxyData: proxyData)

        var args = ["replicate", "--suite", suite, "--tier", tier, "--proxy-data", proxyData, "--results", results,
                    "--suites", suites, "--threads", String(threads), "--no-report", "--worker-of", String(getpid())]
        if let data { args += ["--data", data] }
        if let seeds { args += ["--seeds", String(seeds)] }
        if let methods { args += ["--methods", methods] }
        if let tasks { args += ["--tasks", tasks] }
        if let shard { args += ["--shard", shard] }
        if let pretrainedModel { args += ["--pretrained-model", pretrainedModel] }
        if keepStale { args.append("--keep-stale") }
        if keepFailed { args.append("--keep-failed") }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let start = Date()
        let workerSummaries = LineBox()
        var procs: [Process] = []
        for j in 0..<jobs {
            let p = Process()
            p.executableURL = exe
            // A result another worker wrote since `start` is not run again (with --force too).
            p.arguments = args + ["--started-at", String(start.timeIntervalSince1970)] + (force ? ["--force"] : [])
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { h in
                let d = h.availableData
                guard !d.isEmpty else { return }
                for line in String(decoding: d, as: UTF8.self).split(separator: "\n") {
                    if line.hasPrefix("worker-summary ") {
                        workerSummaries.append(String(line))
                    } else if quiet && !isCellLine(String(line)) {
                        continue
                    } else {
                        print("[job \(j + 1)] \(line)")
                    }
                }
            }
            try p.run()
            procs.append(p)
            // Stagger the starts so that the workers take different cells first.
            usleep(200_000)
        }
        var lastDone = -1, lastPrint = Date.distantPast
        let todoPaths = todo.map { $0.resultPath(in: resultsURL) }
        while procs.contains(where: \.isRunning) {
            usleep(500_000)
            let done = todoPaths.filter { url in
                guard let attrs = try? FileManager.default.attributesOfItem(atPath: url.path),
                      let m = attrs[.modificationDate] as? Date else { return false }
                return m >= start.addingTimeInterval(-1)
            }.count
            let now = Date()
            if !quiet, done != lastDone || now.timeIntervalSince(lastPrint) >= 30 {
                let elapsed = now.timeIntervalSince(start)
                let eta = done > 0 ? elapsed / Double(done) * Double(todo.count - done) : Double.nan
                print("progress: \(done)/\(todo.count) cells of this run finished (\(summary.cached) cached before), \(formatDuration(elapsed)) elapsed, ETA \(done > 0 ? formatDuration(eta) : "?")")
                lastDone = done
                lastPrint = now
            }
        }
        for p in procs { p.waitUntilExit() }
        usleep(100_000)
        let lines = workerSummaries.lines
        for line in lines {
            for kv in line.dropFirst("worker-summary ".count).split(separator: " ") {
                let parts = kv.split(separator: "=")
                guard parts.count == 2, let v = Int(parts[1]) else { continue }
                switch parts[0] {
                case "ran": summary.ran += v
                case "failed": summary.failed += v
                default: break
                }
            }
        }
        if lines.count < procs.count {
            let bad = procs.filter { $0.terminationStatus != 0 && $0.terminationStatus != 2 }
            summary.failed += max(1, bad.count)
            print("error: \(procs.count - lines.count) of \(procs.count) workers ended without a summary (exit \(procs.map { String($0.terminationStatus) }.joined(separator: ", ")))")
        }
        // Cells that the workers left to other live processes are neither ran nor failed here.
        return summary
    }
}

/// Lines gathered from the workers' output handlers (which run on other threads).
final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ s: String) { lock.lock(); stored.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
