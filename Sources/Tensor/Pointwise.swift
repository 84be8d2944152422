import Foundation

/// Pointwise functions. Each counts one FLOP per element forward and two backward
/// (see `unaryOp`).
extension Tensor {
    /// `e^x`.
    public func exp() -> Tensor { unaryOp(self, { Foundation.exp($0) }, derivative: { _, y in y }) }

    /// Natural logarithm (inputs must be positive; `log(0) = -inf`).
    public func log() -> Tensor { unaryOp(self, { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }

    /// Hyperbolic tangent; derivative `1 − y²`.
    public func tanh() -> Tensor { unaryOp(self, { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y }) }

    /// GELU in the exact erf form used by BERT: `0.5·x·(1 + erf(x/√2))`;
    /// derivative `Φ(x) + x·φ(x)`.
    public func gelu() -> Tensor {
        unaryOp(self, { x in 0.5 * x * (1 + erff(x * 0.70710678118654752)) },
                derivative: { x, _ in
                    let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
                    let pdf = 0.3989422804014327 * Foundation.exp(-0.5 * x * x)
                    return cdf + x * pdf
                })
    }

    /// `max(x, 0)`; derivative 1 for `x > 0`, else 0.
    public func relu() -> Tensor { unaryOp(self, { $0 > 0 ? $0 : 0 }, derivative: { x, _ in x > 0 ? 1 : 0 }) }

    /// Logistic sigmoid `1 / (1 + e^{−x})`, stable for large |x|; derivative `y(1 − y)`.
    public func sigmoid() -> Tensor {
        unaryOp(self, { x in
            x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
        }, derivative: { _, y in y * (1 - y) })
    }

    /// `log(1 + e^x)` computed as `max(x, 0) + log1p(e^{−|x|})`; derivative `sigmoid(x)`.
    public func softplus() -> Tensor {
        unaryOp(self, { x in Swift.max(x, 0) + log1pf(Foundation.exp(-Swift.abs(x))) },
                derivative: { x, _ in x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) })
    }

    /// `x²`.
    public func square() -> Tensor { unaryOp(self, { $0 * $0 }, derivative: { x, _ in 2 * x }) }

    /// `√x`; derivative `1 / (2√x)`.
    public func sqrt() -> Tensor { unaryOp(self, { $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
}
