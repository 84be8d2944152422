import Foundation

/// Pointwise functions `y = f(x)`, elementwise over any shape, each built on `unaryOp`
/// with its derivative beside it.
///
/// FLOPs (every function): one per element forward (a transcendental counts as one) and
/// two per element backward (`dx += dy · f'(x)`).
extension Tensor {
    /// `y = e^x`; `dy/dx = y`.
    public func exp() -> Tensor {
        unaryOp(self, { Foundation.exp($0) }, derivative: { _, y in y })
    }

    /// `y = ln x` (`ln 0 = −∞`, negative inputs give NaN); `dy/dx = 1/x`.
    public func log() -> Tensor {
        unaryOp(self, { Foundation.log($0) }, derivative: { x, _ in 1 / x })
    }

    /// `y = tanh x`; `dy/dx = 1 − y²`.
    public func tanh() -> Tensor {
        unaryOp(self, { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y })
    }

    /// GELU in the exact (erf) form used by BERT and PyTorch's default `gelu`:
    ///
    ///     y = x · Φ(x),   Φ(x) = ½·(1 + erf(x/√2))
    ///     dy/dx = Φ(x) + x·φ(x),   φ(x) = e^(−x²/2) / √(2π)
    ///
    /// `Φ` is evaluated as `½·erfc(−x/√2)` (`normalCDF`), which is the same function but
    /// keeps full relative precision in the negative tail where `1 + erf(·)` would cancel.
    /// The derivative takes `Φ` and `φ` from one exponential (`normalCDFAndGaussian`,
    /// absolute error below 3e-7). Both loops run 16 lanes at a time (`FastMath`'s SIMD16
    /// forms, bit-identical to the scalar ones used for the tail) and split across the
    /// engine's threads.
    public func gelu() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let px = data, po = out.data, n = count
        parallelRanges(n, grain: elementwiseGrain / 4) { lo, hi in
            var i = lo
            while i + 16 <= hi { let v = load16(px + i); store16(v * normalCDF(v), po + i); i += 16 }
            while i < hi { let v = px[i]; po[i] = v * normalCDF(v); i += 1 }
        }
        Flops.add(n)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, (gx, acc) = self.gradForWrite()
                parallelRanges(n, grain: elementwiseGrain / 4) { lo, hi in
                    var i = lo
                    if acc {
                        while i + 16 <= hi { store16(load16(gx + i) + load16(g + i) * geluDerivative(load16(px + i)), gx + i); i += 16 }
                        while i < hi { gx[i] += g[i] * geluDerivative(px[i]); i += 1 }
                    } else {
                        while i + 16 <= hi { store16(load16(g + i) * geluDerivative(load16(px + i)), gx + i); i += 16 }
                        while i < hi { gx[i] = g[i] * geluDerivative(px[i]); i += 1 }
                    }
                }
                Flops.add(2 * n)
            }
        }
        return out
    }

    /// `y = max(x, 0)`; `dy/dx = 1` for `x > 0`, else 0 (0 at the kink, as PyTorch).
    public func relu() -> Tensor {
        unaryOp(self, { $0 > 0 ? $0 : 0 }, derivative: { x, _ in x > 0 ? 1 : 0 })
    }

    /// Logistic sigmoid `y = 1 / (1 + e^(−x))`, evaluated as `e^x / (1 + e^x)` for `x < 0` so
    /// that no exponential overflows; `dy/dx = y·(1 − y)`.
    public func sigmoid() -> Tensor {
        unaryOp(self, { stableSigmoid($0) }, derivative: { _, y in y * (1 - y) })
    }

    /// Softplus `y = ln(1 + e^x)`, evaluated stably as `max(x, 0) + log1p(e^(−|x|))`;
    /// `dy/dx = sigmoid(x)`.
    public func softplus() -> Tensor {
        unaryOp(self, { x in Swift.max(x, 0) + log1pf(Foundation.exp(-Swift.abs(x))) },
                derivative: { x, _ in stableSigmoid(x) })
    }

    /// `y = x²`; `dy/dx = 2x`.
    public func square() -> Tensor {
        unaryOp(self, { $0 * $0 }, derivative: { x, _ in 2 * x })
    }

    /// `y = √x` (negative inputs give NaN); `dy/dx = 1 / (2√x)` (`+∞` at 0).
    public func sqrt() -> Tensor {
        unaryOp(self, { $0.squareRoot() }, derivative: { _, y in 0.5 / y })
    }
}

/// `1 / (1 + e^(−x))` without overflow for either sign of `x`.
@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}
