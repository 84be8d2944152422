import Foundation

/// Softmax and log-softmax along one axis, stable for any finite input (the slice maximum
/// is subtracted before exponentiating, so logits like ±1000 neither overflow nor
/// underflow and stay accurate to float32 rounding):
///
///     softmax(x)ᵢ    = exp(xᵢ − m) / Σₖ exp(xₖ − m),              m = maxₖ xₖ
///     logSoftmax(x)ᵢ = (xᵢ − m) − log Σₖ exp(xₖ − m)
///
/// (log-softmax subtracts `m` and the log-sum separately, as PyTorch, so outputs near 0
/// keep full precision even when the logits are large).
///
/// Gradients (`y` the output, `g = dL/dy`):
///
///     softmax:    dxᵢ = yᵢ · (gᵢ − Σₖ gₖ·yₖ)
///     logSoftmax: dxᵢ = gᵢ − exp(yᵢ) · Σₖ gₖ
///
/// A slice whose entries are all `−∞` (e.g. fully masked scores) gives zeros (softmax)
/// and `−∞` (log-softmax) without NaN; a `+∞` or NaN input gives NaN, as PyTorch. The last axis takes a contiguous fast path; other
/// axes stream `inner`-long rows (see `Reduce.swift` for the `[outer, n, inner]` view).
///
/// FLOPs: softmax 5 per element forward (max, subtract, exp, sum, scale) and 4 backward;
/// log-softmax 5 forward and 3 backward.
extension Tensor {
    /// Softmax along `axis` (default: the last), same shape as the input.
    public func softmax(axis: Int = -1) -> Tensor { softmaxAlong(axis, log: false) }

    /// Log-softmax along `axis` (default: the last), same shape as the input.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxAlong(axis, log: true) }

    func softmaxAlong(_ axis: Int, log: Bool) -> Tensor {
        let a = reductionAxis(axis, log ? "logSoftmax" : "softmax")
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(uninitialized: shape)
        let px = data, po = out.data
        if inner == 1 {
            for r in 0..<outer { softmaxRowForward(px + r * n, po + r * n, n, log: log) }
        } else {
            // Per outer index: column maxima, then sums, then the normalisation, each a
            // pass over contiguous rows of `inner` values.
            let shift = UnsafeMutablePointer<Float>.allocate(capacity: 2 * inner)
            defer { shift.deallocate() }
            let c = shift + inner
            for o in 0..<outer {
                let x = px + o * n * inner, y = po + o * n * inner
                shift.update(repeating: -.infinity, count: inner)
                for i in 0..<n {
                    let row = x + i * inner
                    for j in 0..<inner { shift[j] = Swift.max(shift[j], row[j]) }
                }
                // An all −∞ column is shifted by 0 instead, so that exp gives 0, not NaN.
                for j in 0..<inner where shift[j] == -.infinity { shift[j] = 0 }
                c.update(repeating: 0, count: inner)
                for i in 0..<n {
                    let row = x + i * inner, orow = y + i * inner
                    for j in 0..<inner {
                        let e = Foundation.exp(row[j] - shift[j])
                        if !log { orow[j] = e }
                        c[j] += e
                    }
                }
                if log {
                    for j in 0..<inner { c[j] = c[j] > 0 ? Foundation.log(c[j]) : 0 }
                    for i in 0..<n {
                        let row = x + i * inner, orow = y + i * inner
                        for j in 0..<inner { orow[j] = (row[j] - shift[j]) - c[j] }
                    }
                } else {
                    for j in 0..<inner { c[j] = c[j] > 0 ? 1 / c[j] : 0 }
                    for i in 0..<n {
                        let orow = y + i * inner
                        for j in 0..<inner { orow[j] *= c[j] }
                    }
                }
            }
        }
        Flops.add(5 * count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                if inner == 1 {
                    for r in 0..<outer {
                        softmaxRowBackward(po + r * n, g + r * n, gx + r * n, n, log: log)
                    }
                } else {
                    let acc = UnsafeMutablePointer<Float>.allocate(capacity: inner)
                    defer { acc.deallocate() }
                    for o in 0..<outer {
                        let y = po + o * n * inner, gy = g + o * n * inner, d = gx + o * n * inner
                        // acc = Σₖ gₖ·yₖ (softmax) or Σₖ gₖ (log-softmax), per column.
                        acc.update(repeating: 0, count: inner)
                        for i in 0..<n {
                            let yr = y + i * inner, gr = gy + i * inner
                            if log { for j in 0..<inner { acc[j] += gr[j] } }
                            else { for j in 0..<inner { acc[j] += gr[j] * yr[j] } }
                        }
                        for i in 0..<n {
                            let yr = y + i * inner, gr = gy + i * inner, dr = d + i * inner
                            if log { for j in 0..<inner { dr[j] += gr[j] - Foundation.exp(yr[j]) * acc[j] } }
                            else { for j in 0..<inner { dr[j] += yr[j] * (gr[j] - acc[j]) } }
                        }
                    }
                }
                Flops.add((log ? 3 : 4) * self.count)
            }
        }
        return out
    }
}

/// Softmax or log-softmax of one contiguous row `x[0..<n]` into `y[0..<n]`.
@inline(__always)
func softmaxRowForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    var m = -Float.infinity
    for i in 0..<n { m = Swift.max(m, x[i]) }
    if m == -.infinity { m = 0 }   // all −∞: exp gives 0 and the sum is 0
    var s: Float = 0
    if log {
        for i in 0..<n { s += Foundation.exp(x[i] - m) }
        let logS = s > 0 ? Foundation.log(s) : 0
        for i in 0..<n { y[i] = (x[i] - m) - logS }
    } else {
        for i in 0..<n {
            let e = Foundation.exp(x[i] - m)
            y[i] = e
            s += e
        }
        let inv: Float = s > 0 ? 1 / s : 0
        for i in 0..<n { y[i] *= inv }
    }
}

/// Accumulates the input gradient of one contiguous softmax / log-softmax row.
@inline(__always)
func softmaxRowBackward(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                        _ dx: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    var acc: Float = 0
    if log {
        for i in 0..<n { acc += g[i] }
        for i in 0..<n { dx[i] += g[i] - Foundation.exp(y[i]) * acc }
    } else {
        for i in 0..<n { acc += g[i] * y[i] }
        for i in 0..<n { dx[i] += y[i] * (g[i] - acc) }
    }
}
