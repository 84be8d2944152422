/// Integer-indexed gathers and scatters: embedding lookup, the MoE dispatch gather
/// (`indexSelect`) and combine (`scatterAdd`), and per-row column gathers (`gather`).
///
/// Gathers and unweighted scatters are data movement and count 0 FLOPs (forward and
/// backward); the weighted scatter counts its multiply-adds. Out-of-range indices are
/// programmer errors (precondition failures).

/// Embedding lookup: `out[i, :] = table[ids[i], :]`.
///
/// Shapes: `table [V, d]`, `ids` of `n` values in `0..<V` -> `[n, d]`.
/// Backward: `dtable[ids[i], :] += dout[i, :]` (repeated ids accumulate). FLOPs: 0.
public func embedding(_ table: Tensor, _ ids: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be [V, d], got \(table.shape)")
    return gatherRows(table, ids, op: "embedding")
}

extension Tensor {
    /// Rows along axis 0: `out[i, ...] = x[rows[i], ...]` (rows may repeat).
    ///
    /// Shapes: `[n0, s...]`, `rows` of `m` values in `0..<n0` -> `[m, s...]`.
    /// Backward: `dx[rows[i], ...] += dout[i, ...]`. FLOPs: 0.
    public func indexSelect(rows: [Int]) -> Tensor {
        precondition(rank >= 1, "indexSelect of a 0-d tensor")
        return gatherRows(self, rows, op: "indexSelect")
    }

    /// Per-row column gather along the last axis: `out[r, j] = x[r, indices[r·k + j]]`.
    ///
    /// Shapes: `x [..., C]` (leading dimensions flattened into `N` rows), `indices` of
    /// `N·k` values in `0..<C` -> `[..., k]`.
    /// Backward: `dx[r, indices[r·k + j]] += dout[r, j]` (repeats accumulate). FLOPs: 0.
    public func gather(indices: [Int], k: Int) -> Tensor {
        precondition(rank >= 1, "gather of a 0-d tensor")
        precondition(k >= 0, "gather: negative k")
        let c = shape[rank - 1]
        let rows = shapeProduct(shape, 0, rank - 1)
        precondition(indices.count == rows * k,
                     "gather: \(indices.count) indices for \(rows) rows of \(shape) and k = \(k)")
        for (i, col) in indices.enumerated() {
            precondition(col >= 0 && col < c, "gather: index \(col) at \(i) out of range 0..<\(c)")
        }
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [k])
        let px = data, po = out.data
        indices.withUnsafeBufferPointer { ix in
            for r in 0..<rows {
                let src = px + r * c, dst = po + r * k, ir = r * k
                for j in 0..<k { dst[j] = src[ix[ir + j]] }
            }
        }
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                indices.withUnsafeBufferPointer { ix in
                    for r in 0..<rows {
                        let dst = gx + r * c, src = g + r * k, ir = r * k
                        for j in 0..<k { dst[ix[ir + j]] += src[j] }
                    }
                }
            }
        }
        return out
    }
}

/// `out[i, ...] = x[rows[i], ...]` with the scatter-add backward (shared by `embedding`
/// and `indexSelect`).
func gatherRows(_ x: Tensor, _ rows: [Int], op: String) -> Tensor {
    let n0 = x.shape[0]
    let inner = shapeProduct(x.shape, 1, x.rank)
    for (i, r) in rows.enumerated() {
        precondition(r >= 0 && r < n0, "\(op): index \(r) at \(i) out of range 0..<\(n0)")
    }
    let out = Tensor(uninitialized: [rows.count] + x.shape.dropFirst())
    let px = x.data, po = out.data
    if inner > 0 {
        rows.withUnsafeBufferPointer { rs in
            for i in 0..<rs.count { (po + i * inner).update(from: px + rs[i] * inner, count: inner) }
        }
    }
    if Autograd.needsGrad(x) {
        Autograd.record(out) {
            let g = out.gradStorage!.base, gx = x.gradPointer()
            rows.withUnsafeBufferPointer { rs in
                for i in 0..<rs.count {
                    let dst = gx + rs[i] * inner, src = g + i * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        }
    }
    return out
}

/// Weighted scatter-add along axis 0 (the MoE combine):
/// `out[rows[i], ...] += w[i] · src[i, ...]` into a zero tensor of `count` rows
/// (`w[i] = 1` when `weights` is nil; rows may repeat and accumulate in order of `i`).
///
/// Shapes: `src [n, s...]`, `rows` of `n` values in `0..<count`, `weights [n]` or `[n, 1]`
/// -> `[count, s...]`.
/// Backward: `dsrc[i, ...] += w[i] · dout[rows[i], ...]`,
/// `dw[i] += Σ_j dout[rows[i], j] · src[i, j]`.
/// FLOPs (with `inner = Π s`): forward `2·n·inner` with weights, 0 without (data movement);
/// backward `2·n·inner` for the source gradient with weights (0 without) plus `2·n·inner`
/// for the weight gradient.
public func scatterAdd(_ src: Tensor, rows: [Int], count: Int, weights: Tensor? = nil) -> Tensor {
    precondition(src.rank >= 1, "scatterAdd of a 0-d source")
    precondition(count >= 0, "scatterAdd: negative count")
    let n = src.shape[0]
    precondition(rows.count == n, "scatterAdd: \(rows.count) rows for source \(src.shape)")
    if let weights {
        precondition(weights.shape == [n] || weights.shape == [n, 1],
                     "scatterAdd: weights \(weights.shape) for source \(src.shape) (need [\(n)] or [\(n), 1])")
    }
    for (i, r) in rows.enumerated() {
        precondition(r >= 0 && r < count, "scatterAdd: row \(r) at \(i) out of range 0..<\(count)")
    }
    let inner = shapeProduct(src.shape, 1, src.rank)
    let out = Tensor(zeros: [count] + src.shape.dropFirst())
    let ps = src.data, po = out.data
    let pw = weights?.data
    rows.withUnsafeBufferPointer { rs in
        for i in 0..<n {
            let dst = po + rs[i] * inner, s = ps + i * inner
            if let pw {
                let w = pw[i]
                for j in 0..<inner { dst[j] += w * s[j] }
            } else {
                for j in 0..<inner { dst[j] += s[j] }
            }
        }
    }
    if weights != nil { Flops.add(2 * n * inner) }
    let needs = weights.map { Autograd.needsGrad(src, $0) } ?? Autograd.needsGrad(src)
    if needs {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            rows.withUnsafeBufferPointer { rs in
                if src.requiresGrad {
                    let gs = src.gradPointer()
                    for i in 0..<n {
                        let gsrc = g + rs[i] * inner, dst = gs + i * inner
                        if let pw {
                            let w = pw[i]
                            for j in 0..<inner { dst[j] += w * gsrc[j] }
                        } else {
                            for j in 0..<inner { dst[j] += gsrc[j] }
                        }
                    }
                    if weights != nil { Flops.add(2 * n * inner) }
                }
                if let weights, weights.requiresGrad {
                    let gw = weights.gradPointer()
                    for i in 0..<n {
                        let gsrc = g + rs[i] * inner, s = ps + i * inner
                        var acc: Float = 0
                        for j in 0..<inner { acc += gsrc[j] * s[j] }
                        gw[i] += acc
                    }
                    Flops.add(2 * n * inner)
                }
            }
        }
    }
    return out
}
