/// Top-k selection and argsort along the last axis. Comparisons are not FLOPs: both count
/// 0 FLOPs (forward and backward).
///
/// Order: descending top-k and argsort rank larger values first; equal values keep their
/// index order (the lower index first); NaN ranks after every number in either direction.

/// `a` ranks strictly before `b` in descending order (NaN last).
@inline(__always)
func rankedBefore(_ a: Float, _ b: Float) -> Bool {
    a > b || (b != b && a == a)
}

/// Top-k keeps a sorted insertion buffer (`O(C·k)` per row) for `k` up to this, and sorts
/// each row's indices beyond.
let topKInsertionLimit = 32

/// The `k` largest entries of each row of the last axis, in descending order; equal values
/// are ranked by lower index first.
///
/// Shapes: `x [..., C]`, `0 <= k <= C` -> `values [..., k]`, `indices` of `rows·k` column
/// ids (row-major, `rows = Π leading dims`), with `values[r, j] = x[r, indices[r·k + j]]`.
/// Cost: one pass per row with a sorted buffer of `k` (`O(C·k)`; an index sort beyond
/// k = 32). Backward: `dx[r, indices[r·k + j]] += dvalues[r, j]`. FLOPs: 0.
public func topK(_ x: Tensor, _ k: Int) -> (values: Tensor, indices: [Int]) {
    precondition(x.rank >= 1, "topK of a 0-d tensor")
    let c = x.shape[x.rank - 1]
    precondition(k >= 0 && k <= c, "topK: k = \(k) out of range 0...\(c) for \(x.shape)")
    let rows = shapeProduct(x.shape, 0, x.rank - 1)
    let values = Tensor(uninitialized: Array(x.shape.dropLast()) + [k])
    var indices = [Int](repeating: 0, count: rows * k)
    let px = x.data, pv = values.data
    if k > 0 {
        if k <= topKInsertionLimit {
            indices.withUnsafeMutableBufferPointer { ib in
                let pi = ib.baseAddress!
                for r in 0..<rows {
                    let row = px + r * c, vals = pv + r * k, idx = pi + r * k
                    var filled = 0
                    for col in 0..<c {
                        let v = row[col]
                        var pos: Int
                        if filled == k {
                            // Strictly better than the current k-th: equal values stay behind.
                            if !rankedBefore(v, vals[k - 1]) { continue }
                            pos = k - 1
                        } else {
                            pos = filled
                            filled += 1
                        }
                        while pos > 0 && rankedBefore(v, vals[pos - 1]) {
                            vals[pos] = vals[pos - 1]
                            idx[pos] = idx[pos - 1]
                            pos -= 1
                        }
                        vals[pos] = v
                        idx[pos] = col
                    }
                }
            }
        } else {
            var order = [Int](repeating: 0, count: c)
            for r in 0..<rows {
                let row = px + r * c
                sortRowIndices(row, c, descending: true, into: &order)
                for j in 0..<k {
                    indices[r * k + j] = order[j]
                    pv[r * k + j] = row[order[j]]
                }
            }
        }
    }
    if Autograd.needsGrad(x) {
        let picked = indices
        Autograd.record(values) {
            let g = values.gradStorage!.base, gx = x.gradPointer()
            picked.withUnsafeBufferPointer { ix in
                for r in 0..<rows {
                    let dst = gx + r * c, src = g + r * k
                    for j in 0..<k { dst[ix[r * k + j]] += src[j] }
                }
            }
        }
    }
    return (values, indices)
}

/// Fills `order` (of `c` elements) with `0..<c` sorted by `row` values, stable (equal
/// values keep index order, NaN last).
@inline(__always)
func sortRowIndices(_ row: UnsafeMutablePointer<Float>, _ c: Int, descending: Bool, into order: inout [Int]) {
    for i in 0..<c { order[i] = i }
    if descending {
        order.withUnsafeMutableBufferPointer { o in
            o.sort { a, b in
                let va = row[a], vb = row[b]
                if rankedBefore(va, vb) { return true }
                if rankedBefore(vb, va) { return false }
                return a < b
            }
        }
    } else {
        order.withUnsafeMutableBufferPointer { o in
            o.sort { a, b in
                let va = row[a], vb = row[b]
                if va < vb || (vb != vb && va == va) { return true }
                if vb < va || (va != va && vb == vb) { return false }
                return a < b
            }
        }
    }
}

/// Stable argsort of each row of the last axis.
///
/// Shapes: `x [..., C]` -> `rows·C` indices (row-major concatenation of each row's order,
/// `rows = Π leading dims`), each row a permutation of `0..<C` such that the values are
/// ascending (or descending) and equal values keep their index order; NaN last.
/// Not differentiable (returns indices). FLOPs: 0.
public func argsort(_ x: Tensor, descending: Bool = false) -> [Int] {
    precondition(x.rank >= 1, "argsort of a 0-d tensor")
    let c = x.shape[x.rank - 1]
    let rows = shapeProduct(x.shape, 0, x.rank - 1)
    var result = [Int]()
    result.reserveCapacity(rows * c)
    var order = [Int](repeating: 0, count: c)
    for r in 0..<rows {
        sortRowIndices(x.data + r * c, c, descending: descending, into: &order)
        result.append(contentsOf: order)
    }
    return result
}
