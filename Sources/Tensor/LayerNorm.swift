/// Layer normalisation over the last dimension (PyTorch's `layer_norm`, biased variance):
/// `y = (x − μ) / √(σ² + ε) · γ + β`, with `x: [..., n]`, `γ, β: [n]`.
///
/// Forward and backward are fused; the forward keeps μ and 1/√(σ²+ε) per row.
/// FLOPs: 8 per element forward, 10 backward.
public func layerNorm(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, eps: Float = 1e-5) -> Tensor {
    let n = x.shape.last ?? 1
    precondition(gamma.count == n && beta.count == n, "layerNorm: γ \(gamma.shape) and β \(beta.shape) vs input \(x.shape)")
    let rows = n == 0 ? 0 : x.count / n
    let out = Tensor(uninitialized: x.shape)
    let needs = Autograd.needsGrad(x, gamma, beta)
    var mean = needs ? [Float](repeating: 0, count: rows) : []
    var rstd = needs ? [Float](repeating: 0, count: rows) : []
    let px = x.data, po = out.data, pg = gamma.data, pb = beta.data
    for r in 0..<rows {
        let row = px + r * n, orow = po + r * n
        var s: Float = 0
        for j in 0..<n { s += row[j] }
        let m = s / Float(n)
        var v: Float = 0
        for j in 0..<n { let d = row[j] - m; v += d * d }
        let rs = 1 / (v / Float(n) + eps).squareRoot()
        for j in 0..<n { orow[j] = (row[j] - m) * rs * pg[j] + pb[j] }
        if needs { mean[r] = m; rstd[r] = rs }
    }
    Flops.add(8 * x.count)
    if needs {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            let gx: UnsafeMutablePointer<Float>? = x.requiresGrad ? x.gradPointer() : nil
            let gg: UnsafeMutablePointer<Float>? = gamma.requiresGrad ? gamma.gradPointer() : nil
            let gb: UnsafeMutablePointer<Float>? = beta.requiresGrad ? beta.gradPointer() : nil
            for r in 0..<rows {
                let row = px + r * n, grow = g + r * n
                let m = mean[r], rs = rstd[r]
                // x̂ = (x − μ)·rstd;  dx̂ = g·γ;
                // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
                var sumD: Float = 0, sumDX: Float = 0
                for j in 0..<n {
                    let xh = (row[j] - m) * rs
                    let d = grow[j] * pg[j]
                    sumD += d
                    sumDX += d * xh
                    gg?[j] += grow[j] * xh
                    gb?[j] += grow[j]
                }
                if let gx {
                    let mD = sumD / Float(n), mDX = sumDX / Float(n)
                    let gr = gx + r * n
                    for j in 0..<n {
                        let xh = (row[j] - m) * rs
                        gr[j] += rs * (grow[j] * pg[j] - mD - xh * mDX)
                    }
                }
            }
            Flops.add(10 * x.count)
        }
    }
    return out
}
