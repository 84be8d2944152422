/// Gathers and scatters by integer index: embedding lookup, row selection (MoE dispatch),
/// weighted row scatter-add (MoE combine) and per-row column gather.
///
/// Indices out of range are programmer errors (preconditions).

@inline(__always)
func checkIndices(_ indices: [Int], below limit: Int, _ what: String) {
    for i in indices {
        precondition(i >= 0 && i < limit, "\(what): index \(i) out of range 0..<\(limit)")
    }
}

/// Embedding lookup: `out[i, :] = table[ids[i], :]`.
///
/// - `table: [V, d]`, `ids`: values in `0..<V` (repeats allowed) -> `[ids.count, d]`.
/// - Backward scatter-adds `dout[i, :]` into `dtable[ids[i], :]`.
///
/// FLOPs: 0 (data movement).
public func embedding(_ table: Tensor, _ ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [V, d], got \(table.shape)")
    return table.indexSelect(rows: ids)
}

extension Tensor {
    /// Rows along axis 0: `out[i, ...] = self[rows[i], ...]`.
    ///
    /// - `self: [n, ...]` (rank ≥ 1), `rows`: values in `0..<n` (repeats allowed)
    ///   -> `[rows.count, ...]`.
    /// - Backward scatter-adds `dout[i, ...]` into `dself[rows[i], ...]`.
    ///
    /// FLOPs: 0 (data movement).
    public func indexSelect(rows: [Int]) -> Tensor {
        precondition(rank >= 1, "indexSelect of a scalar")
        let n = shape[0]
        checkIndices(rows, below: n, "indexSelect")
        let inner = shapeProduct(shape, 1, rank)
        let out = Tensor(uninitialized: [rows.count] + shape.dropFirst())
        let src = data, dst = out.data
        for (i, r) in rows.enumerated() { (dst + i * inner).update(from: src + r * inner, count: inner) }
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for (i, r) in rows.enumerated() {
                    let s = g + i * inner, d = gx + r * inner
                    for j in 0..<inner { d[j] += s[j] }
                }
            }
        }
        return out
    }

    /// Columns along the last axis, `k` per row: `out[r, j] = self[r, indices[r·k + j]]`.
    ///
    /// - `self: [N, C]` (or any rank ≥ 1: `[..., C]` with the leading dimensions flattened
    ///   into `N` rows), `indices`: `N·k` values in `0..<C` -> `[N, k]` (`[..., k]`).
    /// - Backward adds `dout[r, j]` into `dself[r, indices[r·k + j]]`.
    ///
    /// FLOPs: 0 (data movement).
    public func gather(indices: [Int], k: Int) -> Tensor {
        precondition(rank >= 1, "gather of a scalar")
        precondition(k >= 0, "gather: negative k")
        let c = shape[rank - 1]
        let rows = shapeProduct(shape, 0, rank - 1)
        precondition(indices.count == rows * k,
                     "gather: \(indices.count) indices for \(rows) rows of k = \(k) (shape \(shape))")
        checkIndices(indices, below: c, "gather")
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [k])
        let src = data, dst = out.data
        indices.withUnsafeBufferPointer { ix in
            for r in 0..<rows {
                let s = src + r * c, d = dst + r * k, ir = r * k
                for j in 0..<k { d[j] = s[ix[ir + j]] }
            }
        }
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                indices.withUnsafeBufferPointer { ix in
                    for r in 0..<rows {
                        let s = g + r * k, d = gx + r * c, ir = r * k
                        for j in 0..<k { d[ix[ir + j]] += s[j] }
                    }
                }
            }
        }
        return out
    }
}

/// Weighted scatter-add along axis 0: `out = 0; out[rows[i], ...] += w[i] · src[i, ...]`
/// for every `i` (with `w[i] = 1` when `weights` is nil). Rows may repeat (their
/// contributions add up); rows never named stay zero.
///
/// - `src: [n, ...]` (rank ≥ 1), `rows`: `n` values in `0..<count`,
///   `weights: [n]` or `[n, 1]` -> `[count, ...]`.
/// - Backward: `dsrc[i, ...] += w[i] · dout[rows[i], ...]` and
///   `dw[i] += Σ_j dout[rows[i], j] · src[i, j]`.
///
/// FLOPs (with `m = n · inner`, `inner` the product of `src.shape[1...]`): forward `2·m`
/// with weights (one multiply-add per element), 0 without (data movement); backward `m` for
/// `dsrc` with weights (0 without) and `2·m` for `dw`.
public func scatterAdd(_ src: Tensor, rows: [Int], count: Int, weights: Tensor? = nil) -> Tensor {
    precondition(src.rank >= 1, "scatterAdd of a scalar")
    let n = src.shape[0]
    precondition(rows.count == n, "scatterAdd: \(rows.count) rows for source \(src.shape)")
    precondition(count >= 0, "scatterAdd: negative count")
    checkIndices(rows, below: count, "scatterAdd")
    if let w = weights {
        precondition(w.count == n && (w.rank == 1 || (w.rank == 2 && w.shape[1] == 1)),
                     "scatterAdd: weights \(w.shape) for source \(src.shape) (expected [\(n)] or [\(n), 1])")
    }
    let inner = shapeProduct(src.shape, 1, src.rank)
    let out = Tensor(zeros: [count] + src.shape.dropFirst())
    let ps = src.data, po = out.data
    if let w = weights {
        let pw = w.data
        for (i, r) in rows.enumerated() {
            let s = ps + i * inner, d = po + r * inner, wi = pw[i]
            for j in 0..<inner { d[j] += wi * s[j] }
        }
        Flops.add(2 * n * inner)
    } else {
        for (i, r) in rows.enumerated() {
            let s = ps + i * inner, d = po + r * inner
            for j in 0..<inner { d[j] += s[j] }
        }
    }
    var inputs = [src]
    if let w = weights { inputs.append(w) }
    if Autograd.needsGrad(inputs) {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            if src.requiresGrad {
                let gs = src.gradPointer()
                if let w = weights {
                    let pw = w.data
                    for (i, r) in rows.enumerated() {
                        let s = g + r * inner, d = gs + i * inner, wi = pw[i]
                        for j in 0..<inner { d[j] += wi * s[j] }
                    }
                    Flops.add(n * inner)
                } else {
                    for (i, r) in rows.enumerated() {
                        let s = g + r * inner, d = gs + i * inner
                        for j in 0..<inner { d[j] += s[j] }
                    }
                }
            }
            if let w = weights, w.requiresGrad {
                let gw = w.gradPointer(), ps = src.data
                for (i, r) in rows.enumerated() {
                    let s = g + r * inner, x = ps + i * inner
                    var acc: Float = 0
                    for j in 0..<inner { acc += s[j] * x[j] }
                    gw[i] += acc
                }
                Flops.add(2 * n * inner)
            }
        }
    }
    return out
}

/// `embedding(table, ids)` with the ids labelled.
@inline(__always)
public func embedding(_ table: Tensor, ids: [Int]) -> Tensor { embedding(table, ids) }
