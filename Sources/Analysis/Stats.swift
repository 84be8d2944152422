import Foundation
import Harness
import Tensor

/// Summary statistics over seeds and the tests the claims use.
public enum Stats {
    public static func mean(_ x: [Double]) -> Double {
        x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count)
    }

    /// Sample standard deviation (n − 1); 0 for a single value.
    public static func std(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
    }

    /// Natural log of the gamma function (libm).
    static func lgamma(_ x: Double) -> Double { Foundation.lgamma(x) }

    /// Regularised incomplete beta `I_x(a, b)` by Lentz's continued fraction
    /// (Numerical Recipes `betai`/`betacf`), accurate to ~1e-12.
    public static func incompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2) { return front * betacf(x, a, b) / a }
        return 1 - front * betacf(1 - x, b, a) / b
    }

    static func betacf(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m2 = Double(2 * m), md = Double(m)
            var aa = md * (b - md) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + md) * (a + b + md) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 1e-14 { break }
        }
        return h
    }

    /// Two-sided p-value of Student's t with `df` degrees of freedom.
    public static func tTwoSidedP(_ t: Double, df: Double) -> Double {
        guard t.isFinite, df > 0 else { return t.isNaN ? .nan : 0 }
        return incompleteBeta(df / (df + t * t), df / 2, 0.5)
    }

    /// Quantile of Student's t (`P(T <= q) = p`), by bisection on the CDF.
    public static func tQuantile(_ p: Double, df: Double) -> Double {
        var lo = -1000.0, hi = 1000.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            let tail = 0.5 * tTwoSidedP(abs(mid), df: df)
            let cdf = mid >= 0 ? 1 - tail : tail
            if cdf < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    public struct Welch: Equatable {
        public var difference: Double   // mean(a) − mean(b)
        public var t: Double
        public var df: Double
        public var p: Double
        /// 95% confidence interval of the difference.
        public var low: Double
        public var high: Double
    }

    /// Welch's unequal-variance t-test of `mean(a) − mean(b)`; nil with fewer than two
    /// values on a side.
    public static func welch(_ a: [Double], _ b: [Double]) -> Welch? {
        guard a.count >= 2, b.count >= 2 else { return nil }
        let va = pow(std(a), 2) / Double(a.count), vb = pow(std(b), 2) / Double(b.count)
        let diff = mean(a) - mean(b)
        let se = (va + vb).squareRoot()
        if se == 0 {
            return Welch(difference: diff, t: diff == 0 ? 0 : .infinity * diff.sign.asDouble, df: Double(a.count + b.count - 2),
                         p: diff == 0 ? 1 : 0, low: diff, high: diff)
        }
        let df = pow(va + vb, 2) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
        let t = diff / se
        let q = tQuantile(0.975, df: df)
        return Welch(difference: diff, t: t, df: df, p: tTwoSidedP(t, df: df), low: diff - q * se, high: diff + q * se)
    }

    /// 95% confidence interval of a mean over seeds (t-based; the value itself for one seed).
    public static func meanInterval(_ x: [Double]) -> (low: Double, high: Double) {
        let m = mean(x)
        guard x.count >= 2 else { return (m, m) }
        let h = tQuantile(0.975, df: Double(x.count - 1)) * std(x) / Double(x.count).squareRoot()
        return (m - h, m + h)
    }
}

extension FloatingPointSign {
    var asDouble: Double { self == .minus ? -1 : 1 }
}

// MARK: Paired differences, bootstrap, Holm, power

extension Stats {
    /// Resamples of the percentile bootstrap used by the claims.
    public static let bootstrapResamples = 10_000
    /// Seed of the bootstrap's generator (`RNG`, xoshiro256** through SplitMix64).
    public static let bootstrapSeed: UInt64 = 20_251_216

    /// One-sided p-value `P(T >= t)` of Student's t with `df` degrees of freedom.
    public static func tUpperP(_ t: Double, df: Double) -> Double {
        if t.isNaN { return .nan }
        if t == .infinity { return 0 }
        if t == -.infinity { return 1 }
        let half = 0.5 * tTwoSidedP(abs(t), df: df)
        return t >= 0 ? half : 1 - half
    }

    /// Quantile of sorted values by linear interpolation between order statistics
    /// (Hyndman & Fan type 7, NumPy's default `percentile`).
    public static func quantile(sorted x: [Double], _ p: Double) -> Double {
        guard !x.isEmpty else { return .nan }
        let h = Double(x.count - 1) * p
        let lo = Int(h.rounded(.down)), hi = Swift.min(lo + 1, x.count - 1)
        return x[lo] + (h - Double(lo)) * (x[hi] - x[lo])
    }

