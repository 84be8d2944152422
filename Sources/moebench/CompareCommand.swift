import ArgumentParser
import Foundation
import Analysis
import Harness
import Report

/// `moebench compare A B`: two results folders side by side.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Two results folders side by side: per method and task, B − A with its 95% interval.",
        discussion: """
        A and B are results folders as written by `replicate` (holding <tier>/<suite>/*.json). For each \
        suite, method and task: the task score on each side (mean ± SD over seeds), the difference \
        B − A and its 95% interval: the paired t interval over the seeds both sides ran, else Welch's. \
        Suites, methods or tasks present on one side only are listed as missing, not as regressions. \
        Exits 0 whenever both folders could be read (use `regress` for a pass/fail check).

        Examples:
          moebench compare results .build/nightly-results --tier smoke
          moebench compare results-main results-branch --suite glue
          moebench compare old-results results --tier proxy --output /tmp/compare.md
        """)

    @Argument(help: "Results folder A (the reference).") var a: String
    @Argument(help: "Results folder B (compared with A).") var b: String
    @Option(help: "Compare this suite only (glue, cifar100, librispeech, ...); default: every suite on either side.")
    var suite: String?
    @Option(help: "Tier to compare (smoke, proxy, full, pretrained).") var tier = "proxy"
    @Option(help: "Also write the markdown to this file.") var output: String?

    func run() throws {
        func load(_ folder: String, _ name: String) throws -> [CellResult] {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw HarnessError("\(folder): no such results folder (\(name))")
            }
            let root = URL(fileURLWithPath: folder).appendingPathComponent(tier)
            guard FileManager.default.fileExists(atPath: root.path) else { return [] }
            return try ResultStore.all(under: root).filter { $0.tier == tier }
        }
        let ra = try load(a, "A"), rb = try load(b, "B")
        guard !ra.isEmpty || !rb.isEmpty else {
            throw HarnessError("neither \(a) nor \(b) holds results for tier '\(tier)' (looked in \(a)/\(tier) and \(b)/\(tier))")
        }
        if let suite, !ra.contains(where: { $0.suite == suite }), !rb.contains(where: { $0.suite == suite }) {
            let known = Set(ra.map(\.suite)).union(rb.map(\.suite)).sorted().joined(separator: ", ")
            throw HarnessError("suite '\(suite)': no results on either side for tier '\(tier)'; suites present: \(known)")
        }
        let cmp = ResultComparison.compare(a: ra, b: rb, suites: suite.map { [$0] })
        let md = ResultComparison.markdown(cmp, nameA: a, nameB: b, tier: tier)
        print(md, terminator: "")
        if let output { try atomicWrite(Data(md.utf8), to: URL(fileURLWithPath: output)) }
    }
}
