import ArgumentParser
import Foundation
import Analysis
import Harness
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Render the markdown reports and plots of one tier from result files.",
        discussion: """
        Writes <reports>/<suite>.md (other tiers: <tier>-<suite>.md), each table also as CSV in \
        <reports>/csv/, and every plot as PNG and SVG in <reports>/plots/.

        Examples:
          moebench report --tier proxy
          moebench report --tier smoke --reports /tmp/smoke-reports
          moebench report --tier pretrained --reports /tmp/pretrained
        """)

    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Reports folder.") var reports = "reports"
    @Option(help: "Tier to report (smoke, proxy, full, pretrained).") var tier = "proxy"
    @Option(help: "Claims file.") var claims = "Suites/claims.yaml"
    @Option(help: "Folder of the generated proxy data (for the reference rows).") var proxyData = "data"
    @Option(help: "Folder with the real datasets (for the reference rows of tiers on real data).") var data: String?
    @Flag(help: "Leave out the reference rows (chance, linear).") var noReferences = false

    func run() throws {
        let root = URL(fileURLWithPath: results).appendingPathComponent(tier)
        guard FileManager.default.fileExists(atPath: root.path) else {
            throw HarnessError("\(root.path): no results for tier '\(tier)'; run `moebench replicate --tier \(tier)` first")
        }
        let all = try ResultStore.all(under: root)
        let claimList = FileManager.default.fileExists(atPath: claims) ? try ClaimsFile.load(file: claims) : []
        let notes = tier == PretrainedSpec.tierName
            ? try PretrainedReport.notes(results: all, resultsRoot: URL(fileURLWithPath: results)) : [:]
        let refs = noReferences ? [:] : References.forResults(all.filter { $0.tier == tier }, resultsRoot: URL(fileURLWithPath: results),
                                                               dataDir: URL(fileURLWithPath: proxyData),
                                                               realData: data.map { URL(fileURLWithPath: $0) })
        let files = try ReportWriter.write(results: all, tier: tier, claims: claimList, outDir: URL(fileURLWithPath: reports),
                                           notes: notes, references: refs)
        for f in files { print("wrote \(f.path)") }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Gather result files from several results folders (e.g. one per shard) into one.")

    @Option(help: "Destination results folder.") var out = "results"
    @Argument(help: "Source results folders.") var sources: [String]

    func run() throws {
        let r = try mergeResults(sources: sources.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: out))
        print("merged: \(r.copied) copied, \(r.replacedFailed) failed results replaced by ok ones, \(r.identical) already present")
    }
}

struct RegressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regress", abstract: "Compare fresh results with the committed baseline; exit non-zero on any regression.")

    @Option(help: "Baseline file.") var baseline = "results/baselines/nightly.json"
    @Option(help: "Results folder.") var results = "results"
    @Option(help: "Tier whose results are compared.") var tier = "smoke"
    @Flag(help: "Rewrite the baseline from the current results instead of comparing.") var update = false

    func run() throws {
        let root = URL(fileURLWithPath: results).appendingPathComponent(tier)
        let fresh = FileManager.default.fileExists(atPath: root.path) ? try ResultStore.all(under: root) : []
        if update {
            guard !fresh.isEmpty else { throw HarnessError("\(root.path): no results to build a baseline from") }
            let b = Regression.makeBaseline(from: fresh, tier: tier, gitCommit: RunEnvironment.capture().gitCommit)
            try atomicWrite(try ResultStore.encoder().encode(b), to: URL(fileURLWithPath: baseline))
            print("wrote \(baseline): \(b.entries.count) entries")
            return
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: baseline)) } catch {
            throw HarnessError("\(baseline): cannot read the baseline (create it with `moebench regress --update`)")
        }
        let b: Baseline
        do { b = try JSONDecoder().decode(Baseline.self, from: data) } catch {
            throw HarnessError("\(baseline): not a moebench baseline: \(error)")
        }
        let rows = Regression.compare(baseline: b, fresh: fresh)
        print(Regression.markdown(rows))
        if rows.contains(where: \.regressed) { throw ExitCode(1) }
    }
}

struct ReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "Compute (or read from the cache) the reference rows, chance and linear, of a suite tier's tasks, without running any cell.")

    @Option(help: "Suite name, or 'all'.") var suite = "all"
    @Option(help: "Tier: smoke, proxy, full or pretrained.") var tier = "proxy"
    @Option(help: "Only these tasks (comma-separated).") var tasks: String?
    @Option(help: "Folder with the real datasets.") var data: String?
    @Option(help: "Folder for generated proxy data.") var proxyData = "data"
    @Option(help: "Results folder (the cache is results/<tier>/<suite>/reference/<task>.json).") var results = "results"
    @Option(help: "Suites folder.") var suites = "Suites"
    @OptionGroup var engine: EngineOptions

    func run() throws {
        try engine.apply()
        let only = tasks.map { Set($0.split(separator: ",").map(String.init)) }
        for s in try loadSuites(suites, name: suite) {
            guard s.tiers[tier] != nil else { continue }
            var seen = Set<String>()
            for cell in try expandGrid(suite: s, tierName: tier) where !seen.contains(cell.config.task) {
                seen.insert(cell.config.task)
                if let only, !only.contains(cell.config.task) { continue }
                let cacheDir = URL(fileURLWithPath: results).appendingPathComponent(tier).appendingPathComponent(s.name)
                    .appendingPathComponent("reference")
                let r = try References.compute(for: cell.config, dataDir: URL(fileURLWithPath: proxyData),
                                               realData: data.map { URL(fileURLWithPath: $0) }, cacheDir: cacheDir)
                for row in r.rows {
                    let m = row.metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value * 100) }
                    print("\(s.name)/\(cell.config.task)\t\(row.name)\t\(m.joined(separator: ", "))\t(\(row.detail))")
                }
            }
        }
    }
}
