import ArgumentParser
import Foundation
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

    func run() throws {
        let root = URL(fileURLWithPath: results).appendingPathComponent(tier)
        guard FileManager.default.fileExists(atPath: root.path) else {
            throw HarnessError("\(root.path): no results for tier '\(tier)'; run `moebench replicate --tier \(tier)` first")
        }
        let all = try ResultStore.all(under: root)
        let claimList = FileManager.default.fileExists(atPath: claims) ? try ClaimsFile.load(file: claims) : []
        let notes = tier == PretrainedSpec.tierName
            ? try PretrainedReport.notes(results: all, resultsRoot: URL(fileURLWithPath: results)) : [:]
        let files = try ReportWriter.write(results: all, tier: tier, claims: claimList, outDir: URL(fileURLWithPath: reports),
                                           notes: notes)
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
        print("merged: \(r.copied) copied, \(r.identical) already present")
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
