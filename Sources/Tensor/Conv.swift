/// 1-D and 2-D convolutions (cross-correlation, as PyTorch's `conv1d`/`conv2d`) by im2col and
/// one GEMM per image; the backward pass recomputes each image's columns (nothing large is
/// kept between passes) and folds the column gradient back with col2im.

/// Geometry of a 2-D convolution; a 1-D convolution is the `H = KH = 1` case.
struct ConvGeometry {
    let n: Int, cin: Int, h: Int, w: Int
    let cout: Int, kh: Int, kw: Int
    let strideH: Int, strideW: Int, padH: Int, padW: Int
    let hout: Int, wout: Int

    init(n: Int, cin: Int, h: Int, w: Int, cout: Int, kh: Int, kw: Int,
         strideH: Int, strideW: Int, padH: Int, padW: Int, op: String) {
        precondition(strideH >= 1 && strideW >= 1, "\(op): stride must be at least 1")
        precondition(padH >= 0 && padW >= 0, "\(op): padding must be non-negative")
        precondition(kh >= 1 && kw >= 1, "\(op): empty kernel")
        precondition(h + 2 * padH >= kh && w + 2 * padW >= kw,
                     "\(op): kernel \(kh)×\(kw) larger than the padded input \(h + 2 * padH)×\(w + 2 * padW)")
        self.n = n; self.cin = cin; self.h = h; self.w = w
        self.cout = cout; self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW; self.padH = padH; self.padW = padW
        hout = (h + 2 * padH - kh) / strideH + 1
        wout = (w + 2 * padW - kw) / strideW + 1
    }

    /// Positions per output channel and image.
    var p: Int { hout * wout }
    /// Column length: one weight row.
    var ckk: Int { cin * kh * kw }
    /// The columns are the image itself (1×1 kernel, stride 1, no padding).
    var isPointwise: Bool { kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }

    /// Output columns `ow` in `lo..<hi` read inside the row for kernel column `kx`
    /// (`0 <= ow·strideW - padW + kx < w`); the rest read padding.
    @inline(__always)
    func validColumns(_ kx: Int) -> (lo: Int, hi: Int) {
        let first = padW - kx
        let lo = first <= 0 ? 0 : (first + strideW - 1) / strideW
        let last = w - 1 + padW - kx
        let hi = last < 0 ? 0 : Swift.min(wout, last / strideW + 1)
        return (Swift.min(lo, hi), hi)
    }

