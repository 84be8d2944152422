import Foundation
import Analysis
import Harness

/// Renders `reports/claims.md`: every claim with the paper's figure, the paired difference
/// with its intervals and half-width, the test, the margin and the verdict, per suite, from
/// result files only; then the power of each row and the rules.
public enum ClaimsReport {
    static func signed(_ v: Double, _ digits: Int = 2) -> String {
        v.isFinite ? String(format: "%+.\(digits)f", v) : "—"
    }

    static func pValue(_ p: Double?) -> String {
        guard let p, p.isFinite else { return "—" }
        return p < 0.0001 ? "<0.0001" : String(format: "%.4f", p)
    }

    static func figure(_ c: Claim) -> String {
        switch c.kind {
        case .difference:
            if let e = c.expected {
                return c.expectedHigh.map { String(format: "+%.1f to +%.1f points", e, $0) } ?? String(format: "+%.1f points", e)
            }
            return "better (> 0)"
        case .flopsRatio, .activeRatio: return String(format: "ratio <= %.2f", c.max ?? 0)
        case .difficultyTrend: return "rises with difficulty"
        case .paramsRatio: return String(format: "ratio in [%.2f, %.2f]", c.min ?? 0, c.max ?? 0)
        case .expertsByTask: return "more experts on \(c.tasksA.map { TaskCatalog.info($0)?.title ?? $0 }.joined(separator: ", ")) than on \(c.tasksB.map { TaskCatalog.info($0)?.title ?? $0 }.joined(separator: ", "))"
        case .expertsByLayer: return "layers differ"
        case .robustness: return "smaller drop under shift (> 0)"
        }
    }

    /// "12.3 min of cells on glue (756 cells over 12 seeds), …": per suite, in the order
    /// given, the summed wall time of its successful cells divided by its seeds.
    static func seedCosts(_ results: [CellResult], suites: [String]) -> String {
        var seen: Set<String> = []
        var parts: [String] = []
        for suite in suites where seen.insert(suite).inserted {
            let c = CellCost(results.filter { $0.suite == suite })
            guard c.seeds > 0 else { continue }
            parts.append(CellCost.minutes(c.secondsPerSeed) + " min of cells on \(suite) (\(c.cells) cells over \(c.seeds) seeds)")
        }
        return parts.joined(separator: ", ")
    }

