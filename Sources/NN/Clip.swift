/// Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` (L2 norm).
///
///     norm  = sqrt(Σ_p Σ_i g_p[i]²)          over every parameter with a gradient
///     scale = min(1, maxNorm / (norm + 1e-6))
///     g_p   = scale · g_p                    (only when scale < 1)
///
/// Returns `norm`, the norm before clipping (NaN or infinity when a gradient is not
/// finite; the gradients are then scaled by NaN or 0, as in PyTorch). Parameters without a
/// gradient are skipped; a tensor listed twice counts once. The sum of squares is
/// accumulated in double precision.
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Float) -> Float {
    var seen = Set<ObjectIdentifier>()
    var grads: [(UnsafeMutablePointer<Float>, Int)] = []
    for p in params {
        guard let g = p.gradStorage, seen.insert(ObjectIdentifier(p)).inserted else { continue }
        grads.append((g.base, p.count))
    }
    var sumSquares = 0.0
    for (g, n) in grads {
        var s = 0.0
        for i in 0..<n { let x = Double(g[i]); s += x * x }
        sumSquares += s
    }
    let norm = Float(sumSquares.squareRoot())
    let scale = maxNorm / (norm + 1e-6)
    if !(scale >= 1) {
        for (g, n) in grads { for i in 0..<n { g[i] *= scale } }
    }
    return norm
}
