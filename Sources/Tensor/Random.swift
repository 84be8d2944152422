/// A seedable, splittable pseudo-random generator: xoshiro256** seeded through SplitMix64.
///
/// The same seed gives the same stream on every platform. `split(_:)` derives an
/// independent generator for a named sub-stream (initialisation, dropout, data order,
/// noise), so that adding draws to one stream never shifts another.
public struct RNG: RandomNumberGenerator, Sendable, Codable, Equatable {
    public private(set) var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        s0 = RNG.splitmix(&sm); s1 = RNG.splitmix(&sm)
        s2 = RNG.splitmix(&sm); s3 = RNG.splitmix(&sm)
    }

    /// Restores a generator from a saved state.
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = state
    }

    public var state: (UInt64, UInt64, UInt64, UInt64) { (s0, s1, s2, s3) }

    @inline(__always)
    static func splitmix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = RNG.rotl(s3, 45)
        return result
    }

    /// An independent generator for sub-stream `stream`, derived from this one's state
    /// without advancing it.
    public func split(_ stream: UInt64) -> RNG {
        var sm = s0 ^ RNG.rotl(s1, 13) ^ RNG.rotl(s2, 29) ^ RNG.rotl(s3, 47) ^ (stream &* 0xD1B5_4A32_D192_ED03)
        _ = RNG.splitmix(&sm)
        return RNG(seed: RNG.splitmix(&sm))
    }

    /// A sub-stream named by a string (stable across runs: FNV-1a of the UTF-8 bytes).
    public func split(_ name: String) -> RNG {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return split(h)
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [lo, hi).
    @inline(__always)
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Standard normal (Box–Muller, one value per call).
    public mutating func normal() -> Float {
        // u1 in (0, 1]: never log(0).
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    @inline(__always)
    public mutating func int(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// Fisher–Yates shuffle.
    public mutating func shuffle<T>(_ a: inout [T]) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = int(i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        shuffle(&a)
        return a
    }

    public static func == (a: RNG, b: RNG) -> Bool {
        a.s0 == b.s0 && a.s1 == b.s1 && a.s2 == b.s2 && a.s3 == b.s3
    }
}

import Foundation
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }

extension Tensor {
    /// Normal(mean, std) values.
    public static func randn(_ shape: [Int], std: Float = 1, mean: Float = 0,
                             rng: inout RNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = mean + std * rng.normal() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform(lo, hi) values.
    public static func uniform(_ shape: [Int], _ lo: Float, _ hi: Float,
                               rng: inout RNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = rng.uniform(lo, hi) }
        t.requiresGrad = requiresGrad
        return t
    }
}
