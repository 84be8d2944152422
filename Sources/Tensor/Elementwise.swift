/// Elementwise arithmetic with NumPy broadcasting, and the unary-op helper that every
/// pointwise function (exp, log, GELU, …) is built on.

/// The broadcast shape of two shapes (NumPy rules), or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Strides of `shape` read as broadcast into `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let r = outShape.count
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let oi = i + (r - shape.count)
        strides[oi] = shape[i] == 1 && outShape[oi] != 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Calls `body(outOffset, aOffset, bOffset, n, aStep, bStep)` for every innermost row of
/// the broadcast of `a` and `b` into `outShape`.
@inline(__always)
func forEachBroadcastRow(_ outShape: [Int], _ sa: [Int], _ sb: [Int],
                         _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
    let r = outShape.count
    if r == 0 { body(0, 0, 0, 1, 0, 0); return }
    let n = outShape[r - 1]
    let rows = shapeProduct(outShape, 0, r - 1)
    if n == 0 || rows == 0 { return }
    var idx = [Int](repeating: 0, count: r)
    var ao = 0, bo = 0
    for row in 0..<rows {
        body(row * n, ao, bo, n, sa[r - 1], sb[r - 1])
        // odometer over the outer dimensions
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            ao += sa[d]; bo += sb[d]
            if idx[d] < outShape[d] { break }
            ao -= sa[d] * outShape[d]; bo -= sb[d] * outShape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

enum BinaryKind { case add, sub, mul, div }

/// `dst[i] += v(i)` for `i` in `lo..<hi`, or `dst[i] = v(i)` when `dst` came from
/// `gradForWrite()` fresh (`accumulate == false`); nothing when `dst` is nil.
@inline(__always)
func writeGrad(_ dst: (base: UnsafeMutablePointer<Float>, accumulate: Bool)?, _ lo: Int, _ hi: Int,
               _ v: (Int) -> Float) {
    guard let dst else { return }
    let p = dst.base
    if dst.accumulate {
        for i in lo..<hi { p[i] += v(i) }
    } else {
        for i in lo..<hi { p[i] = v(i) }
    }
}

func binaryOp(_ a: Tensor, _ b: Tensor, _ kind: BinaryKind) -> Tensor {
    guard let outShape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: outShape)
    let pa = a.data, pb = b.data, po = out.data
    let sameShape = a.shape == b.shape
    if sameShape {
        parallelRanges(out.count, grain: elementwiseGrain) { lo, hi in
            switch kind {
            case .add: for i in lo..<hi { po[i] = pa[i] + pb[i] }
            case .sub: for i in lo..<hi { po[i] = pa[i] - pb[i] }
            case .mul: for i in lo..<hi { po[i] = pa[i] * pb[i] }
            case .div: for i in lo..<hi { po[i] = pa[i] / pb[i] }
            }
        }
    } else {
        let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
        forEachBroadcastRow(outShape, sa, sb) { o, ao, bo, n, as_, bs in
            let x = pa + ao, y = pb + bo, z = po + o
            switch kind {
            case .add: for j in 0..<n { z[j] = x[j * as_] + y[j * bs] }
            case .sub: for j in 0..<n { z[j] = x[j * as_] - y[j * bs] }
            case .mul: for j in 0..<n { z[j] = x[j * as_] * y[j * bs] }
            case .div: for j in 0..<n { z[j] = x[j * as_] / y[j * bs] }
            }
        }
    }
    Flops.add(out.count)
    if Autograd.needsGrad(a, b) {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            if sameShape {
                // Every element of both gradients is written: assign into fresh buffers.
                // (When a and b are one tensor, b's pass adds after a's assigns, per chunk.)
                let ga = a.requiresGrad ? a.gradForWrite() : nil
                let gb = b.requiresGrad ? b.gradForWrite() : nil
                parallelRanges(out.count, grain: elementwiseGrain) { lo, hi in
                    switch kind {
                    case .add:
                        writeGrad(ga, lo, hi) { g[$0] }
                        writeGrad(gb, lo, hi) { g[$0] }
                    case .sub:
                        writeGrad(ga, lo, hi) { g[$0] }
                        writeGrad(gb, lo, hi) { -g[$0] }
                    case .mul:
                        writeGrad(ga, lo, hi) { g[$0] * pb[$0] }
                        writeGrad(gb, lo, hi) { g[$0] * pa[$0] }
                    case .div:
                        writeGrad(ga, lo, hi) { g[$0] / pb[$0] }
                        writeGrad(gb, lo, hi) { -(g[$0] * pa[$0] / (pb[$0] * pb[$0])) }
                    }
                }
            } else {
                let ga: UnsafeMutablePointer<Float>? = a.requiresGrad ? a.gradPointer() : nil
                let gb: UnsafeMutablePointer<Float>? = b.requiresGrad ? b.gradPointer() : nil
                let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
                forEachBroadcastRow(outShape, sa, sb) { o, ao, bo, n, as_, bs in
                    let x = pa + ao, y = pb + bo, gz = g + o
                    switch kind {
                    case .add:
                        if let ga { let t = ga + ao; for j in 0..<n { t[j * as_] += gz[j] } }
                        if let gb { let t = gb + bo; for j in 0..<n { t[j * bs] += gz[j] } }
                    case .sub:
                        if let ga { let t = ga + ao; for j in 0..<n { t[j * as_] += gz[j] } }
                        if let gb { let t = gb + bo; for j in 0..<n { t[j * bs] -= gz[j] } }
                    case .mul:
                        if let ga { let t = ga + ao; for j in 0..<n { t[j * as_] += gz[j] * y[j * bs] } }
                        if let gb { let t = gb + bo; for j in 0..<n { t[j * bs] += gz[j] * x[j * as_] } }
                    case .div:
                        if let ga { let t = ga + ao; for j in 0..<n { t[j * as_] += gz[j] / y[j * bs] } }
                        if let gb {
                            let t = gb + bo
                            for j in 0..<n { let yv = y[j * bs]; t[j * bs] -= gz[j] * x[j * as_] / (yv * yv) }
                        }
                    }
                }
            }
            Flops.add(2 * out.count)
        }
    }
    return out
}

