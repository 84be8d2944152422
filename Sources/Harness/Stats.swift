import Foundation

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