    /// Percentile bootstrap interval of the mean of `x`: `resamples` resamples of `x.count`
    /// values drawn with replacement (`index = rng.next() % n`, `rng = RNG(seed: seed)`),
    /// their means sorted, and the type-7 quantiles at `(1 ± level) / 2`.
    public static func bootstrapMeanInterval(_ x: [Double], resamples: Int = bootstrapResamples,
                                             seed: UInt64 = bootstrapSeed, level: Double = 0.95) -> (low: Double, high: Double) {
        guard !x.isEmpty, resamples > 0 else { return (.nan, .nan) }
        var rng = RNG(seed: seed)
        let n = x.count
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var s = 0.0
            for _ in 0..<n { s += x[Int(rng.next() % UInt64(n))] }
            means[r] = s / Double(n)
        }
        means.sort()
        return (quantile(sorted: means, (1 - level) / 2), quantile(sorted: means, (1 + level) / 2))
    }

    /// The paired differences of one comparison and their intervals.
    public struct Paired: Equatable, Sendable {
        /// Seeds present for both sides, ascending, and their differences `a − b`.
        public var seeds: [Int]
        public var differences: [Double]
        public var n: Int { differences.count }
        public var mean: Double
        /// Sample SD of the differences (n − 1).
        public var sd: Double
        public var df: Double { Double(n - 1) }
        /// Standard error of the mean difference.
        public var se: Double
        /// 95% t interval of the mean difference.
        public var low: Double
        public var high: Double
        public var halfWidth: Double { (high - low) / 2 }
        /// 95% percentile-bootstrap interval of the mean difference.
        public var bootLow: Double
        public var bootHigh: Double
        public var resamples: Int

        /// One-sided p-value of the paired t-test of `H0: mean <= value` (small when the
        /// mean is above `value`).
        public func pAbove(_ value: Double) -> Double { oneSided(mean - value, upper: true) }
        /// One-sided p-value of `H0: mean >= value` (small when the mean is below `value`).
        public func pBelow(_ value: Double) -> Double { oneSided(mean - value, upper: false) }

        func oneSided(_ delta: Double, upper: Bool) -> Double {
            if se == 0 { return (upper ? delta > 0 : delta < 0) ? 0 : 1 }
            let t = delta / se
            return upper ? Stats.tUpperP(t, df: df) : Stats.tUpperP(-t, df: df)
        }
    }

    /// Paired analysis of `a − b` over the seeds present on both sides; nil with fewer than
    /// two common seeds.
    public static func paired(_ a: [Int: Double], _ b: [Int: Double], resamples: Int = bootstrapResamples,
                              seed: UInt64 = bootstrapSeed) -> Paired? {
        let seeds = Set(a.keys).intersection(b.keys).sorted()
        guard seeds.count >= 2 else { return nil }
        return paired(differences: seeds.map { a[$0]! - b[$0]! }, seeds: seeds, resamples: resamples, seed: seed)
    }

    /// Paired analysis of given differences (one per seed).
    public static func paired(differences d: [Double], seeds: [Int]? = nil, resamples: Int = bootstrapResamples,
                              seed: UInt64 = bootstrapSeed) -> Paired? {
        guard d.count >= 2 else { return nil }
        let m = mean(d), s = std(d), se = s / Double(d.count).squareRoot()
        let q = tQuantile(0.975, df: Double(d.count - 1))
        let boot = bootstrapMeanInterval(d, resamples: resamples, seed: seed)
        return Paired(seeds: seeds ?? Array(1...d.count), differences: d, mean: m, sd: s, se: se,
                      low: m - q * se, high: m + q * se, bootLow: boot.low, bootHigh: boot.high, resamples: resamples)
    }

    /// The fewest seeds whose 95% paired t interval has half-width at most `halfWidth`,
    /// for differences of standard deviation `sd` (`t_{0.975, n−1} · sd / √n`); nil when
    /// more than `limit` would be needed, 2 when `sd` is 0.
    public static func seedsNeeded(sd: Double, halfWidth: Double, limit: Int = 10_000) -> Int? {
        guard sd.isFinite, halfWidth > 0 else { return nil }
        if sd == 0 { return 2 }
        // t_{0.975, n−1} > 1.96, so no n below (1.96 · sd / halfWidth)² can do.
        var n = Swift.max(2, Int(pow(1.959963984540054 * sd / halfWidth, 2).rounded(.down)))
        while n <= limit {
            if tQuantile(0.975, df: Double(n - 1)) * sd / Double(n).squareRoot() <= halfWidth { return n }
            n += 1
        }
        return nil
    }

    /// Holm's step-down procedure at familywise level `alpha`: which hypotheses are rejected,
    /// and the Holm-adjusted p-values (`max_{j<=i} min(1, (m − j + 1) p_(j))` in ascending
    /// order of p). NaN p-values are never rejected and count in `m`.
    public static func holm(_ p: [Double], alpha: Double) -> (rejected: [Bool], adjusted: [Double]) {
        let m = p.count
        let order = p.indices.sorted { (p[$0].isNaN ? 2 : p[$0], $0) < (p[$1].isNaN ? 2 : p[$1], $1) }
        var adjusted = [Double](repeating: 1, count: m)
        var rejected = [Bool](repeating: false, count: m)
        var running = 0.0
        var stillRejecting = true
        for (rank, i) in order.enumerated() {
            let pi = p[i].isNaN ? 1 : p[i]
            running = Swift.max(running, Swift.min(1, Double(m - rank) * pi))
            adjusted[i] = running
            if stillRejecting && pi <= alpha / Double(m - rank) && !p[i].isNaN { rejected[i] = true } else { stillRejecting = false }
        }
        return (rejected, adjusted)
    }
}

extension Dictionary where Key: Comparable {
    /// The values in ascending key order. Sums and means over a dictionary's values take
    /// them in this order, so a report renders the same digits in every process (a
    /// `Dictionary`'s own order differs from one process to the next, and floating-point
    /// addition depends on the order).
    public var valuesInKeyOrder: [Value] { sorted { $0.key < $1.key }.map(\.value) }
}
