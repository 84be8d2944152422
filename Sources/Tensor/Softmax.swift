import Foundation

/// Softmax and log-softmax over one axis, stable (the row maximum is subtracted first).
/// A row of all `-inf` gives zeros (softmax) and `-inf` (log-softmax) without NaN.
///
/// FLOPs: softmax 5 per element forward (max, subtract, exp, sum, divide), 4 backward;
/// log-softmax 5 forward, 3 backward.
extension Tensor {
    public func softmax(axis: Int = -1) -> Tensor { softmaxImpl(axis: axis, log: false) }
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxImpl(axis: axis, log: true) }

    func softmaxImpl(axis: Int, log: Bool) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        let (outer, n, inner) = axisSplit(shape, a)
        let out = Tensor(uninitialized: shape)
        let px = data, po = out.data
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * n * inner + j
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, px[base + i * inner]) }
                if m == -.infinity {
                    for i in 0..<n { po[base + i * inner] = log ? -.infinity : 0 }
                    continue
                }
                var s: Float = 0
                if log {
                    for i in 0..<n { s += Foundation.exp(px[base + i * inner] - m) }
                    let lse = m + Foundation.log(s)
                    for i in 0..<n { po[base + i * inner] = px[base + i * inner] - lse }
                } else {
                    for i in 0..<n {
                        let e = Foundation.exp(px[base + i * inner] - m)
                        po[base + i * inner] = e
                        s += e
                    }
                    let inv = 1 / s
                    for i in 0..<n { po[base + i * inner] *= inv }
                }
            }
        }
        Flops.add(5 * count)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for o in 0..<outer {
                    for j in 0..<inner {
                        let base = o * n * inner + j
                        if log {
                            // dx = g − softmax · Σ g
                            var gs: Float = 0
                            for i in 0..<n { gs += g[base + i * inner] }
                            for i in 0..<n {
                                let y = po[base + i * inner]
                                if y == -.infinity { continue }
                                gx[base + i * inner] += g[base + i * inner] - Foundation.exp(y) * gs
                            }
                        } else {
                            // dx = y · (g − Σ g·y)
                            var dot: Float = 0
                            for i in 0..<n { dot += g[base + i * inner] * po[base + i * inner] }
                            for i in 0..<n {
                                let y = po[base + i * inner]
                                gx[base + i * inner] += y * (g[base + i * inner] - dot)
                            }
                        }
                    }
                }
                Flops.add((log ? 3 : 4) * self.count)
            }
        }
        return out
    }
}
