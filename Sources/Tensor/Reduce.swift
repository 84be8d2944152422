import Foundation

/// Reductions: sum and mean (of everything or along one axis), max along an axis with its
/// gradient routed to the first maximal element, and a stable log-sum-exp.
///
/// Axis reductions view the input `x` as `[outer, n, inner]` around the reduced axis
/// (`outer` = product of the dimensions before it, `inner` = after it), so element
/// `(o, i, j)` sits at `(o·n + i)·inner + j` and the output element `(o, j)` at
/// `o·inner + j`. The last axis (`inner == 1`) takes a contiguous fast path; other axes
/// stream whole `inner`-long rows. Negative axes count from the end.

/// `(outer, n, inner)` of `shape` around `axis` (see the file comment).
@inline(__always)
func axisSplit(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shapeProduct(shape, 0, axis), shape[axis], shapeProduct(shape, axis + 1, shape.count))
}

/// `shape` with `axis` removed, or set to 1 when `keepDims`.
func reducedShape(_ shape: [Int], _ axis: Int, keepDims: Bool) -> [Int] {
    var s = shape
    if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
    return s
}

/// `Σᵢ p[i]` in float64 over eight interleaved partial sums (element `i` into partial
/// `i mod 8`, the tail of `n mod 8` elements into a ninth), combined pairwise in a
/// fixed order. Eight independent chains instead of one, whose every add waits for the
/// previous one.
@inline(__always)
func doubleSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0
    var i = 0
    while i + 8 <= n {
        a0 += Double(p[i]); a1 += Double(p[i + 1]); a2 += Double(p[i + 2]); a3 += Double(p[i + 3])
        a4 += Double(p[i + 4]); a5 += Double(p[i + 5]); a6 += Double(p[i + 6]); a7 += Double(p[i + 7])
        i += 8
    }
    var tail = 0.0
    while i < n { tail += Double(p[i]); i += 1 }
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + tail
}

extension Tensor {
    /// Resolves the axis of a reduction (rank ≥ 1 required).
    @inline(__always)
    func reductionAxis(_ axis: Int, _ op: String) -> Int {
        precondition(rank >= 1, "\(op) along axis \(axis) of a 0-d tensor")
        return normalizeAxis(axis, rank: rank)
    }

    // MARK: sum and mean of every element

    /// `Σᵢ xᵢ` over every element, shape `[]` (accumulated in float64; 0 when empty).
    /// `dx = dy` for every element. FLOPs: `count` forward, `count` backward.
    public func sum() -> Tensor { sumAll(mean: false) }

    /// `(1/count) · Σᵢ xᵢ`, shape `[]` (NaN for an empty tensor, as NumPy and PyTorch).
    /// `dx = dy / count`. FLOPs: `count + 1` forward, `count` backward.
    public func mean() -> Tensor { sumAll(mean: true) }

