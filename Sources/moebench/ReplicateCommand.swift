import ArgumentParser
import Foundation
import Harness
import Report
import Routing
import Tensor

/// Loads every suite file of `Suites/` (or one by name), validated against the registered
/// methods and the known tasks.
func loadSuites(_ dir: String, name: String) throws -> [Suite] {
    let fm = FileManager.default
    guard let files = try? fm.contentsOfDirectory(atPath: dir) else {
        throw HarnessError("\(dir): no such suites folder")
    }
    let names = files.filter { $0.hasSuffix(".yaml") && $0 != "claims.yaml" }.sorted()
    var suites: [Suite] = []
    for f in names {
        let s = try Suite.load(file: (dir as NSString).appendingPathComponent(f), knownTasks: TaskCatalog.namesByModality,
                               knownMethods: MethodRegistry.knownOptions)
        if name == "all" || s.name == name { suites.append(s) }
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

struct ReplicateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Run the grid method × task × seed of one suite or all, caching and resuming, then render the reports.")

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
    @Flag(help: "Rerun cells whose cached result is a failure.") var retryFailed = false
    @Flag(help: "Do not render the reports afterwards.") var noReport = false
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let seeds, seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        guard Suite.tierNames.contains(tier) else {
            throw ValidationError("--tier must be one of \(Suite.tierNames.joined(separator: ", ")), got '\(tier)'")
        }
        if let data, !FileManager.default.fileExists(atPath: data) {
            throw ValidationError("--data \(data): no such folder")
        }
    }

    func run() throws {
        try engine.apply()
        let shardSel = try shard.map { try Shard(parsing: $0) } ?? .all
        let suiteList = try loadSuites(suites, name: suite)
        let env = RunEnvironment.capture()
        let resultsURL = URL(fileURLWithPath: results)
        let trainer = Trainer(dataDir: URL(fileURLWithPath: proxyData), realData: data.map { URL(fileURLWithPath: $0) },
                              resultsRoot: resultsURL, environment: env)
        var cells: [Cell] = []
        for s in suiteList {
            guard s.tiers[tier] != nil else {
                print("suite \(s.name): no '\(tier)' tier, skipped")
                continue
            }
            var suiteCells = try expandGrid(suite: s, tierName: tier, seedCount: seeds)
            if let methods {
                let keep = Set(methods.split(separator: ",").map(String.init))
                suiteCells = suiteCells.filter { keep.contains($0.config.method.label) }
            }
            if let tasks {
                let keep = Set(tasks.split(separator: ",").map(String.init))
                suiteCells = suiteCells.filter { keep.contains($0.config.task) }
            }
            for k in suiteCells.indices where suiteCells[k].config.pretrained != nil {
                if let pretrainedModel { suiteCells[k].config.pretrained!.model = pretrainedModel }
                // The pretrained tier fine-tunes on the real GLUE files when --data is given.
                if data != nil { suiteCells[k].config.data = "real" }
            }
            cells += suiteCells
        }
        print("moebench replicate: tier \(tier), \(suiteList.map(\.name).joined(separator: ", ")), threads \(env.threads), commit \(env.gitCommit)")
        let summary = GridRunner(resultsRoot: resultsURL, shard: shardSel, retryFailed: retryFailed)
            .run(cells, runner: trainer, environment: env)
        let total = summary
        print("done: \(total.ran) ran, \(total.cached) cached, \(total.failed) failed, \(total.skippedOtherShards) in other shards")
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
        if total.failed > 0 { throw ExitCode(2) }
    }
}
