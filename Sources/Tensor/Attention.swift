import Foundation

/// Scaled dot-product multi-head attention on already-projected queries, keys and values,
/// as one fused kernel (two GEMMs and a masked softmax per batch element and head).
///
/// Shapes: `q: [B, Tq, d]`, `k, v: [B, Tk, d]` (usually `Tq == Tk == T`), output
/// `[B, Tq, d]`. `d` must be divisible by `heads`; head `h` is the contiguous slice
/// `h·dh ..< (h+1)·dh` of the last dimension, `dh = d / heads`. The head split is done by
/// strided GEMMs (leading dimension `d`), never by copies.
///
/// For every batch element `b` and head `h`:
///
///     S = Q_bh · K_bhᵀ / sqrt(dh)                 [Tq, Tk]
///     S[i, j] = -inf   where keyMask[b·Tk + j] == false
///     P = softmax(S) over j                       (a row whose keys are all masked is 0)
///     O_bh = P · V_bh                             [Tq, dh]
///
/// `keyMask` (optional, `B·Tk` entries, `true` = real token, `false` = padding) masks keys
/// only; a fully masked row outputs zeros and passes no gradient (never NaN).
///
/// Backward (with `G = dO_bh`, `dP = G · V_bhᵀ`):
///
///     dV_bh += Pᵀ · G
///     dS     = P ⊙ (dP − rowsum(dP ⊙ P))
///     dQ_bh += dS · K_bh / sqrt(dh)
///     dK_bh += dSᵀ · Q_bh / sqrt(dh)
///
/// The probabilities `P` (`B·heads·Tq·Tk` floats) are kept for the backward pass when a
/// gradient is needed.
///
/// FLOPs (all counted in the active category; callers attribute them to `.attention`),
/// with `N = B·heads·Tq·Tk` scores:
/// - forward: `4·N·dh` for the two products (`2·Tq·Tk·dh` each per head), plus `5·N` for
///   the softmax (max, subtract, exp, sum, normalise per score; the scale is folded into
///   the first GEMM and masking is a select, neither counted);
/// - backward: `2·N·dh` for `dV` when `v` needs a gradient; when `q` or `k` needs one,
///   `2·N·dh` for `dP` plus `4·N` for the softmax backward (product, row sum, subtract,
///   multiply per score), then `2·N·dh` each for `dQ` and `dK` as needed.
/// Multiply-adds of (batch element, head) pairs below which attention stays on one thread.
let attentionGrain = 1 << 17

