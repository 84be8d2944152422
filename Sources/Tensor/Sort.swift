/// Selection and sorting along the last axis: `topK` (router expert choice) and a stable
/// `argsort`.
///
/// Order: larger values first for `topK`; equal values keep index order (the lower index
/// first); NaN counts as smaller than every number, so it is never chosen ahead of one.

/// True when `a` ranks strictly ahead of `b` in descending order (NaN last).
@inline(__always)
func ranksAhead(_ a: Float, _ b: Float) -> Bool {
    a > b || (b != b && a == a)
}

/// The `k` largest entries of each row of the last axis, in descending order.
///
/// - `x: [..., C]` (rank ≥ 1), `0 ≤ k ≤ C` -> `values: [..., k]` and `indices`: the
///   `rows·k` column ids (row-major, `indices[r·k + j]` is the column of `values[r, j]`).
/// - Ties go to the lower index; NaN ranks below every number.
/// - `values` carries gradients: backward adds `dvalues[r, j]` into
///   `dx[r, indices[r·k + j]]`.
///
/// Cost: `O(C·k)` per row by insertion into a `k`-slot buffer (routing uses k = 1 or 2);
/// for `k > 16` each row's column ids are sorted instead. FLOPs: 0 (comparisons only).
public func topK(_ x: Tensor, _ k: Int) -> (values: Tensor, indices: [Int]) {
    precondition(x.rank >= 1, "topK of a scalar")
    let c = x.shape[x.rank - 1]
    precondition(k >= 0 && k <= c, "topK: k = \(k) for last dimension \(c)")
    let rows = shapeProduct(x.shape, 0, x.rank - 1)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [k])
    var indices = [Int](repeating: 0, count: rows * k)
    let px = x.data, po = out.data
    if k > 0 {
        indices.withUnsafeMutableBufferPointer { ib in
            let pi = ib.baseAddress!
            if k == 1 {
                for r in 0..<rows {
                    let row = px + r * c
                    var best = 0
                    var bv = row[0]
                    for j in 1..<Swift.max(c, 1) where ranksAhead(row[j], bv) { best = j; bv = row[j] }
                    pi[r] = best
                    po[r] = bv
                }
            } else if k <= 16 {
                for r in 0..<rows {
                    let row = px + r * c, ov = po + r * k, oi = pi + r * k
                    var filled = 0
                    for j in 0..<c {
                        let v = row[j]
                        // Later columns lose ties, so v enters only if it ranks strictly ahead.
                        var p: Int
                        if filled < k {
                            p = filled
                            filled += 1
                        } else if ranksAhead(v, ov[k - 1]) {
                            p = k - 1
                        } else {
                            continue
                        }
                        while p > 0 && ranksAhead(v, ov[p - 1]) {
                            ov[p] = ov[p - 1]
                            oi[p] = oi[p - 1]
                            p -= 1
                        }
                        ov[p] = v
                        oi[p] = j
                    }
                }
            } else {
                var order = [Int](repeating: 0, count: c)
                for r in 0..<rows {
                    let row = px + r * c
                    for j in 0..<c { order[j] = j }
                    order.sort { a, b in
                        let va = row[a], vb = row[b]
                        if ranksAhead(va, vb) { return true }
                        if ranksAhead(vb, va) { return false }
                        return a < b
                    }
                    for j in 0..<k {
                        pi[r * k + j] = order[j]
                        po[r * k + j] = row[order[j]]
                    }
                }
            }
        }
    }
    if Autograd.needsGrad(x) {
        let picked = indices
        Autograd.record(out) {
            let g = out.gradStorage!.base, gx = x.gradPointer()
            picked.withUnsafeBufferPointer { ix in
                for r in 0..<rows {
                    let s = g + r * k, d = gx + r * c
                    for j in 0..<k { d[ix[r * k + j]] += s[j] }
                }
            }
        }
    }
    return (out, indices)
}

/// The column ids that sort each row of the last axis, rows concatenated:
/// `x[r, result[r·C + 0]], x[r, result[r·C + 1]], …` is row `r` in ascending order
/// (descending with `descending`).
///
/// - `x: [..., C]` (rank ≥ 1) -> `rows·C` ids, each row a permutation of `0..<C`.
/// - Stable: equal values keep index order, in either direction. NaNs come last in either
///   direction (in index order).
///
/// No gradient (the result is integers). FLOPs: 0.
public func argsort(_ x: Tensor, descending: Bool = false) -> [Int] {
    precondition(x.rank >= 1, "argsort of a scalar")
    let c = x.shape[x.rank - 1]
    let rows = shapeProduct(x.shape, 0, x.rank - 1)
    var result: [Int] = []
    result.reserveCapacity(rows * c)
    var order = [Int](repeating: 0, count: c)
    for r in 0..<rows {
        let row = x.data + r * c
        for j in 0..<c { order[j] = j }
        order.sort { a, b in
            let va = row[a], vb = row[b]
            let na = va != va, nb = vb != vb
            if na || nb { return na == nb ? a < b : nb }
            if va == vb { return a < b }
            return descending ? va > vb : va < vb
        }
        result.append(contentsOf: order)
    }
    return result
}
