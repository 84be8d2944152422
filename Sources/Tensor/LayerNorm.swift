/// Layer normalisation over the last dimension, as PyTorch's `layer_norm` (biased
/// variance, ε inside the square root). For each row `x` of length `n`:
///
///     μ = (1/n) Σⱼ xⱼ,   σ² = (1/n) Σⱼ (xⱼ − μ)²,   rstd = 1 / √(σ² + ε)
///     x̂ⱼ = (xⱼ − μ) · rstd,   yⱼ = γⱼ · x̂ⱼ + βⱼ
///
/// Shapes: `x: [..., n]`, `gamma, beta: [n]`, output like `x`.
///
/// Forward and backward are fused: the forward saves `μ` and `rstd` per row, and the
/// backward (with `g = dL/dy`, `d = g ⊙ γ`) accumulates
///
///     dβⱼ += Σ_rows gⱼ,   dγⱼ += Σ_rows gⱼ · x̂ⱼ
///     dxⱼ += rstd · (dⱼ − mean(d) − x̂ⱼ · mean(d ⊙ x̂))
///
/// The variance is computed in two passes (mean first), so large offsets do not cancel.
/// FLOPs: 8 per element forward, 10 per element backward.
public func layerNorm(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 1, "layerNorm of a 0-d tensor")
    let n = x.shape[x.rank - 1]
    precondition(gamma.count == n && beta.count == n,
                 "layerNorm: γ \(gamma.shape) and β \(beta.shape) vs input \(x.shape)")
    let rows = n == 0 ? 0 : x.count / n
    let out = Tensor(uninitialized: x.shape)
    let needs = Autograd.needsGrad(x, gamma, beta)
    // Per row: μ at [r], rstd at [rows + r]; kept only when a backward will need them.
    let stats = TensorStorage(count: needs ? 2 * rows : 0, zeroed: false)
    let px = x.data, po = out.data, pg = gamma.data, pb = beta.data, ps = stats.base
    let invN = 1 / Float(n)
    parallelRanges(rows, grain: max(1, elementwiseGrain / max(n, 1))) { lo, hi in
        for r in lo..<hi {
            let row = px + r * n, orow = po + r * n
            var s: Float = 0
            for j in 0..<n { s += row[j] }
            let mu = s * invN
            var v: Float = 0
            for j in 0..<n { let d = row[j] - mu; v += d * d }
            let rstd = 1 / (v * invN + eps).squareRoot()
            for j in 0..<n { orow[j] = (row[j] - mu) * rstd * pg[j] + pb[j] }
            if needs { ps[r] = mu; ps[rows + r] = rstd }
        }
    }
    Flops.add(8 * x.count)
    if needs {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            let ps = stats.base   // the closure keeps the saved statistics alive
            let gg: UnsafeMutablePointer<Float>? = gamma.requiresGrad ? gamma.gradPointer() : nil
            let gb: UnsafeMutablePointer<Float>? = beta.requiresGrad ? beta.gradPointer() : nil
            // dγ and dβ: every column summed over the rows in order, columns split across
            // threads.
            if gg != nil || gb != nil {
                parallelRanges(n, grain: rows * n >= elementwiseGrain ? 16 : n) { lo, hi in
                    for r in 0..<rows {
                        let row = px + r * n, grow = g + r * n
                        let mu = ps[r], rstd = ps[rows + r]
                        if let gg { for j in lo..<hi { gg[j] += grow[j] * (row[j] - mu) * rstd } }
                        if let gb { for j in lo..<hi { gb[j] += grow[j] } }
                    }
                }
            }
            // dx: rows split across threads.
            if x.requiresGrad {
                let (gx, acc) = x.gradForWrite()
                parallelRanges(rows, grain: max(1, elementwiseGrain / max(n, 1))) { lo, hi in
                    for r in lo..<hi {
                        let row = px + r * n, grow = g + r * n
                        let mu = ps[r], rstd = ps[rows + r]
                        var sumD: Float = 0, sumDX: Float = 0
                        for j in 0..<n {
                            let xh = (row[j] - mu) * rstd
                            let d = grow[j] * pg[j]
                            sumD += d
                            sumDX += d * xh
                        }
                        let meanD = sumD * invN, meanDX = sumDX * invN
                        writeGrad((gx + r * n, acc), 0, n) { j in
                            let xh = (row[j] - mu) * rstd
                            return rstd * (grow[j] * pg[j] - meanD - xh * meanDX)
                        }
                    }
                }
            }
            Flops.add(10 * x.count)
        }
    }
    return out
}