public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, keyMask: [Bool]? = nil) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3,
                 "attention needs q, k, v of rank 3 [B, T, d], got \(q.shape), \(k.shape), \(v.shape)")
    let B = q.shape[0], Tq = q.shape[1], d = q.shape[2], Tk = k.shape[1]
    precondition(k.shape == [B, Tk, d] && v.shape == k.shape,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) must be [B, Tq, d], [B, Tk, d], [B, Tk, d]")
    precondition(heads >= 1 && d % heads == 0, "attention: d = \(d) is not divisible by heads = \(heads)")
    if let keyMask {
        precondition(keyMask.count == B * Tk, "attention: keyMask has \(keyMask.count) entries, expected B·Tk = \(B * Tk)")
    }
    let dh = d / heads
    let scale = Float(1) / Float(dh).squareRoot()
    let scores = Tq * Tk
    let needsGrad = Autograd.needsGrad(q, k, v)

    // P: [B, heads, Tq, Tk] when kept for backward, else one [Tq, Tk] scratch block per
    // thread.
    let probs = TensorStorage(count: needsGrad ? B * heads * scores : 0, zeroed: false)
    let out = Tensor(uninitialized: [B, Tq, d])
    let qp = q.data, kp = k.data, vp = v.data, op = out.data
    // The (batch element, head) pairs are independent: split them across the threads.
    let pairGrain = max(1, attentionGrain / max(1, scores * dh))

    parallelRanges(B * heads, grain: pairGrain) { lo, hi in
        let scratch = TensorStorage(count: needsGrad ? 0 : scores, zeroed: false)
        for bh in lo..<hi {
            let b = bh / heads, h = bh % heads
            let p = needsGrad ? probs.base + bh * scores : scratch.base
            let qbh = qp + b * Tq * d + h * dh      // [Tq, dh], row stride d
            let kbh = kp + b * Tk * d + h * dh      // [Tk, dh], row stride d
            let vbh = vp + b * Tk * d + h * dh      // [Tk, dh], row stride d
            // S = scale · Q Kᵀ  [Tq, Tk]
            sgemm(transA: false, transB: true, m: Tq, n: Tk, k: dh, alpha: scale,
                  a: qbh, lda: d, b: kbh, ldb: d, beta: 0, c: p, ldc: Tk)
            attentionMaskedSoftmaxRows(p, rows: Tq, cols: Tk, keyMask: keyMask, maskOffset: b * Tk)
            // O = P V  [Tq, dh], row stride d
            sgemm(transA: false, transB: false, m: Tq, n: dh, k: Tk,
                  a: p, lda: Tk, b: vbh, ldb: d, beta: 0, c: op + b * Tq * d + h * dh, ldc: d)
        }
    }
    let n = B * heads * scores
    Flops.add(4 * n * dh + 5 * n)

    if needsGrad {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            let needQK = q.requiresGrad || k.requiresGrad
            // Every (b, h) slice of dQ, dK and dV is written by exactly one GEMM below, so
            // fresh gradient buffers are assigned (beta 0) rather than zero-filled; unless
            // two of q, k, v are one tensor, whose slices then take two GEMMs.
            let distinct = q !== k && k !== v && q !== v
            func destination(_ t: Tensor) -> (base: UnsafeMutablePointer<Float>, accumulate: Bool)? {
                guard t.requiresGrad else { return nil }
                return distinct ? t.gradForWrite() : (t.gradPointer(), true)
            }
            let gq = destination(q), gk = destination(k), gv = destination(v)
            parallelRanges(B * heads, grain: pairGrain) { lo, hi in
                // dP / dS scratch: [Tq, Tk]
                let dS = TensorStorage(count: needQK ? scores : 0, zeroed: false)
                for bh in lo..<hi {
                    let b = bh / heads, h = bh % heads
                    let p = probs.base + bh * scores
                    let off = h * dh
                    let gbh = g + b * Tq * d + off                 // dO_bh [Tq, dh], stride d
                    let qbh = qp + b * Tq * d + off, kbh = kp + b * Tk * d + off, vbh = vp + b * Tk * d + off
                    if let gv {
                        // dV += Pᵀ G  [Tk, dh]
                        sgemm(transA: true, transB: false, m: Tk, n: dh, k: Tq,
                              a: p, lda: Tk, b: gbh, ldb: d, beta: gv.accumulate ? 1 : 0,
                              c: gv.base + b * Tk * d + off, ldc: d)
                    }
                    guard needQK else { continue }
                    let ds = dS.base
                    // dP = G Vᵀ  [Tq, Tk]
                    sgemm(transA: false, transB: true, m: Tq, n: Tk, k: dh,
                          a: gbh, lda: d, b: vbh, ldb: d, beta: 0, c: ds, ldc: Tk)
                    // dS = P ⊙ (dP − Σ_j dP ⊙ P), in place
                    for i in 0..<Tq {
                        let pr = p + i * Tk, dr = ds + i * Tk
                        var dot: Float = 0
                        for j in 0..<Tk { dot += pr[j] * dr[j] }
                        for j in 0..<Tk { dr[j] = pr[j] * (dr[j] - dot) }
                    }
                    if let gq {
                        // dQ += scale · dS K  [Tq, dh]
                        sgemm(transA: false, transB: false, m: Tq, n: dh, k: Tk, alpha: scale,
                              a: ds, lda: Tk, b: kbh, ldb: d, beta: gq.accumulate ? 1 : 0,
                              c: gq.base + b * Tq * d + off, ldc: d)
                    }
                    if let gk {
                        // dK += scale · dSᵀ Q  [Tk, dh]
                        sgemm(transA: true, transB: false, m: Tk, n: dh, k: Tq, alpha: scale,
                              a: ds, lda: Tk, b: qbh, ldb: d, beta: gk.accumulate ? 1 : 0,
                              c: gk.base + b * Tk * d + off, ldc: d)
                    }
                }
            }
            var flops = 0
            if gv != nil { flops += 2 * n * dh }
            if needQK { flops += 2 * n * dh + 4 * n }
            if gq != nil { flops += 2 * n * dh }
            if gk != nil { flops += 2 * n * dh }
            Flops.add(flops)
        }
    }
    return out
}

/// Row-wise softmax in place on a `[rows, cols]` block, with keys `j` where
/// `keyMask[maskOffset + j] == false` set to probability 0. A row with no unmasked key
/// becomes all zeros.
@inline(__always)
private func attentionMaskedSoftmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                                        keyMask: [Bool]?, maskOffset: Int) {
    if let keyMask {
        keyMask.withUnsafeBufferPointer { mb in
            let m = mb.baseAddress! + maskOffset
            for i in 0..<rows {
                let r = s + i * cols
                var mx = -Float.infinity
                for j in 0..<cols where m[j] && r[j] > mx { mx = r[j] }
                if mx == -Float.infinity {
                    // All keys masked (or cols == 0): zeros, no NaN.
                    for j in 0..<cols { r[j] = 0 }
                    continue
                }
                var sum: Float = 0
                for j in 0..<cols {
                    let e: Float = m[j] ? Foundation.exp(r[j] - mx) : 0
                    r[j] = e
                    sum += e
                }
                let inv = 1 / sum
                for j in 0..<cols { r[j] *= inv }
            }
        }
    } else {
        for i in 0..<rows {
            let r = s + i * cols
            var mx = -Float.infinity
            for j in 0..<cols where r[j] > mx { mx = r[j] }
            if cols == 0 { continue }
            var sum: Float = 0
            for j in 0..<cols {
                let e = Foundation.exp(r[j] - mx)
                r[j] = e
                sum += e
            }
            let inv = 1 / sum
            for j in 0..<cols { r[j] *= inv }
        }
    }
}
