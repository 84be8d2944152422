import Foundation
import Harness

/// A claim of a seed paper and how the suite tests it (`Suites/claims.yaml`).
public struct Claim: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `a − b` of the suite score, paired by seed, in points; paired t interval and
        /// bootstrap, Holm-corrected verdict (`ClaimChecker`).
        case difference
        /// Forward FLOPs per example of `a` over `b`, must be at most `max`.
        case flopsRatio = "flops_ratio"
        /// Active parameters per example of `a` over `b`, must be at most `max`.
        case activeRatio = "active_ratio"
        /// Experts (blocks) chosen per token for method `a` grow with the difficulty level,
        /// within task and seed and with the input length held fixed (`DifficultyTrend`).
        case difficultyTrend = "difficulty_trend"
        /// Total parameters of `a` over `b` within [`min`, `max`] (deterministic).
        case paramsRatio = "params_ratio"
        /// Experts (blocks) chosen per token for method `a`: the mean over `tasks_a` minus the
        /// mean over `tasks_b`, per seed (mean over layers and evaluation tokens), paired
        /// over seeds; the difficulty claim's margin.
        case expertsByTask = "experts_by_task"
        /// Experts chosen per token for method `a` differ across layers: per seed and layer
        /// the mean over the suite's tasks; a repeated-measures ANOVA over layers with seeds
        /// as blocks, and the per-seed range of the layer means against a margin.
        case expertsByLayer = "experts_by_layer"
        /// `a` is more robust than `b`: per seed, `b`'s drop from the clean examples to the
        /// shifted sets minus `a`'s (`Robustness`), in points, paired over seeds; reproduced
        /// when shown above 0, not reproduced when shown below the equivalence margin.
        case robustness
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
    /// Lower bound of a `params_ratio` claim.
    public var min: Double?
    /// The two task groups of an `experts_by_task` claim.
    public var tasksA: [String] = []
    public var tasksB: [String] = []

    public init(id: String, paper: String, source: String, text: String, kind: Kind, a: String, b: String?,
                suites: [String], expected: Double?, expectedHigh: Double?, max: Double?, min: Double? = nil,
                tasksA: [String] = [], tasksB: [String] = []) {
        self.min = min
        self.tasksA = tasksA
        self.tasksB = tasksB
        self.id = id
        self.paper = paper
        self.source = source
        self.text = text
        self.kind = kind
        self.a = a
        self.b = b
        self.suites = suites
        self.expected = expected
        self.expectedHigh = expectedHigh
        self.max = max
    }
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
            let t = try test.mapping(allowed: ["kind", "a", "b", "suites", "expected", "expected_high", "max", "min", "tasks_a", "tasks_b"])
            func tget(_ k: String) -> YAMLReader? { t.first { $0.0 == k }?.1 }
            guard let kr = tget("kind") else { throw test.error("missing 'kind'") }
            let kname = try kr.string()
            guard let kind = Claim.Kind(rawValue: kname) else {
                throw kr.error("unknown test kind '\(kname)'; allowed: \(Claim.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let a = try tget("a")?.string() else { throw test.error("missing 'a'") }
            let b = try tget("b")?.string()
            let needsB: Set<Claim.Kind> = [.difference, .flopsRatio, .activeRatio, .paramsRatio, .robustness]
            if needsB.contains(kind) && b == nil { throw test.error("kind '\(kname)' needs 'b'") }
            let maxV = try tget("max")?.double()
            let minV = try tget("min")?.double()
            if (kind == .flopsRatio || kind == .activeRatio || kind == .paramsRatio) && maxV == nil { throw test.error("kind '\(kname)' needs 'max'") }
            if kind == .paramsRatio && minV == nil { throw test.error("kind '\(kname)' needs 'min'") }
            let tasksA = try tget("tasks_a")?.stringList() ?? [], tasksB = try tget("tasks_b")?.stringList() ?? []
            if kind == .expertsByTask && (tasksA.isEmpty || tasksB.isEmpty) { throw test.error("kind '\(kname)' needs 'tasks_a' and 'tasks_b'") }
            out.append(Claim(id: try get("id").string(), paper: try get("paper").string(), source: try get("source").string(),
                             text: try get("claim").string(), kind: kind, a: a, b: b,
                             suites: try tget("suites")?.stringList() ?? [], expected: try tget("expected")?.double(),
                             expectedHigh: try tget("expected_high")?.double(), max: maxV, min: minV,
                             tasksA: tasksA, tasksB: tasksB))
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
    /// The verdict of this row's test on its own (no multiplicity correction); equal to
    /// `verdict` unless the Holm correction of the table changed it.
    public var unadjustedVerdict: Verdict
    /// Paired differences (difference claims) or per-seed slopes (difficulty claims).
    public var paired: Stats.Paired?
    /// The interval's references: "reproduced" needs the effect above `lower` (H0: effect
    /// <= lower rejected), "not reproduced" needs it below `upper` (H0: effect >= upper
    /// rejected). Nil for deterministic ratio claims.
    public var lower: Double?
    public var upper: Double?
    /// One-sided p-values of the two tests, raw and Holm-adjusted across the table.
    public var pAbove: Double?
    public var pBelow: Double?
    public var pAboveHolm: Double?
    public var pBelowHolm: Double?
    /// Seeds a 95% half-width of 1.2 would need, and seeds a half-width of
    /// `(upper − lower) / 2` would need (that width makes the row conclusive whatever the
    /// effect, before the Holm correction), from the observed SD.
    public var seedsFor12: Int?
    public var seedsConclusive: Int?
    /// Seeds present for only one side, by method.
    public var unmatched: [String: [Int]] = [:]
    /// Difficulty claims: the pooled estimate.
    public var difficulty: DifficultyTrend.Pooled?

    public init(claim: Claim, suite: String, measured: String, test: String, verdict: Verdict) {
        self.claim = claim
        self.suite = suite
        self.measured = measured
        self.test = test
        self.verdict = verdict
        self.unadjustedVerdict = verdict
    }

    /// Whether the row carries a statistical test (and so belongs to the Holm family).
    public var isTested: Bool { pAbove != nil && pBelow != nil }
}

public enum ClaimChecker {
    /// Equivalence margin of "better (> 0)" claims, in points of the suite score: a row is
    /// "not reproduced" when the 95% interval lies wholly below it.
    public static let margin = 0.5
    /// Margin of the difficulty claim, in experts per token per difficulty level.
    public static let difficultyMargin = 0.02
    /// One-sided level of each test (two one-sided tests at 0.025 = a two-sided 95% interval);
    /// the Holm correction holds this familywise level in each direction.
    public static let alpha = 0.025
    /// The power target of issue 16: the 95% half-width of each DLR and "> 0" row.
    public static let targetHalfWidth = 1.2

    /// Tests every claim on every suite with results, in table order, and applies the Holm
    /// correction across the table: the family is every row with a statistical test
    /// (difference and difficulty rows; ratio rows are deterministic counts), taken twice,
    /// once for the "above" p-values (reproduced) and once for the "below" p-values (not
    /// reproduced), each at familywise level `alpha` = 0.025.
    public static func checkAll(_ claims: [Claim], results: [CellResult]) -> [ClaimVerdict] {
        var rows: [ClaimVerdict] = []
        for c in claims { for suite in c.suites { if let v = check(c, suite: suite, results: results) { rows.append(v) } } }
        let tested = rows.indices.filter { rows[$0].isTested }
        let above = Stats.holm(tested.map { rows[$0].pAbove! }, alpha: alpha)
        let below = Stats.holm(tested.map { rows[$0].pBelow! }, alpha: alpha)
        for (k, i) in tested.enumerated() {
            rows[i].pAboveHolm = above.adjusted[k]
            rows[i].pBelowHolm = below.adjusted[k]
            rows[i].verdict = decide(rejectAbove: above.rejected[k], rejectBelow: below.rejected[k])
        }
        return rows
    }

    /// The verdict from the two one-sided tests: "not reproduced" when the effect is shown
    /// below `upper` (for a claim with a figure, a positive effect shown smaller than the
    /// figure is not reproduced too), else "reproduced" when shown above `lower`, else
    /// "inconclusive".
    public static func decide(rejectAbove: Bool, rejectBelow: Bool) -> ClaimVerdict.Verdict {
        if rejectBelow { return .notReproduced }
        if rejectAbove { return .reproduced }
        return .inconclusive
    }

    /// Tests `claim` on `suite` from result files only, as a table of one row (no Holm).
    ///
    /// - difference: suite scores (`Scores.suiteScores`, points) paired by seed over the
    ///   seeds present for both methods; `lower` = 0; `upper` = the paper's (lower) figure,
    ///   or `margin` for "> 0" claims. Reproduced when the paired t-test rejects
    ///   "effect <= 0", not reproduced when it rejects "effect >= upper" (the 95% t interval
    ///   lies wholly above 0, or wholly below `upper`).
    /// - ratios: reproduced when the measured ratio is at most `max`, else not reproduced.
    /// - difficulty trend: `DifficultyTrend.pooled`; the same two tests with `lower` = 0 and
    ///   `upper` = `difficultyMargin`.
    public static func check(_ claim: Claim, suite: String, results: [CellResult]) -> ClaimVerdict? {
        let rs = results.filter { $0.suite == suite }
        guard rs.contains(where: { $0.method == claim.a }) else { return nil }
        switch claim.kind {
        case .difference:
            guard let b = claim.b, rs.contains(where: { $0.method == b }) else { return nil }
            let sa = Scores.suiteScores(rs, suite: suite, method: claim.a).mapValues { $0 * 100 }
            let sb = Scores.suiteScores(rs, suite: suite, method: b).mapValues { $0 * 100 }
            guard !sa.isEmpty, !sb.isEmpty else { return nil }
            let upper = claim.expected ?? margin
            var unmatched: [String: [Int]] = [:]
            let onlyA = Set(sa.keys).subtracting(sb.keys).sorted(), onlyB = Set(sb.keys).subtracting(sa.keys).sorted()
            if !onlyA.isEmpty { unmatched[claim.a] = onlyA }
            if !onlyB.isEmpty { unmatched[b] = onlyB }
            guard let p = Stats.paired(sa, sb) else {
                var v = ClaimVerdict(claim: claim, suite: suite,
                                     measured: "\(Set(sa.keys).intersection(sb.keys).count) seed(s) common to both methods",
                                     test: "the paired t-test needs at least 2 seeds present for both methods", verdict: .inconclusive)
                v.unmatched = unmatched
                v.lower = 0; v.upper = upper
                return v
            }
            var v = tested(claim, suite: suite, p: p, lower: 0, upper: upper, unit: "points")
            v.unmatched = unmatched
            v.seedsFor12 = Stats.seedsNeeded(sd: p.sd, halfWidth: targetHalfWidth)
            v.measured = String(format: "%+.2f points (n = %d paired seeds; per seed: %@)", p.mean, p.n,
                                zip(p.seeds, p.differences).map { String(format: "s%d %+.2f", $0, $1) }.joined(separator: ", "))
            v.test = String(format: "paired t over seeds: t = %.2f, df = %d", p.se > 0 ? p.mean / p.se : .nan, p.n - 1)
            return v
        case .expertsByTask:
            return checkByTask(claim, suite: suite, rs: rs)
        case .robustness:
            guard let b = claim.b else { return nil }
            let da = Robustness.dropsBySeed(rs, suite: suite, method: claim.a)
            let db = Robustness.dropsBySeed(rs, suite: suite, method: b)
            guard !da.isEmpty, !db.isEmpty else { return nil }
            // Positive: a falls less than b.
            guard let p = Stats.paired(db, da) else {
                return ClaimVerdict(claim: claim, suite: suite,
                                    measured: "\(Set(da.keys).intersection(db.keys).count) seed(s) common to both methods",
                                    test: "the paired t-test needs at least 2 seeds present for both methods", verdict: .inconclusive)
            }
            var v = tested(claim, suite: suite, p: p, lower: 0, upper: margin, unit: "points")
            v.seedsFor12 = Stats.seedsNeeded(sd: p.sd, halfWidth: targetHalfWidth)
            let seeds = p.seeds
            let ma = Stats.mean(seeds.map { da[$0]! }), mb = Stats.mean(seeds.map { db[$0]! })
            let metrics = Set(rs.filter { $0.method == claim.a }.compactMap { Robustness.drop($0)?.metric }).sorted().joined(separator: ", ")
            v.measured = String(format: "%+.2f points (drop %@ %.2f, %@ %.2f on %@; n = %d paired seeds)", p.mean, b, mb, claim.a, ma, metrics, p.n)
            v.test = String(format: "paired t over seeds of %@'s drop minus %@'s: t = %.2f, df = %d", b, claim.a,
                            p.se > 0 ? p.mean / p.se : .nan, p.n - 1)
            return v
        case .expertsByLayer:
            return checkByLayer(claim, suite: suite, rs: rs)
        case .paramsRatio:
            guard let b = claim.b, let lo = claim.min, let hi = claim.max,
                  let va = Scores.totalParams(rs, suite: suite, method: claim.a), let vb = Scores.totalParams(rs, suite: suite, method: b), vb > 0 else { return nil }
            let r = va / vb
            return ClaimVerdict(claim: claim, suite: suite,
                                measured: String(format: "ratio %.4f (%@ %.0f / %@ %.0f parameters)", r, claim.a, va, b, vb),
                                test: String(format: "measured ratio in [%.2f, %.2f] (deterministic count)", lo, hi),
                                verdict: r >= lo && r <= hi ? .reproduced : .notReproduced)
        case .flopsRatio, .activeRatio:
            guard let b = claim.b, let bound = claim.max else { return nil }
            let get = claim.kind == .flopsRatio ? Scores.forwardFlops : Scores.activeParams
            guard let va = get(rs, suite, claim.a), let vb = get(rs, suite, b), vb > 0 else { return nil }
            let r = va / vb
            let what = claim.kind == .flopsRatio
                ? String(format: "%@ %.4g / %@ %.4g GFLOPs per example", claim.a, va / 1e9, b, vb / 1e9)
                : String(format: "%@ %.4g / %@ %.4g active parameters", claim.a, va, b, vb)
            return ClaimVerdict(claim: claim, suite: suite, measured: String(format: "ratio %.3f (%@)", r, what),
                                test: String(format: "measured ratio <= %.2f (deterministic count)", bound),
                                verdict: r <= bound ? .reproduced : .notReproduced)
        case .difficultyTrend:
            guard let pooled = DifficultyTrend.pooled(rs, suite: suite, method: claim.a) else {
                let old = rs.contains { $0.method == claim.a && $0.isOK && !$0.byDifficulty.isEmpty }
                guard old else { return nil }
                if rs.allSatisfy({ $0.config.pretrained != nil }) {
                    return ClaimVerdict(claim: claim, suite: suite,
                                        measured: "no level × length record: the pretrained tier's trainer records routing by level only",
                                        test: "needs `routingByLevelLength` (recorded by the from-scratch tiers)", verdict: .inconclusive)
                }
                return ClaimVerdict(claim: claim, suite: suite,
                                    measured: "no level × length record in these results (made before it was recorded)",
                                    test: "needs `routingByLevelLength`: rerun the cells of `\(claim.a)`", verdict: .inconclusive)
            }
            guard let p = pooled.summary else {
                var v = ClaimVerdict(claim: claim, suite: suite,
                                     measured: String(format: "%+.4f experts per level (%d seed)", pooled.perSeed.first ?? .nan, pooled.seeds.count),
                                     test: "the t interval over seeds needs at least 2 seeds", verdict: .inconclusive)
                v.difficulty = pooled
                return v
            }
            var v = tested(claim, suite: suite, p: p, lower: 0, upper: difficultyMargin, unit: "experts per level")
            v.difficulty = pooled
            v.measured = String(format: "%+.4f experts per token per level within length bins (unbinned %+.4f); n = %d seeds × %d task(s)",
                                p.mean, Stats.mean(pooled.naivePerSeed), p.n, pooled.tasks.count)
            v.test = String(format: "t over seeds of the per-seed mean over tasks of the within-task, length-binned slope: t = %.2f, df = %d",
                            p.se > 0 ? p.mean / p.se : .nan, p.n - 1)
            return v
        }
    }

    /// Mean experts chosen per token of each layer of a result (nil for a result without
    /// routed layers).
    static func layerChosen(_ r: CellResult) -> [Double]? {
        let l = r.routing.map(\.meanChosen)
        return l.isEmpty || !l.allSatisfy(\.isFinite) ? nil : l
    }

    static func checkByTask(_ claim: Claim, suite: String, rs: [CellResult]) -> ClaimVerdict? {
        let mine = rs.filter { $0.method == claim.a && $0.isOK }
        guard mine.contains(where: { claim.tasksA.contains($0.task) || claim.tasksB.contains($0.task) }) else { return nil }
        // Per seed: the mean over each group's tasks of the result's mean over layers; a seed
        // counts when it has every task of both groups.
        var perSeed: [Int: Double] = [:]
        var groupMeans: [Int: (Double, Double)] = [:]
        for seed in Set(mine.map(\.seed)).sorted() {
            func group(_ tasks: [String]) -> Double? {
                let v = tasks.compactMap { t in mine.first { $0.seed == seed && $0.task == t }.flatMap(\.meanChosen) }
                return v.count == tasks.count ? Stats.mean(v) : nil
            }
            guard let a = group(claim.tasksA), let b = group(claim.tasksB) else { continue }
            perSeed[seed] = a - b
            groupMeans[seed] = (a, b)
        }
        let seeds = perSeed.keys.sorted()
        let names = { (ts: [String]) in ts.map { TaskCatalog.info($0)?.title ?? $0 }.joined(separator: ", ") }
        guard let p = Stats.paired(differences: seeds.map { perSeed[$0]! }, seeds: seeds) else {
            return ClaimVerdict(claim: claim, suite: suite, measured: "\(seeds.count) seed(s) with every task of both groups",
                                test: "the t interval over seeds needs at least 2 seeds", verdict: .inconclusive)
        }
        var v = tested(claim, suite: suite, p: p, lower: 0, upper: difficultyMargin, unit: "experts per token")
        let ga = Stats.mean(seeds.map { groupMeans[$0]!.0 }), gb = Stats.mean(seeds.map { groupMeans[$0]!.1 })
        v.measured = String(format: "%+.4f experts per token (%@: %.4f; %@: %.4f); n = %d seeds", p.mean,
                            names(claim.tasksA), ga, names(claim.tasksB), gb, p.n)
        v.test = String(format: "t over seeds of the per-seed difference of the group means: t = %.2f, df = %d",
                        p.se > 0 ? p.mean / p.se : .nan, p.n - 1)
        return v
    }

    /// The repeated-measures one-way ANOVA of `y[seed][layer]` with seeds as blocks: F and
    /// its degrees of freedom, and the upper-tail p-value. Nil with fewer than 2 seeds or 2
    /// layers, or no residual variance.
    public static func layerANOVA(_ y: [[Double]]) -> (f: Double, df1: Int, df2: Int, p: Double)? {
        let n = y.count
        guard n >= 2, let l = y.first?.count, l >= 2, y.allSatisfy({ $0.count == l }) else { return nil }
        let grand = y.flatMap { $0 }.reduce(0, +) / Double(n * l)
        let layerMeans = (0..<l).map { j in y.map { $0[j] }.reduce(0, +) / Double(n) }
        let seedMeans = y.map { $0.reduce(0, +) / Double(l) }
        var ssLayer = 0.0, ssError = 0.0
        for j in 0..<l { ssLayer += Double(n) * (layerMeans[j] - grand) * (layerMeans[j] - grand) }
        for i in 0..<n { for j in 0..<l {
            let r = y[i][j] - layerMeans[j] - seedMeans[i] + grand
            ssError += r * r
        } }
        let df1 = l - 1, df2 = (l - 1) * (n - 1)
        guard ssError > 0 else { return nil }
        let f = (ssLayer / Double(df1)) / (ssError / Double(df2))
        // P(F > f) = I_{df2 / (df2 + df1 f)}(df2 / 2, df1 / 2).
        let p = Stats.incompleteBeta(Double(df2) / (Double(df2) + Double(df1) * f), Double(df2) / 2, Double(df1) / 2)
        return (f, df1, df2, p)
    }

    static func checkByLayer(_ claim: Claim, suite: String, rs: [CellResult]) -> ClaimVerdict? {
        let mine = rs.filter { $0.method == claim.a && $0.isOK && layerChosen($0) != nil }
        guard !mine.isEmpty else { return nil }
        let tasks = Set(mine.map(\.task)).sorted()
        var y: [[Double]] = [], seeds: [Int] = []
        for seed in Set(mine.map(\.seed)).sorted() {
            let per = tasks.compactMap { t in mine.first { $0.seed == seed && $0.task == t }.flatMap(layerChosen) }
            guard per.count == tasks.count, let l = per.first?.count, per.allSatisfy({ $0.count == l }) else { continue }
            y.append((0..<l).map { j in Stats.mean(per.map { $0[j] }) })
            seeds.append(seed)
        }
        guard let anova = layerANOVA(y), let p = Stats.paired(differences: y.map { ($0.max()! - $0.min()!) }, seeds: seeds) else {
            return ClaimVerdict(claim: claim, suite: suite, measured: "\(y.count) seed(s) with every task",
                                test: "the repeated-measures ANOVA needs at least 2 seeds and 2 layers", verdict: .inconclusive)
        }
        var v = tested(claim, suite: suite, p: p, lower: 0, upper: difficultyMargin, unit: "experts per token")
        // Reproduced: the ANOVA rejects "every layer has the same mean". Not reproduced: the
        // per-seed range of the layer means (max − min, which overstates the true range)
        // is shown below the margin.
        v.pAbove = anova.p
        v.pAboveHolm = anova.p
        v.unadjustedVerdict = decide(rejectAbove: anova.p < alpha, rejectBelow: v.pBelow! < alpha)
        v.verdict = v.unadjustedVerdict
        let layerMeans = (0..<y[0].count).map { j in Stats.mean(y.map { $0[j] }) }
        v.measured = String(format: "layer means %@ experts per token (mean over %d task(s)); range %.4f; n = %d seeds",
                            layerMeans.map { String(format: "%.3f", $0) }.joined(separator: ", "), tasks.count, p.mean, p.n)
        v.test = String(format: "repeated-measures ANOVA over layers, seeds as blocks: F = %.2f, df = (%d, %d); the interval is of the per-seed range",
                        anova.f, anova.df1, anova.df2)
        return v
    }

    static func tested(_ claim: Claim, suite: String, p: Stats.Paired, lower: Double, upper: Double, unit: String) -> ClaimVerdict {
        let pa = p.pAbove(lower), pb = p.pBelow(upper)
        let verdict = decide(rejectAbove: pa < alpha, rejectBelow: pb < alpha)
        var v = ClaimVerdict(claim: claim, suite: suite, measured: "", test: "", verdict: verdict)
        v.paired = p
        v.lower = lower; v.upper = upper
        v.pAbove = pa; v.pBelow = pb
        v.pAboveHolm = pa; v.pBelowHolm = pb
        v.seedsConclusive = Stats.seedsNeeded(sd: p.sd, halfWidth: (upper - lower) / 2)
        return v
    }
}
