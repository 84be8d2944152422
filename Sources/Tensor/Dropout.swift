/// Elements per block of a dropout mask: each block draws from its own sub-stream, so that
/// blocks can be drawn in parallel (see `dropout`).
public let dropoutBlock = 4096

/// Inverted dropout. In training, each element is kept with probability `1 − p` and scaled
/// by `1/(1 − p)`, zeroed otherwise, so `E[y] = x`:
///
///     yᵢ = mᵢ · xᵢ,   mᵢ = (uᵢ < p) ? 0 : 1/(1 − p),   uᵢ ~ Uniform[0, 1)
///     dxᵢ = mᵢ · dyᵢ
///
/// The uniforms come in blocks of `dropoutBlock` elements (row-major order): block `b`
/// draws its elements in order from `RNG(seed: s).split(b)`, where `s = rng.next()` is the
/// one draw a call takes from `rng`. Blocks are filled in parallel, and the mask depends
/// only on the generator state (not on the thread count, nor on whether gradients are
/// recorded). When `training` is false or `p == 0` the input itself is returned and `rng`
/// is not advanced. `p` outside `[0, 1)` is a programmer error.
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
    let root = RNG(seed: rng.next())
    let blocks = (n + dropoutBlock - 1) / dropoutBlock
    parallelRanges(blocks, grain: 2) { lo, hi in
        for b in lo..<hi {
            var g = root.split(UInt64(b))
            let range = (b * dropoutBlock)..<min(n, (b + 1) * dropoutBlock)
            if needs {
                for i in range { let m: Float = g.uniform() < p ? 0 : scale; po[i] = px[i] * m; pm[i] = m }
            } else {
                for i in range { po[i] = px[i] * (g.uniform() < p ? 0 : scale) }
            }
        }
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
