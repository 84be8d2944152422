/// Inverted dropout: in training each element is zeroed with probability `p` and the
/// survivors are scaled by `1/(1−p)`, so the expectation is unchanged; identity when not
/// training or `p == 0`. The mask is drawn from `rng` (one draw per element, in order),
/// so the same generator state gives the same mask. FLOPs: one per element.
public func dropout(_ x: Tensor, p: Float, rng: inout RNG, training: Bool) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
    if !training || p == 0 { return x }
    let scale = 1 / (1 - p)
    let mask = TensorStorage(count: x.count, zeroed: false)
    let pm = mask.base
    for i in 0..<x.count { pm[i] = rng.uniform() < p ? 0 : scale }
    let out = Tensor(uninitialized: x.shape)
    let px = x.data, po = out.data
    for i in 0..<x.count { po[i] = px[i] * pm[i] }
    Flops.add(x.count)
    if Autograd.needsGrad(x) {
        Autograd.record(out) {
            let g = out.gradStorage!.base, gx = x.gradPointer()
            let pm = mask.base  // keeps the mask alive with the closure
            for i in 0..<x.count { gx[i] += g[i] * pm[i] }
            Flops.add(x.count)
        }
    }
    return out
}
