/// Branch-free float32 approximations of `exp` and the standard normal CDF, for
/// kernels whose loops must vectorise (libm's scalar calls do not).

/// `exp(x)` in float32 (Cephes `expf`: `x = n·ln2 + r`, a degree-6 polynomial in `r`, then
/// `2^n` through the exponent bits), for `x <= 0`; relative error about `2e-7`. Arguments
/// below `-87` give `exp(-87)`. Branch-free.
@inlinable @inline(__always) public func expNonPositive(_ a: Float) -> Float {
    let x0 = max(min(a, 0), -87)
    // Round to nearest by the 1.5·2^23 trick (no libm call, so loops vectorise).
    let n = (x0 * 1.44269504088896341 + 12582912) - 12582912
    var x = x0 - n * 0.693359375
    x = x + n * 2.12194440e-4
    let z = x * x
    var y: Float = 1.9875691500e-4
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    return y * Float(bitPattern: UInt32(truncatingIfNeeded: Int32(n) + 127) << 23)
}

/// `Φ(x) = ½·erfc(−x/√2)`, the standard normal CDF, branch-free. `erfc(a)` for `a >= 0` is
/// the Chebyshev fit `t·exp(−a² − 1.26551223 + t·P(t))`, `t = 1/(1 + a/2)` (Numerical
/// Recipes' `erfcc`, fractional error below `1.2e-7`), so the negative tail keeps its
/// relative precision (no cancellation in `1 + erf`). Largest relative error against
/// float64 about `2e-6` (from rounding `a²` in float32 for large `|x|`).
@inlinable @inline(__always) public func normalCDF(_ x: Float) -> Float {
    let a = abs(x) * 0.707_106_781_186_547_52
    let t = 1 / (1 + 0.5 * a)
    var p: Float = 0.17087277
    p = p * t - 0.82215223
    p = p * t + 1.48851587
    p = p * t - 1.13520398
    p = p * t + 0.27886807
    p = p * t - 0.18628806
    p = p * t + 0.09678418
    p = p * t + 0.37409196
    p = p * t + 1.00002368
    let half = 0.5 * t * expNonPositive(-a * a - 1.26551223 + t * p)   // ½·erfc(a)
    return x >= 0 ? 1 - half : half
}

/// `Φ(x)` and `e^(−x²/2)` from one exponential, branch-free: `erfc(a)`, `a = |x|/√2`, is
/// Abramowitz & Stegun 7.1.26, `t·P(t)·e^(−a²)` with `t = 1/(1 + 0.3275911·a)` (absolute
/// error below `1.5e-7`), and `e^(−a²) = e^(−x²/2)` is the Gaussian that `φ(x)` needs too.
/// For GELU and its derivative in one pass (`x·Φ(x)` and `Φ(x) + x·φ(x)`): about 20% faster
/// than a rational `erf` plus a separate exponential. Plain multiplies and adds (no fused
/// multiply-add), so every build computes the same bits.
@inlinable @inline(__always) public func normalCDFAndGaussian(_ x: Float) -> (cdf: Float, gauss: Float) {
    let a = abs(x) * 0.707_106_781_186_547_52
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let g = expNonPositive(-a * a)
    let half = 0.5 * t * p * g   // ½·erfc(a)
    return (x >= 0 ? 1 - half : half, g)
}

/// `gelu'(x) = Φ(x) + x·φ(x)` from one exponential (`normalCDFAndGaussian`).
@inlinable @inline(__always) public func geluDerivative(_ x: Float) -> Float {
    let (cdf, gauss) = normalCDFAndGaussian(x)
    return cdf + x * 0.398_942_280_401_432_7 * gauss
}

// Sixteen lanes at a time: the same operations in the same order as the scalar functions
// above (so the same bits), on `SIMD16<Float>`, so that each loop iteration carries two
// independent 8-lane dependency chains. The polynomials and the division are
// latency-bound, and with one chain per iteration the FP units sit idle. (The standard
// library's generic `clamped` and float-to-integer conversions are not lowered to vector
// instructions, hence the selects and the bit trick below. `@_transparent` because the
// optimiser leaves `@inline(__always)` SIMD16 functions out of line in this module, and a
// call per 16 lanes passes every vector through memory.)

/// 16 consecutive floats from `p` (any alignment).
@inlinable @inline(__always) public func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// Stores 16 consecutive floats at `p` (any alignment).
@inlinable @inline(__always) public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// `|x|` lane by lane (clears the sign bit, as the scalar `abs`).
@inlinable @inline(__always) func magnitude16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: SIMD16<Float>.self)
}

/// `expNonPositive` on 16 lanes (bit-identical).
@_transparent public func expNonPositive(_ a: SIMD16<Float>) -> SIMD16<Float> {
    // max(min(a, 0), -87) as the scalar version picks it.
    let m = a.replacing(with: 0, where: a .> 0)
    let x0 = m.replacing(with: -87, where: m .< -87)
    let shifted = x0 * 1.44269504088896341 + 12582912
    let n = shifted - 12582912
    var x = x0 - n * 0.693359375
    x = x + n * 2.12194440e-4
    let z = x * x
    var y = SIMD16<Float>(repeating: 1.9875691500e-4)
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    // Int32(n) is in the low bits of n + 1.5·2^23 (exact: n is an integer in [-126, 0]).
    let bits = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return y * unsafeBitCast(bits, to: SIMD16<Float>.self)
}

/// `normalCDF` on 16 lanes (bit-identical).
@_transparent public func normalCDF(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let a = magnitude16(x) * 0.707_106_781_186_547_52
    let t = 1 / (1 + 0.5 * a)
    var p = SIMD16<Float>(repeating: 0.17087277)
    p = p * t - 0.82215223
    p = p * t + 1.48851587
    p = p * t - 1.13520398
    p = p * t + 0.27886807
    p = p * t - 0.18628806
    p = p * t + 0.09678418
    p = p * t + 0.37409196
    p = p * t + 1.00002368
    let half = 0.5 * t * expNonPositive(-a * a - 1.26551223 + t * p)
    return half.replacing(with: 1 - half, where: x .>= 0)
}

/// `normalCDFAndGaussian` on 16 lanes (bit-identical).
@_transparent public func normalCDFAndGaussian(_ x: SIMD16<Float>) -> (cdf: SIMD16<Float>, gauss: SIMD16<Float>) {
    let a = magnitude16(x) * 0.707_106_781_186_547_52
    let t = 1 / (1 + 0.3275911 * a)
    var p = SIMD16<Float>(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let g = expNonPositive(-a * a)
    let half = 0.5 * t * p * g
    return (half.replacing(with: 1 - half, where: x .>= 0), g)
}

/// `geluDerivative` on 16 lanes (bit-identical).
@_transparent public func geluDerivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let (cdf, gauss) = normalCDFAndGaussian(x)
    return cdf + x * 0.398_942_280_401_432_7 * gauss
}