    public static func markdown(claims: [Claim], results: [CellResult], tier: String) -> String {
        let data = Set(results.map(\.data)).sorted().joined(separator: ", ")
        var s = "# Claims of the seed papers: \(tier) tier\n\n"
        s += "**Tier:** \(tier). **Data:** \(data.isEmpty ? "none" : data)."
        if results.contains(where: { $0.data == "proxy" }) {
            s += " On proxy data a verdict says whether the *comparison* the paper reports holds on the suite's synthetic tasks, not whether its absolute figure is met."
        }
        s += "\n\nRendered by `moebench report` from `Suites/claims.yaml` and the result files; never edited by hand. "
        s += "Verdicts: **reproduced** (the effect is shown above zero), **not reproduced** (the effect is shown below the paper's figure, or below the equivalence margin for a \"> 0\" claim, or a bound is exceeded), **inconclusive** (neither). How each is decided is under *Rules* below.\n\n"
        let suites = Set(claims.flatMap(\.suites)).filter { suite in results.contains { $0.suite == suite } }.sorted()
        for suite in suites {
            let d = Scores.headlineDescription(results, suite: suite)
            if !d.isEmpty { s += "- **\(suite)** — \(d)\n" }
        }
        if !suites.isEmpty { s += "\n" }

        let rows = ClaimChecker.checkAll(claims, results: results)
        s += "| claim | paper | suite | paper's figure | measured | 95% CI (t) ± half-width | 95% CI (bootstrap) | test | margin | p (Holm) | verdict |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for v in rows {
            let c = v.claim
            var ci = "—", boot = "—", margin = "—", p = "—"
            if let pr = v.paired {
                ci = "[\(signed(pr.low)), \(signed(pr.high))] ± \(String(format: "%.2f", pr.halfWidth))"
                boot = "[\(signed(pr.bootLow)), \(signed(pr.bootHigh))]"
            }
            if let lo = v.lower, let up = v.upper {
                let experts = c.kind == .difficultyTrend || c.kind == .expertsByTask || c.kind == .expertsByLayer
                let unit = c.kind == .difficultyTrend ? " experts/level" : experts ? " experts/token" : ""
                margin = c.kind == .difference && c.expected != nil
                    ? "above \(signed(lo, 1)); below paper's \(signed(up, 1))"
                    : c.kind == .expertsByLayer
                    ? "ANOVA p below \(ClaimChecker.alpha); range below margin \(signed(up, 2))\(unit)"
                    : "above \(signed(lo, 1)); below margin \(signed(up, experts ? 2 : 1))\(unit)"
            }
            if v.isTested {
                p = "above: \(pValue(v.pAbove)) (\(pValue(v.pAboveHolm))); below: \(pValue(v.pBelow)) (\(pValue(v.pBelowHolm)))"
            }
            var measured = v.measured
            if !v.unmatched.isEmpty {
                measured += "; unpaired seeds left out: " + v.unmatched.sorted { $0.key < $1.key }
                    .map { "\($0.key) \($0.value.map(String.init).joined(separator: ", "))" }.joined(separator: "; ")
            }
            var verdict = "**\(v.verdict.rawValue)**"
            if v.verdict != v.unadjustedVerdict { verdict += " (without Holm: \(v.unadjustedVerdict.rawValue))" }
            s += "| \(c.text) | \(c.paper) (\(c.source)) | \(suite(v)) | \(figure(c)) | \(measured) | \(ci) | \(boot) | \(v.test) | \(margin) | \(p) | \(verdict) |\n"
        }
        var untested: [String] = []
        for c in claims where !rows.contains(where: { $0.claim == c }) {
            untested.append("- \(c.id): \(c.text) — no results for `\(c.a)`\(c.b.map { " and `\($0)`" } ?? "") in \(c.suites.joined(separator: ", "))")
        }
        if !untested.isEmpty { s += "\n## Not tested in this run\n\n" + untested.joined(separator: "\n") + "\n" }

        let changed = rows.filter { $0.verdict != $0.unadjustedVerdict }
        let family = rows.filter(\.isTested).count
        s += "\n## Holm correction\n\n"
        s += "Family: the \(family) rows above with a statistical test (difference, difficulty and experts-per-token rows; the ratio rows are deterministic counts and take no part). "
        s += "Each row has two one-sided p-values; Holm's step-down procedure runs over the \(family) \"above\" p-values (the test that makes a row *reproduced*) and, separately, over the \(family) \"below\" p-values (the test that makes it *not reproduced*), each at familywise level \(ClaimChecker.alpha). "
        s += "The p column shows raw and (Holm-adjusted) values; a test passes when its adjusted p is below \(ClaimChecker.alpha). "
        if changed.isEmpty {
            s += "In this run the correction changes no verdict.\n"
        } else {
            s += "In this run it changes \(changed.count) verdict\(changed.count == 1 ? "" : "s"):\n\n"
            for v in changed { s += "- \(v.claim.id) on \(v.suite): \(v.unadjustedVerdict.rawValue) → \(v.verdict.rawValue)\n" }
        }

