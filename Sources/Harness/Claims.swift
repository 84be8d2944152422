import Foundation

/// A claim of a seed paper and how the suite tests it (`Suites/claims.yaml`).
public struct Claim: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `mean(a) − mean(b)` of the suite score over seeds, in points; Welch's t-test.
        case difference
        /// Forward FLOPs per example of `a` over `b`, must be at most `max`.
        case flopsRatio = "flops_ratio"
        /// Active parameters per example of `a` over `b`, must be at most `max`.
        case activeRatio = "active_ratio"
        /// Experts (blocks) chosen per token for method `a` grow with the difficulty level.
        case difficultyTrend = "difficulty_trend"
    }

    public var id: String
    public var paper: String
    public var source: String
    public var text: String
    public var kind: Kind
    public var a: String
    public var b: String?
    public var suites: [String]
    /// The paper's figure: points for differences, a ratio bound for ratios.
    public var expected: Double?
    public var expectedHigh: Double?
    public var max: Double?
}

public enum ClaimsFile {
    public static func load(file: String) throws -> [Claim] {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw SuiteError(file: file, line: nil, key: "", "cannot read the claims file: \(error.localizedDescription)")
        }
        return try parse(file: file, text: text)
    }

    public static func parse(file: String, text: String) throws -> [Claim] {
        let root = try YAMLReader.load(file: file, text: text)
        let top = try root.mapping(allowed: ["claims"])
        guard let list = top.first?.1 else { throw root.error("missing 'claims'") }
        var out: [Claim] = []
        for c in try list.sequence() {
            let f = try c.mapping(allowed: ["id", "paper", "source", "claim", "test"])
            func get(_ k: String) throws -> YAMLReader {
                guard let v = f.first(where: { $0.0 == k })?.1 else { throw c.error("missing '\(k)'") }
                return v
            }
            let test = try get("test")
            let t = try test.mapping(allowed: ["kind", "a", "b", "suites", "expected", "expected_high", "max"])
            func tget(_ k: String) -> YAMLReader? { t.first { $0.0 == k }?.1 }
            guard let kr = tget("kind") else { throw test.error("missing 'kind'") }
            let kname = try kr.string()
            guard let kind = Claim.Kind(rawValue: kname) else {
                throw kr.error("unknown test kind '\(kname)'; allowed: \(Claim.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let a = try tget("a")?.string() else { throw test.error("missing 'a'") }
            let b = try tget("b")?.string()
            if kind != .difficultyTrend && b == nil { throw test.error("kind '\(kname)' needs 'b'") }
            let maxV = try tget("max")?.double()
            if (kind == .flopsRatio || kind == .activeRatio) && maxV == nil { throw test.error("kind '\(kname)' needs 'max'") }
            out.append(Claim(id: try get("id").string(), paper: try get("paper").string(), source: try get("source").string(),
                             text: try get("claim").string(), kind: kind, a: a, b: b,
                             suites: try tget("suites")?.stringList() ?? [], expected: try tget("expected")?.double(),
                             expectedHigh: try tget("expected_high")?.double(), max: maxV))
        }
        return out
    }
}

/// The outcome of testing one claim on one suite.
public struct ClaimVerdict: Equatable, Sendable {
    public enum Verdict: String, Sendable { case reproduced, notReproduced = "not reproduced", inconclusive }
    public var claim: Claim
    public var suite: String
    public var measured: String
    public var test: String
    public var verdict: Verdict
}

public enum ClaimChecker {
    /// Tests `claim` on `suite` from result files only.
    ///
    /// - difference: Welch's t-test over seeds of the suite score; reproduced when the
    ///   difference is positive with p < 0.05; not reproduced when the 95% interval lies
    ///   wholly below the paper's figure (or below zero when the paper gives none);
    ///   inconclusive otherwise (including fewer than two seeds per side).
    /// - ratios: reproduced when the measured ratio is at most `max`, else not reproduced.
    /// - difficulty trend: reproduced when the mean chosen count rises from the easiest to
    ///   the hardest level by more than 1% (relative), not reproduced when it falls or stays.
    public static func check(_ claim: Claim, suite: String, results: [CellResult]) -> ClaimVerdict? {
        let rs = results.filter { $0.suite == suite }
        guard rs.contains(where: { $0.method == claim.a }) else { return nil }
        switch claim.kind {
        case .difference:
            guard let b = claim.b, rs.contains(where: { $0.method == b }) else { return nil }
            let sa = Array(Scores.suiteScores(rs, suite: suite, method: claim.a).values).map { $0 * 100 }
            let sb = Array(Scores.suiteScores(rs, suite: suite, method: b).values).map { $0 * 100 }
            guard !sa.isEmpty, !sb.isEmpty else { return nil }
            let diff = Stats.mean(sa) - Stats.mean(sb)
            guard let w = Stats.welch(sa, sb) else {
                return ClaimVerdict(claim: claim, suite: suite, measured: String(format: "%+.2f points (n = %d, %d)", diff, sa.count, sb.count),
                                    test: "Welch's t-test needs at least 2 seeds per method", verdict: .inconclusive)
            }
            let target = claim.expected ?? 0
            let verdict: ClaimVerdict.Verdict
            if w.difference > 0 && w.p < 0.05 { verdict = .reproduced }
            else if w.high < target { verdict = .notReproduced }
            else { verdict = .inconclusive }
            return ClaimVerdict(claim: claim, suite: suite,
                                measured: String(format: "%+.2f points, 95%% CI [%+.2f, %+.2f]", w.difference, w.low, w.high),
                                test: String(format: "Welch's t-test over seeds (n = %d, %d): t = %.2f, df = %.1f, p = %.3f", sa.count, sb.count, w.t, w.df, w.p),
                                verdict: verdict)
        case .flopsRatio, .activeRatio:
            guard let b = claim.b, let bound = claim.max else { return nil }
            let get = claim.kind == .flopsRatio ? Scores.forwardFlops : Scores.activeParams
            guard let va = get(rs, suite, claim.a), let vb = get(rs, suite, b), vb > 0 else { return nil }
            let r = va / vb
            return ClaimVerdict(claim: claim, suite: suite, measured: String(format: "ratio %.3f", r),
                                test: String(format: "measured ratio <= %.2f (deterministic count)", bound),
                                verdict: r <= bound ? .reproduced : .notReproduced)
        case .difficultyTrend:
            let ok = rs.filter { $0.method == claim.a && $0.isOK }
            let levels = Set(ok.flatMap { $0.byDifficulty.keys }).sorted()
            guard let lo = levels.first, let hi = levels.last, lo != hi else { return nil }
            let vlo = Stats.mean(ok.compactMap { $0.byDifficulty[lo]?.meanChosen })
            let vhi = Stats.mean(ok.compactMap { $0.byDifficulty[hi]?.meanChosen })
            guard vlo.isFinite, vhi.isFinite, vlo > 0 else { return nil }
            return ClaimVerdict(claim: claim, suite: suite,
                                measured: String(format: "%.3f at level %@ vs %.3f at level %@", vlo, lo, vhi, hi),
                                test: "mean chosen per token rises by more than 1% from the easiest to the hardest level",
                                verdict: vhi > vlo * 1.01 ? .reproduced : .notReproduced)
        }
    }
}
