import Foundation

/// Splits `shape` around `axis` into (outer, n, inner) so that element
/// `(o, i, j)` sits at `o·n·inner + i·inner + j`.
@inline(__always)
func axisSplit(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shapeProduct(shape, 0, axis), shape[axis], shapeProduct(shape, axis + 1, shape.count))
}

func reducedShape(_ shape: [Int], _ axis: Int, keepDims: Bool) -> [Int] {
    var s = shape
    if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
    return s
}

extension Tensor {
    /// Sum of all elements, shape `[]`. FLOPs: one per element.
    public func sum() -> Tensor {
        var acc: Double = 0
        let p = data
        for i in 0..<count { acc += Double(p[i]) }
        let out = Tensor(scalar: Float(acc))
        Flops.add(count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base[0], gx = self.gradPointer()
                for i in 0..<self.count { gx[i] += g }
                Flops.add(self.count)
            }
        }
        return out
    }

    /// Mean of all elements, shape `[]`.
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Sum over `axis`. FLOPs: one per input element.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(zeros: reducedShape(shape, a, keepDims: keepDims))
        let px = data, po = out.data
        for o in 0..<outer {
            let dst = po + o * inner
            for i in 0..<n {
                let src = px + (o * n + i) * inner
                for j in 0..<inner { dst[j] += src[j] }
            }
        }
        Flops.add(count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    let src = g + o * inner
                    for i in 0..<n {
                        let dst = gx + (o * n + i) * inner
                        for j in 0..<inner { dst[j] += src[j] }
                    }
                }
                Flops.add(self.count)
            }
        }
        return out
    }

    /// Mean over `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let n = dim(axis)
        return sum(axis: axis, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Maximum over `axis`; the gradient goes to the first maximal element.
    /// FLOPs: one per input element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        let (outer, n, inner) = axisSplit(shape, a)
        precondition(n > 0, "max over an empty axis")
        let out = Tensor(uninitialized: reducedShape(shape, a, keepDims: keepDims))
        var arg = [Int](repeating: 0, count: outer * inner)
        let px = data, po = out.data
        for o in 0..<outer {
            for j in 0..<inner {
                var best = px[o * n * inner + j], bi = 0
                for i in 1..<Swift.max(n, 1) {
                    let v = px[(o * n + i) * inner + j]
                    if v > best { best = v; bi = i }
                }
                po[o * inner + j] = best
                arg[o * inner + j] = bi
            }
        }
        Flops.add(count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    for j in 0..<inner { gx[(o * n + arg[o * inner + j]) * inner + j] += g[o * inner + j] }
                }
            }
        }
        return out
    }

    /// `log Σ exp(x)` over `axis`, computed stably around the maximum; gradient
    /// `softmax(x)`. FLOPs: three per input element.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(uninitialized: reducedShape(shape, a, keepDims: keepDims))
        let px = data, po = out.data
        for o in 0..<outer {
            for j in 0..<inner {
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, px[(o * n + i) * inner + j]) }
                if m == -.infinity { po[o * inner + j] = -.infinity; continue }
                var s: Float = 0
                for i in 0..<n { s += Foundation.exp(px[(o * n + i) * inner + j] - m) }
                po[o * inner + j] = m + Foundation.log(s)
            }
        }
        Flops.add(3 * count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    for j in 0..<inner {
                        let l = po[o * inner + j], gv = g[o * inner + j]
                        if l == -.infinity { continue }
                        for i in 0..<n {
                            let idx = (o * n + i) * inner + j
                            gx[idx] += gv * Foundation.exp(px[idx] - l)
                        }
                    }
                }
                Flops.add(3 * self.count)
            }
        }
        return out
    }
}
