import Harness

/// Renders `reports/claims.md`: every claim with the paper's figure, the measured figure
/// and a verdict, per suite, from result files only.
public enum ClaimsReport {
    public static func markdown(claims: [Claim], results: [CellResult], tier: String) -> String {
        let data = Set(results.map(\.data)).sorted().joined(separator: ", ")
        var s = "# Claims of the seed papers: \(tier) tier\n\n"
        s += "**Tier:** \(tier). **Data:** \(data.isEmpty ? "none" : data)."
        if results.contains(where: { $0.data == "proxy" }) {
            s += " On proxy data a verdict says whether the *comparison* the paper reports holds on the suite's synthetic tasks, not whether its absolute figure is met."
        }
        s += "\n\nRendered by `moebench report` from `Suites/claims.yaml` and the result files; never edited by hand. "
        s += "Verdicts: **reproduced** (the measured effect has the paper's sign and passes the stated test), **not reproduced** (the 95% interval excludes the paper's figure, or a bound is exceeded), **inconclusive** (neither).\n\n"
        s += "| claim | paper | suite | paper's figure | measured | test | verdict |\n|---|---|---|---|---|---|---|\n"
        var untested: [String] = []
        for c in claims {
            var any = false
            for suite in c.suites {
                guard let v = ClaimChecker.check(c, suite: suite, results: results) else { continue }
                any = true
                let fig: String
                switch c.kind {
                case .difference:
                    if let e = c.expected {
                        fig = c.expectedHigh.map { String(format: "+%.1f to +%.1f points", e, $0) } ?? String(format: "+%.1f points", e)
                    } else { fig = "better (> 0)" }
                case .flopsRatio, .activeRatio: fig = String(format: "ratio <= %.2f", c.max ?? 0)
                case .difficultyTrend: fig = "rises with difficulty"
                }
                s += "| \(c.text) | \(c.paper) (\(c.source)) | \(suite) | \(fig) | \(v.measured) | \(v.test) | **\(v.verdict.rawValue)** |\n"
            }
            if !any { untested.append("- \(c.id): \(c.text) — no results for `\(c.a)`\(c.b.map { " and `\($0)`" } ?? "") in \(c.suites.joined(separator: ", "))") }
        }
        if !untested.isEmpty { s += "\n## Not tested in this run\n\n" + untested.joined(separator: "\n") + "\n" }
        return s
    }
}
