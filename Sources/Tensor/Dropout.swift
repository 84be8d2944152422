/// Inverted dropout. In training, each element is kept with probability `1 − p` and scaled
/// by `1/(1 − p)`, zeroed otherwise, so `E[y] = x`:
///
///     yᵢ = mᵢ · xᵢ,   mᵢ = (uᵢ < p) ? 0 : 1/(1 − p),   uᵢ ~ Uniform[0, 1) from `rng`
///     dxᵢ = mᵢ · dyᵢ
///
/// One `rng.uniform()` draw per element in row-major order, whether or not gradients are
/// recorded, so the same generator state always gives the same mask. When `training` is
/// false or `p == 0` the input itself is returned and `rng` is not advanced.
/// `p` outside `[0, 1)` is a programmer error.
/// FLOPs: one per element forward, one backward.
public func dropout(_ x: Tensor, p: Float, rng: inout RNG, training: Bool) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
    if !training || p == 0 { return x }
    let scale = 1 / (1 - p)
    let n = x.count
    let out = Tensor(uninitialized: x.shape)
    let px = x.data, po = out.data
    let needs = Autograd.needsGrad(x)
    // The mask is kept only when a backward will need it.
    let mask = TensorStorage(count: needs ? n : 0, zeroed: false)
    let pm = mask.base
    for i in 0..<n {
        let m: Float = rng.uniform() < p ? 0 : scale
        po[i] = px[i] * m
        if needs { pm[i] = m }
    }
    Flops.add(n)
    if needs {
        Autograd.record(out) {
            let g = out.gradStorage!.base, gx = x.gradForWrite()
            let pm = mask.base   // the closure keeps the mask alive
            parallelRanges(n, grain: elementwiseGrain) { lo, hi in writeGrad(gx, lo, hi) { g[$0] * pm[$0] } }
            Flops.add(n)
        }
    }
    return out
}