    func sumAll(mean: Bool) -> Tensor {
        let n = count, px = data
        let acc = doubleSum(px, n)
        let scale: Float = mean ? 1 / Float(n) : 1
        let out = Tensor(scalar: mean ? Float(acc / Double(n)) : Float(acc))
        Flops.add(n + (mean ? 1 : 0))
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base[0] * scale, gx = self.gradPointer()
                for i in 0..<n { gx[i] += g }
                Flops.add(n)
            }
        }
        return out
    }

    // MARK: sum and mean along an axis

    /// `y[o, j] = Σᵢ x[o, i, j]` along `axis` (the axis removed, or kept as size 1).
    /// `dx[o, i, j] = dy[o, j]`. FLOPs: one per input element forward and backward.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        sumAlong(reductionAxis(axis, "sum"), keepDims: keepDims, mean: false)
    }

    /// `y[o, j] = (1/n) · Σᵢ x[o, i, j]` along `axis` of size `n` (NaN when `n == 0`).
    /// `dx[o, i, j] = dy[o, j] / n`. FLOPs: `count + outputs` forward, `count` backward.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        sumAlong(reductionAxis(axis, "mean"), keepDims: keepDims, mean: true)
    }

    func sumAlong(_ a: Int, keepDims: Bool, mean: Bool) -> Tensor {
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(uninitialized: reducedShape(shape, a, keepDims: keepDims))
        let scale: Float = mean ? 1 / Float(n) : 1
        let px = data, po = out.data
        if inner == 1 {
            for o in 0..<outer {
                let row = px + o * n
                var s: Float = 0
                for i in 0..<n { s += row[i] }
                po[o] = mean ? s * scale : s
            }
        } else {
            for o in 0..<outer {
                let dst = po + o * inner
                dst.update(repeating: 0, count: inner)
                for i in 0..<n {
                    let src = px + (o * n + i) * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
                if mean { for j in 0..<inner { dst[j] *= scale } }
            }
        }
        Flops.add(count + (mean ? out.count : 0))
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    let src = g + o * inner
                    for i in 0..<n {
                        let dst = gx + (o * n + i) * inner
                        for j in 0..<inner { dst[j] += src[j] * scale }
                    }
                }
                Flops.add(self.count)
            }
        }
        return out
    }

    // MARK: max along an axis

    /// `y[o, j] = maxᵢ x[o, i, j]` along `axis` (which must not be empty). A NaN in a
    /// slice makes its maximum NaN, as PyTorch. The gradient goes to the first maximal
    /// element only: `dx[o, i*, j] = dy[o, j]` with `i*` the lowest index attaining the
    /// maximum, 0 elsewhere.
    /// FLOPs: one per input element forward, one per output element backward.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = reductionAxis(axis, "max")
        let (outer, n, inner) = axisSplit(shape, a)
        precondition(n > 0, "max along an empty axis \(axis) of \(shape)")
        let out = Tensor(uninitialized: reducedShape(shape, a, keepDims: keepDims))
        var argmax = [Int](repeating: 0, count: outer * inner)
        let px = data, po = out.data
        argmax.withUnsafeMutableBufferPointer { arg in
            // Take v when it is larger, or when it is NaN and the best so far is not.
            if inner == 1 {
                for o in 0..<outer {
                    let row = px + o * n
                    var best = row[0], bi = 0
                    for i in 1..<n {
                        let v = row[i]
                        if best == best && !(v <= best) { best = v; bi = i }
                    }
                    po[o] = best
                    arg[o] = bi
                }
            } else {
                for o in 0..<outer {
                    let best = po + o * inner
                    best.update(from: px + o * n * inner, count: inner)
                    for i in 1..<n {
                        let row = px + (o * n + i) * inner
                        for j in 0..<inner {
                            let v = row[j], b = best[j]
                            if b == b && !(v <= b) { best[j] = v; arg[o * inner + j] = i }
                        }
                    }
                }
            }
        }
        Flops.add(count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    for j in 0..<inner {
                        gx[(o * n + argmax[o * inner + j]) * inner + j] += g[o * inner + j]
                    }
                }
                Flops.add(outer * inner)
            }
        }
        return out
    }

    // MARK: log-sum-exp along an axis

    /// `y[o, j] = log Σᵢ exp(x[o, i, j])` along `axis`, computed stably as
    /// `m + log Σᵢ exp(x − m)` with `m` the slice maximum, so inputs like ±1000 neither
    /// overflow nor underflow. A slice of all `−∞` (or an empty axis) gives `−∞`, one
    /// containing `+∞` gives `+∞`.
    /// `dx[o, i, j] = dy[o, j] · exp(x[o, i, j] − y[o, j])` (the softmax); slices with an
    /// infinite result pass no gradient.
    /// FLOPs: three per input element forward, three backward.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = reductionAxis(axis, "logSumExp")
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(uninitialized: reducedShape(shape, a, keepDims: keepDims))
        let px = data, po = out.data
        if inner == 1 {
            for o in 0..<outer {
                let row = px + o * n
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, row[i]) }
                if !m.isFinite { po[o] = m; continue }
                var s: Float = 0
                for i in 0..<n { s += Foundation.exp(row[i] - m) }
                po[o] = m + Foundation.log(s)
            }
        } else {
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: inner)
            defer { sums.deallocate() }
            for o in 0..<outer {
                let m = po + o * inner   // the maxima, then the results
                m.update(repeating: -.infinity, count: inner)
                for i in 0..<n {
                    let row = px + (o * n + i) * inner
                    for j in 0..<inner { m[j] = Swift.max(m[j], row[j]) }
                }
                sums.update(repeating: 0, count: inner)
                for i in 0..<n {
                    let row = px + (o * n + i) * inner
                    for j in 0..<inner { sums[j] += Foundation.exp(row[j] - m[j]) }
                }
                for j in 0..<inner where m[j].isFinite { m[j] += Foundation.log(sums[j]) }
            }
        }
        Flops.add(3 * count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    for i in 0..<n {
                        let base = (o * n + i) * inner
                        for j in 0..<inner {
                            let l = po[o * inner + j]
                            if l.isFinite { gx[base + j] += g[o * inner + j] * Foundation.exp(px[base + j] - l) }
                        }
                    }
                }
                Flops.add(3 * self.count)
            }
        }
        return out
    }
}