        let powered = rows.filter { $0.paired != nil }
        if !powered.isEmpty {
            s += "\n## Power: half-widths reached and seeds needed\n\n"
            s += "From each row's observed SD (paired differences of the suite score per seed, or per-seed difficulty slopes): the 95% t half-width reached, the seeds a half-width of \(String(format: "%.1f", ClaimChecker.targetHalfWidth)) points would need (the suite's power target for the DLR and \"> 0\" rows), and the seeds a half-width of (upper − lower) / 2 would need: at that width the interval cannot hold both references, so the row is conclusive whatever the true effect (before the Holm correction). Needs are `t(0.975, n−1) · SD / √n <= width` with the observed SD taken as known.\n\n"
            s += "| claim | suite | n | paired SD | half-width reached | seeds for ± 1.2 | conclusive width | seeds for it |\n|---|---|---|---|---|---|---|---|\n"
            for v in powered {
                let pr = v.paired!
                let isDiff = v.claim.kind == .difference || v.claim.kind == .robustness
                let width = ((v.upper ?? 0) - (v.lower ?? 0)) / 2
                s += "| \(v.claim.id) | \(suite(v)) | \(pr.n) | \(String(format: isDiff ? "%.2f" : "%.4f", pr.sd)) | \(String(format: isDiff ? "%.2f" : "%.4f", pr.halfWidth)) | "
                s += isDiff ? "\(v.seedsFor12.map(String.init) ?? "> 10000") | " : "— | "
                s += "\(String(format: isDiff ? "%.2f" : "%.3f", width)) | \(v.seedsConclusive.map(String.init) ?? "> 10000") |\n"
            }
            let costs = seedCosts(results, suites: powered.map(\.suite))
            if !costs.isEmpty {
                s += "\nWhat a seed costs: one seed of every method takes " + costs
                    + " (the results' measured wall times, summed; the suite reports' *Cost* sections have them per task).\n"
            }
        }

        let diffRows = rows.filter { $0.difficulty != nil }
        if !diffRows.isEmpty {
            s += "\n## Difficulty claim: per seed\n\n"
            s += "Per seed, the mean over tasks of each result's slope of experts per token on the difficulty level, within length bins (length-controlled) and without (unbinned), and the input length added per level inside the bins (what the binning leaves) and without bins (how much length tracks the level).\n\n"
            s += "| claim | suite | tasks | seed | slope within length bins | unbinned slope | length per level within bins | length per level unbinned |\n|---|---|---|---|---|---|---|---|\n"
            for v in diffRows {
                let d = v.difficulty!
                for (k, seed) in d.seeds.enumerated() {
                    s += "| \(v.claim.id) | \(suite(v)) | \(d.tasks.joined(separator: ", ")) | \(seed) | \(signed(d.perSeed[k], 4)) | \(signed(d.naivePerSeed[k], 4)) | \(signed(d.lengthWithinBinsPerSeed[k], 2)) | \(signed(d.lengthPerSeed[k], 2)) |\n"
                }
            }
            s += "\nPer task, mean over the same seeds:\n\n| claim | suite | task | slope within length bins | unbinned slope |\n|---|---|---|---|---|\n"
            for v in diffRows {
                let d = v.difficulty!
                for t in d.tasks {
                    s += "| \(v.claim.id) | \(suite(v)) | \(TaskCatalog.info(t)?.title ?? t) | \(signed(d.taskSlope[t] ?? .nan, 4)) | \(signed(d.taskNaiveSlope[t] ?? .nan, 4)) |\n"
                }
            }
        }