    /// Unfolds one image `x [cin, h, w]` into `cols [cin·kh·kw, hout·wout]`:
    /// `cols[(c·kh + ky)·kw + kx, oy·wout + ox] = x[c, oy·sH - pH + ky, ox·sW - pW + kx]`
    /// (0 outside the image).
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        for c in 0..<cin {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = cols + ((c * kh + ky) * kw + kx) * p
                    let (lo, hi) = validColumns(kx)
                    for oy in 0..<hout {
                        let dst = row + oy * wout
                        let iy = oy * strideH - padH + ky
                        if iy < 0 || iy >= h {
                            dst.update(repeating: 0, count: wout)
                            continue
                        }
                        let src = x + (c * h + iy) * w, off = kx - padW
                        for ox in 0..<lo { dst[ox] = 0 }
                        if strideW == 1 {
                            if hi > lo { (dst + lo).update(from: src + (lo + off), count: hi - lo) }
                        } else {
                            for ox in lo..<hi { dst[ox] = src[ox * strideW + off] }
                        }
                        for ox in hi..<wout { dst[ox] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back into the image position it was
    /// read from (`gx [cin, h, w] += fold(dcols)`).
    func col2im(_ cols: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>) {
        for c in 0..<cin {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = cols + ((c * kh + ky) * kw + kx) * p
                    let (lo, hi) = validColumns(kx)
                    if hi <= lo { continue }
                    for oy in 0..<hout {
                        let iy = oy * strideH - padH + ky
                        if iy < 0 || iy >= h { continue }
                        let src = row + oy * wout
                        let dst = gx + (c * h + iy) * w, off = kx - padW
                        for ox in lo..<hi { dst[ox * strideW + off] += src[ox] }
                    }
                }
            }
        }
    }
}

/// The shared kernel: `x` viewed as `[n, cin, h, w]`, `w` as `[cout, cin, kh, kw]`, output
/// `[n, cout, hout, wout]` written into a tensor of shape `outShape`.
func convolution(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ g: ConvGeometry, outShape: [Int]) -> Tensor {
    let p = g.p, ckk = g.ckk, cout = g.cout
    let imageIn = g.cin * g.h * g.w, imageOut = cout * p
    let out = Tensor(uninitialized: outShape)
    let cols: UnsafeMutablePointer<Float>? = g.isPointwise || g.n == 0 ? nil
        : UnsafeMutablePointer<Float>.allocate(capacity: ckk * p)
    defer { cols?.deallocate() }
    for i in 0..<g.n {
        let xi = x.data + i * imageIn, oi = out.data + i * imageOut
        let colsI: UnsafeMutablePointer<Float>
        if let cols { g.im2col(xi, cols); colsI = cols } else { colsI = xi }
        if let bias {
            for o in 0..<cout { (oi + o * p).update(repeating: bias.data[o], count: p) }
        }
        // out_i [cout, p] = W [cout, ckk] · cols [ckk, p] (+ bias)
        sgemm(transA: false, transB: false, m: cout, n: p, k: ckk, a: weight.data, lda: ckk,
              b: colsI, ldb: p, beta: bias == nil ? 0 : 1, c: oi, ldc: p)
    }
    Flops.add(2 * g.n * cout * p * ckk + (bias == nil ? 0 : g.n * cout * p))

    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    if Autograd.needsGrad(inputs) {
        Autograd.record(out) {
            let gout = out.gradStorage!.base
            let needX = x.requiresGrad, needW = weight.requiresGrad
            if needX || needW {
                let cols: UnsafeMutablePointer<Float>? = g.isPointwise || !needW ? nil
                    : UnsafeMutablePointer<Float>.allocate(capacity: ckk * p)
                let dcols: UnsafeMutablePointer<Float>? = g.isPointwise || !needX ? nil
                    : UnsafeMutablePointer<Float>.allocate(capacity: ckk * p)
                defer { cols?.deallocate(); dcols?.deallocate() }
                let gx: UnsafeMutablePointer<Float>? = needX ? x.gradPointer() : nil
                let gw: UnsafeMutablePointer<Float>? = needW ? weight.gradPointer() : nil
                for i in 0..<g.n {
                    let xi = x.data + i * imageIn, gi = gout + i * imageOut
                    if let gw {
                        let colsI: UnsafeMutablePointer<Float>
                        if let cols { g.im2col(xi, cols); colsI = cols } else { colsI = xi }
                        // dW [cout, ckk] += dout_i [cout, p] · cols_iᵀ [p, ckk]
                        sgemm(transA: false, transB: true, m: cout, n: ckk, k: p, a: gi, lda: p,
                              b: colsI, ldb: p, beta: 1, c: gw, ldc: ckk)
                    }
                    if let gx {
                        let gxi = gx + i * imageIn
                        // dcols [ckk, p] = Wᵀ [ckk, cout] · dout_i [cout, p], folded into dx_i
                        if let dcols {
                            sgemm(transA: true, transB: false, m: ckk, n: p, k: cout, a: weight.data, lda: ckk,
                                  b: gi, ldb: p, beta: 0, c: dcols, ldc: p)
                            g.col2im(dcols, gxi)
                        } else {
                            sgemm(transA: true, transB: false, m: ckk, n: p, k: cout, a: weight.data, lda: ckk,
                                  b: gi, ldb: p, beta: 1, c: gxi, ldc: p)
                        }
                    }
                }
                let gemm = 2 * g.n * cout * p * ckk
                Flops.add((needX ? gemm : 0) + (needW ? gemm : 0))
            }
            if let bias, bias.requiresGrad {
                let gb = bias.gradPointer()
                for i in 0..<g.n {
                    for o in 0..<cout {
                        let row = gout + i * imageOut + o * p
                        var acc: Float = 0
                        for j in 0..<p { acc += row[j] }
                        gb[o] += acc
                    }
                }
                Flops.add(g.n * cout * p)
            }
        }
    }
    return out
}

/// 1-D convolution (cross-correlation, no kernel flip), with zero padding on both ends:
/// `y[n, o, l] = bias[o] + Σ_{c, k} w[o, c, k] · x[n, c, l·stride - padding + k]`.
///
/// Shapes: `x [N, Cin, L]`, `w [Cout, Cin, K]`, `bias [Cout]` (optional) ->
/// `[N, Cout, Lout]`, `Lout = (L + 2·padding - K) / stride + 1` (floor).
/// FLOPs: forward `2·N·Cout·Lout·Cin·K` (+ `N·Cout·Lout` with a bias); backward the same
/// GEMM count once for `dx` and once for `dw`, plus `N·Cout·Lout` for `dbias`.
public func conv1d(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 3, "conv1d input must be [N, Cin, L], got \(x.shape)")
    precondition(w.rank == 3 && w.shape[1] == x.shape[1],
                 "conv1d weight must be [Cout, Cin, K] with Cin = \(x.shape[1]), got \(w.shape)")
    if let bias { precondition(bias.shape == [w.shape[0]], "conv1d bias must be [\(w.shape[0])], got \(bias.shape)") }
    let g = ConvGeometry(n: x.shape[0], cin: x.shape[1], h: 1, w: x.shape[2], cout: w.shape[0], kh: 1, kw: w.shape[2],
                         strideH: 1, strideW: stride, padH: 0, padW: padding, op: "conv1d")
    return convolution(x, w, bias, g, outShape: [g.n, g.cout, g.wout])
}

/// 2-D convolution (cross-correlation, no kernel flip), with the same zero padding and
/// stride along both spatial axes:
/// `y[n, o, i, j] = bias[o] + Σ_{c, u, v} w[o, c, u, v] · x[n, c, i·s - p + u, j·s - p + v]`.
///
/// Shapes: `x [N, Cin, H, W]`, `w [Cout, Cin, KH, KW]`, `bias [Cout]` (optional) ->
/// `[N, Cout, Hout, Wout]`, `Hout = (H + 2·padding - KH) / stride + 1`, likewise `Wout`.
/// FLOPs: forward `2·N·Cout·Hout·Wout·Cin·KH·KW` (+ `N·Cout·Hout·Wout` with a bias);
/// backward the same GEMM count once for `dx` and once for `dw`, plus
/// `N·Cout·Hout·Wout` for `dbias`.
public func conv2d(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4, "conv2d input must be [N, C, H, W], got \(x.shape)")
    precondition(w.rank == 4 && w.shape[1] == x.shape[1],
                 "conv2d weight must be [Cout, Cin, KH, KW] with Cin = \(x.shape[1]), got \(w.shape)")
    if let bias { precondition(bias.shape == [w.shape[0]], "conv2d bias must be [\(w.shape[0])], got \(bias.shape)") }
    let g = ConvGeometry(n: x.shape[0], cin: x.shape[1], h: x.shape[2], w: x.shape[3], cout: w.shape[0],
                         kh: w.shape[2], kw: w.shape[3], strideH: stride, strideW: stride,
                         padH: padding, padW: padding, op: "conv2d")
    return convolution(x, w, bias, g, outShape: [g.n, g.cout, g.hout, g.wout])
}
