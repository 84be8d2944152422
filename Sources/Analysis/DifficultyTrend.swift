import Foundation
import Harness

/// The length-controlled difficulty estimate.
extension DifficultyTrend {
    /// One result's estimate.
    public struct Estimate: Equatable, Sendable {
        /// Experts per token added per difficulty level within length bins: the weighted
        /// least-squares slope of the group means on the level with one intercept per
        /// (set, length bin), weights = examples.
        public var slope: Double
        /// The same without length bins (one intercept per set): what the old test saw.
        public var naiveSlope: Double
        /// Mean input length added per level within the bins (what length difference is
        /// left between levels after binning), and without bins.
        public var lengthSlopeWithinBins: Double
        public var lengthSlope: Double
        public var examples: Int
    }

    /// Weighted within-stratum slope of `y` on `x`; nil when `x` never varies within a stratum.
    static func withinSlope(_ groups: [[(x: Double, y: Double, w: Double)]]) -> Double? {
        var sxy = 0.0, sxx = 0.0
        for g in groups {
            let w = g.map(\.w).reduce(0, +)
            guard w > 0 else { continue }
            let mx = g.map { $0.w * $0.x }.reduce(0, +) / w, my = g.map { $0.w * $0.y }.reduce(0, +) / w
            for c in g {
                sxy += c.w * (c.x - mx) * (c.y - my)
                sxx += c.w * (c.x - mx) * (c.x - mx)
            }
        }
        return sxx > 1e-12 ? sxy / sxx : nil
    }

    /// The estimate of one result's groups; nil when no length bin holds two levels.
    public static func estimate(_ cells: [LevelLengthRouting]) -> Estimate? {
        let ok = cells.filter { $0.examples > 0 && $0.meanChosen.isFinite }
        func strata(_ key: (LevelLengthRouting) -> String, _ y: (LevelLengthRouting) -> Double) -> [[(x: Double, y: Double, w: Double)]] {
            Dictionary(grouping: ok, by: key).sorted { $0.key < $1.key }.map { $0.value.map { (Double($0.level), y($0), Double($0.examples)) } }
        }
        let byBin: (LevelLengthRouting) -> String = { "\($0.set)#\($0.lengthBin)" }
        let bySet: (LevelLengthRouting) -> String = { $0.set }
        guard let slope = withinSlope(strata(byBin, \.meanChosen)),
              let naive = withinSlope(strata(bySet, \.meanChosen)) else { return nil }
        return Estimate(slope: slope, naiveSlope: naive,
                        lengthSlopeWithinBins: withinSlope(strata(byBin, \.meanLength)) ?? 0,
                        lengthSlope: withinSlope(strata(bySet, \.meanLength)) ?? 0,
                        examples: ok.map(\.examples).reduce(0, +))
    }

    /// The suite-level pooling: per seed, the mean over tasks of each result's estimate;
    /// then the paired machinery over seeds (a one-sample analysis of the per-seed means).
    public struct Pooled: Equatable, Sendable {
        public var tasks: [String]
        /// Per seed (ascending): mean over `tasks` of the length-controlled slope and of the
        /// naive slope.
        public var seeds: [Int]
        public var perSeed: [Double]
        public var naivePerSeed: [Double]
        public var lengthWithinBinsPerSeed: [Double]
        /// Input length added per level without bins (how much length tracks the level).
        public var lengthPerSeed: [Double]
        /// Per task: the mean over the counted seeds of the length-controlled and of the
        /// unbinned slope.
        public var taskSlope: [String: Double]
        public var taskNaiveSlope: [String: Double]
        /// Over seeds (nil with fewer than two).
        public var summary: Stats.Paired?
    }

    /// Pools the estimates of `method`'s successful results in `suite`. A seed counts when
    /// it has an estimate for every task that has one in any seed. Nil when no result of the
    /// method carries the level × length record.
    public static func pooled(_ results: [CellResult], suite: String, method: String) -> Pooled? {
        let rs = results.filter { $0.suite == suite && $0.method == method && $0.isOK }
        var est: [Int: [String: Estimate]] = [:]
        for r in rs {
            guard let cells = r.routingByLevelLength, let e = estimate(cells) else { continue }
            est[r.seed, default: [:]][r.task] = e
        }
        guard !est.isEmpty else { return nil }
        let tasks = Set(est.values.flatMap(\.keys)).sorted()
        let seeds = est.keys.sorted().filter { s in tasks.allSatisfy { est[s]![$0] != nil } }
        func per(_ f: (Estimate) -> Double) -> [Double] { seeds.map { s in Stats.mean(tasks.map { f(est[s]![$0]!) }) } }
        let slopes = per(\.slope)
        return Pooled(tasks: tasks, seeds: seeds, perSeed: slopes, naivePerSeed: per(\.naiveSlope),
                      lengthWithinBinsPerSeed: per(\.lengthSlopeWithinBins), lengthPerSeed: per(\.lengthSlope),
                      taskSlope: Dictionary(uniqueKeysWithValues: tasks.map { t in (t, Stats.mean(seeds.map { est[$0]![t]!.slope })) }),
                      taskNaiveSlope: Dictionary(uniqueKeysWithValues: tasks.map { t in (t, Stats.mean(seeds.map { est[$0]![t]!.naiveSlope })) }),
                      summary: Stats.paired(differences: slopes, seeds: seeds))
    }
}