        s += "\n## Rules\n\n"
        s += "- **Pairing.** For one seed every method gets the same data order and the same shared initialisation, so runs are paired by seed: the difference of the suite score (points) is taken per seed over the seeds present for both methods (unpaired seeds are named in the row and left out), and `n` is the number of pairs.\n"
        s += "- **Intervals.** The 95% t interval of the mean paired difference (`mean ± t(0.975, n−1) · SD / √n`) decides the verdict. Beside it, a percentile bootstrap of the mean (\(Stats.bootstrapResamples) resamples of the n differences with replacement, generator `RNG(seed: \(Stats.bootstrapSeed))`, 2.5 and 97.5 percentiles by linear interpolation); with few seeds the bootstrap interval is too narrow (it cannot see beyond the observed values) and is shown only as a check.\n"
        s += "- **Difference claims.** Two one-sided paired t-tests: *reproduced* when \"effect <= 0\" is rejected; *not reproduced* when \"effect >= upper\" is rejected, where upper is the paper's figure (its lower end for a range: DLR's +2.4 to +3.2 is judged against +2.4, top-p's +0.7 against +0.7) or, for a \"better (> 0)\" claim, the equivalence margin of \(String(format: "%.1f", ClaimChecker.margin)) points. A significant effect shown smaller than the paper's figure (or than the margin) is *not reproduced*; an effect above the figure is *reproduced* (the claims are improvements, not exact values). Without the Holm correction this is: the 95% interval wholly above 0 → reproduced; wholly below upper → not reproduced.\n"
        s += "- **Difficulty claim** (experts per token of the method against the proxy difficulty level). Within each result (one task, one seed), each evaluation set's inputs are cut into \(DifficultyTrend.lengthBins) equal-count length bins (tokens for text, frames for speech; images all have one length), and the slope of the mean experts per token on the level is fitted with one intercept per (set, length bin), weighted by examples: a within-task, within-seed, length-controlled slope. Per seed the slopes are averaged over the suite's tasks; the per-seed means give the t interval over seeds (the evaluation examples are fixed, so the interval covers training variation, not the sampling of inputs). Reproduced when \"slope <= 0\" is rejected, not reproduced when \"slope >= \(ClaimChecker.difficultyMargin) experts per level\" is rejected (\(ClaimChecker.difficultyMargin) is 1% of top-2's two experts).\n"
        s += "- **Experts per task group** (`experts_by_task`). Per seed, each result's experts chosen per token (mean over layers and evaluation tokens) is averaged over each group's tasks, and the difference of the two group means is taken; the t interval over seeds decides as for the difficulty claim: reproduced when \"difference <= 0\" is rejected, not reproduced when \"difference >= \(ClaimChecker.difficultyMargin) experts per token\" is rejected. A seed counts only with every task of both groups.\n"
        s += "- **Robustness** (`robustness`). Cells of tiers with `shifted_eval` are also evaluated on shifted sets (CIFAR-100: 4 corruptions in the style of CIFAR-100-C at 3 severities; LibriSpeech: test-clean with white noise at 20/10/5 dB SNR and speed 0.9x/1.1x; GLUE: MNLI's lexical-overlap probe) and on the same number of clean examples. A result's drop is its clean score minus its mean score over the shifted sets, in points (CIFAR-100 top-1, 100 − WER, MNLI two-way accuracy); per seed it is averaged over the suite's tasks that have shifted sets. The claim's effect is the other method's drop minus this method's, paired by seed: reproduced when \"effect <= 0\" is rejected, not reproduced when \"effect >= \(String(format: "%.1f", ClaimChecker.margin)) points\" is rejected.\n"
        s += "- **Experts per layer** (`experts_by_layer`). Per seed and layer, the experts chosen per token averaged over the suite's tasks. Reproduced when a repeated-measures one-way ANOVA over layers with seeds as blocks (F = MS(layer) / MS(layer × seed), df = (L − 1, (L − 1)(n − 1))) rejects \"every layer has the same mean\" (its p stands in the \"above\" column of the Holm family); not reproduced when the per-seed range of the layer means (max − min; it overstates the true range, so the test is conservative) is shown below \(ClaimChecker.difficultyMargin) experts per token by the one-sided t-test (the \"below\" column). The interval shown is that of the range.\n"
        s += "- **Ratio claims** are deterministic counts of the engine (forward FLOPs per example counted over the evaluation set, active or total parameters): reproduced when the ratio is at most the bound (within [min, max] for a `params_ratio` claim), else not reproduced; no interval, no part in the Holm family.\n"
        return s
    }

    static func suite(_ v: ClaimVerdict) -> String { v.suite }
}