public func + (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .add) }
public func - (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .sub) }
public func * (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .mul) }
public func / (a: Tensor, b: Tensor) -> Tensor { binaryOp(a, b, .div) }

/// `y = f(x)` elementwise, with `dy/dx = df(x, y)` (given both the input and the output,
/// so that e.g. exp and tanh reuse the output). One FLOP per element forward and two
/// backward.
@inline(__always)
public func unaryOp(_ x: Tensor, _ f: (Float) -> Float,
                    derivative df: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.data, po = out.data
    parallelRanges(x.count, grain: elementwiseGrain) { lo, hi in
        for i in lo..<hi { po[i] = f(px[i]) }
    }
    Flops.add(x.count)
    if Autograd.needsGrad(x) {
        Autograd.record(out) {
            let g = out.gradStorage!.base, (gx, acc) = x.gradForWrite()
            parallelRanges(x.count, grain: elementwiseGrain) { lo, hi in
                if acc {
                    for i in lo..<hi { gx[i] += g[i] * df(px[i], po[i]) }
                } else {
                    for i in lo..<hi { gx[i] = g[i] * df(px[i], po[i]) }
                }
            }
            Flops.add(2 * x.count)
        }
    }
    return out
}

extension Tensor {
    /// `self * s + t` with constant scalars: one pass.
    public func affine(scale s: Float, shift t: Float = 0) -> Tensor {
        unaryOp(self, { $0 * s + t }, derivative: { _, _ in s })
    }
}

public prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1) }
public func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
public func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
public func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
public func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
public func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s) }
public func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s) }
public func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s) }
