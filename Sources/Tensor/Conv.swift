/// Convolutions (cross-correlation, as in PyTorch) by im2col + one GEMM per image, with
/// col2im in the backward pass.

/// Geometry of a 2-D convolution; 1-D convolutions are the case `h = kh = 1`, `ph = 0`.
struct ConvGeometry {
    let n: Int, cin: Int, h: Int, w: Int
    let cout: Int, kh: Int, kw: Int
    let sh: Int, sw: Int, ph: Int, pw: Int
    let oh: Int, ow: Int

    init(n: Int, cin: Int, h: Int, w: Int, cout: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int) {
        precondition(sh >= 1 && sw >= 1, "convolution stride must be >= 1")
        precondition(ph >= 0 && pw >= 0, "convolution padding must be >= 0")
        precondition(kh >= 1 && kw >= 1, "convolution kernel must be non-empty")
        precondition(h + 2 * ph >= kh && w + 2 * pw >= kw,
                     "convolution kernel \(kh)×\(kw) larger than padded input \(h + 2 * ph)×\(w + 2 * pw)")
        self.n = n; self.cin = cin; self.h = h; self.w = w
        self.cout = cout; self.kh = kh; self.kw = kw
        self.sh = sh; self.sw = sw; self.ph = ph; self.pw = pw
        oh = (h + 2 * ph - kh) / sh + 1
        ow = (w + 2 * pw - kw) / sw + 1
    }

    /// Rows of the column matrix (`cin·kh·kw`), columns (`oh·ow`).
    var colRows: Int { cin * kh * kw }
    var colCols: Int { oh * ow }
    /// A 1×1 kernel with stride 1 and no padding: the column matrix is the image itself.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 }

    @inline(__always)
    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Output columns `ox` whose input column `ox·sw − pw + j` lies in `0..<w`.
    @inline(__always)
    func validColumns(_ j: Int) -> (lo: Int, hi: Int) {
        let lo = Swift.max(0, -ConvGeometry.floorDiv(j - pw, sw))  // ceil((pw − j) / sw)
        let hi = Swift.min(ow, ConvGeometry.floorDiv(w - 1 + pw - j, sw) + 1)
        return (lo, Swift.max(lo, hi))
    }

    /// `col[(c·kh + i)·kw + j, oy·ow + ox] = x[c, oy·sh − ph + i, ox·sw − pw + j]`
    /// (0 outside the image) for one image `x: [cin, h, w]`.
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        let ohw = colCols
        for c in 0..<cin {
            let xc = x + c * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * ohw
                    let (lo, hi) = validColumns(j)
                    for oy in 0..<oh {
                        let iy = oy * sh - ph + i
                        let d = row + oy * ow
                        if iy < 0 || iy >= h || lo >= hi {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        for ox in 0..<lo { d[ox] = 0 }
                        let s = xc + iy * w + (j - pw)
                        if sw == 1 {
                            (d + lo).update(from: s + lo, count: hi - lo)
                        } else {
                            for ox in lo..<hi { d[ox] = s[ox * sw] }
                        }
                        for ox in hi..<ow { d[ox] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column entry back into the image position it
    /// was read from (`gx: [cin, h, w]`).
    func col2im(_ col: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>) {
        let ohw = colCols
        for c in 0..<cin {
            let xc = gx + c * h * w
            for i in 0..<kh {
                for j in 0..<kw {
                    let row = col + ((c * kh + i) * kw + j) * ohw
                    let (lo, hi) = validColumns(j)
                    if lo >= hi { continue }
                    for oy in 0..<oh {
                        let iy = oy * sh - ph + i
                        if iy < 0 || iy >= h { continue }
                        let s = row + oy * ow
                        let d = xc + iy * w + (j - pw)
                        if sw == 1 {
                            for ox in lo..<hi { d[ox] += s[ox] }
                        } else {
                            for ox in lo..<hi { d[ox * sw] += s[ox] }
                        }
                    }
                }
            }
        }
    }
}

/// Shared kernel: `x` holds `n` images `[cin, h, w]`, `wt` is `[cout, cin·kh·kw]`, the output
/// (shape `outShape`) holds `n` blocks `[cout, oh·ow]`.
func convolution(_ x: Tensor, _ wt: Tensor, _ bias: Tensor?, _ g: ConvGeometry, outShape: [Int]) -> Tensor {
    let ohw = g.colCols, ckk = g.colRows, cout = g.cout
    let xStride = g.cin * g.h * g.w, oStride = cout * ohw
    let out = Tensor(uninitialized: outShape)
    let col = g.isPointwise ? nil : TensorStorage(count: ckk * ohw, zeroed: false)
    for img in 0..<g.n {
        let xi = x.data + img * xStride, oi = out.data + img * oStride
        if let bias {
            for co in 0..<cout { (oi + co * ohw).update(repeating: bias.data[co], count: ohw) }
        }
        let b: UnsafePointer<Float>
        if let col { g.im2col(xi, col.base); b = UnsafePointer(col.base) } else { b = UnsafePointer(xi) }
        sgemm(transA: false, transB: false, m: cout, n: ohw, k: ckk, a: wt.data, lda: ckk,
              b: b, ldb: ohw, beta: bias == nil ? 0 : 1, c: oi, ldc: ohw)
    }
    let macs = g.n * cout * ohw * ckk
    let biasFlops = bias == nil ? 0 : g.n * cout * ohw
    Flops.add(2 * macs + biasFlops)
    var inputs = [x, wt]
    if let bias { inputs.append(bias) }
    if Autograd.needsGrad(inputs) {
        Autograd.record(out) {
            let gout = out.gradStorage!.base
            let buffer = g.isPointwise ? nil : TensorStorage(count: ckk * ohw, zeroed: false)
            if wt.requiresGrad {
                // dW += dout_i · col_iᵀ, summed over images.
                let gw = wt.gradPointer()
                for img in 0..<g.n {
                    let xi = x.data + img * xStride
                    let b: UnsafePointer<Float>
                    if let buffer { g.im2col(xi, buffer.base); b = UnsafePointer(buffer.base) } else { b = UnsafePointer(xi) }
                    sgemm(transA: false, transB: true, m: cout, n: ckk, k: ohw, a: gout + img * oStride, lda: ohw,
                          b: b, ldb: ohw, beta: 1, c: gw, ldc: ckk)
                }
                Flops.add(2 * macs)
            }
            if x.requiresGrad {
                // dcol_i = Wᵀ · dout_i, folded back into dx_i by col2im.
                let gx = x.gradPointer()
                for img in 0..<g.n {
                    let gi = gout + img * oStride, gxi = gx + img * xStride
                    if let buffer {
                        sgemm(transA: true, transB: false, m: ckk, n: ohw, k: cout, a: wt.data, lda: ckk,
                              b: gi, ldb: ohw, beta: 0, c: buffer.base, ldc: ohw)
                        g.col2im(buffer.base, gxi)
                    } else {
                        sgemm(transA: true, transB: false, m: ckk, n: ohw, k: cout, a: wt.data, lda: ckk,
                              b: gi, ldb: ohw, beta: 1, c: gxi, ldc: ohw)
                    }
                }
                Flops.add(2 * macs)
            }
            if let bias, bias.requiresGrad {
                let gb = bias.gradPointer()
                for img in 0..<g.n {
                    for co in 0..<cout {
                        let s = gout + img * oStride + co * ohw
                        var acc: Float = 0
                        for j in 0..<ohw { acc += s[j] }
                        gb[co] += acc
                    }
                }
                Flops.add(biasFlops)
            }
        }
    }
    return out
}

/// 1-D convolution (cross-correlation):
/// `out[n, o, t] = bias[o] + Σ_{c, k} w[o, c, k] · x[n, c, t·stride − padding + k]`
/// with zeros outside `0..<L`.
///
/// - `x: [N, Cin, L]`, `w: [Cout, Cin, K]`, `bias: [Cout]` (optional)
///   -> `[N, Cout, Lout]`, `Lout = (L + 2·padding − K) / stride + 1`.
/// - Per image: im2col to `[Cin·K, Lout]`, one GEMM `[Cout, Cin·K] · [Cin·K, Lout]`.
///   Backward recomputes the columns for `dw` and uses col2im for `dx`.
///
/// FLOPs: forward `2·N·Cout·Lout·Cin·K` (+ `N·Cout·Lout` with bias); backward the same
/// GEMM count for each of `dx` and `dw` (+ `N·Cout·Lout` for `dbias`).
public func conv1d(_ x: Tensor, _ w: Tensor, _ bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 3, "conv1d input must be [N, Cin, L], got \(x.shape)")
    precondition(w.rank == 3 && w.shape[1] == x.shape[1],
                 "conv1d weight must be [Cout, Cin, K] with Cin = \(x.shape[1]), got \(w.shape)")
    if let bias { precondition(bias.count == w.shape[0], "conv1d bias \(bias.shape) for \(w.shape[0]) output channels") }
    let g = ConvGeometry(n: x.shape[0], cin: x.shape[1], h: 1, w: x.shape[2], cout: w.shape[0],
                         kh: 1, kw: w.shape[2], sh: 1, sw: stride, ph: 0, pw: padding)
    return convolution(x, w, bias, g, outShape: [g.n, g.cout, g.ow])
}

/// 2-D convolution (cross-correlation):
/// `out[n, o, y, x] = bias[o] + Σ_{c, i, j} w[o, c, i, j] · in[n, c, y·stride − padding + i,
/// x·stride − padding + j]` with zeros outside the image.
///
/// - `x: [N, Cin, H, W]`, `w: [Cout, Cin, KH, KW]`, `bias: [Cout]` (optional)
///   -> `[N, Cout, OH, OW]`, `OH = (H + 2·padding − KH) / stride + 1`,
///   `OW = (W + 2·padding − KW) / stride + 1`.
/// - Per image: im2col to `[Cin·KH·KW, OH·OW]` (skipped for 1×1, stride 1, no padding), one
///   GEMM `[Cout, Cin·KH·KW] · [Cin·KH·KW, OH·OW]`. Backward recomputes the columns for `dw`
///   and uses col2im for `dx`.
///
/// FLOPs: forward `2·N·Cout·OH·OW·Cin·KH·KW` (+ `N·Cout·OH·OW` with bias); backward the same
/// GEMM count for each of `dx` and `dw` (+ `N·Cout·OH·OW` for `dbias`).
public func conv2d(_ x: Tensor, _ w: Tensor, _ bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4, "conv2d input must be [N, C, H, W], got \(x.shape)")
    precondition(w.rank == 4 && w.shape[1] == x.shape[1],
                 "conv2d weight must be [Cout, Cin, KH, KW] with Cin = \(x.shape[1]), got \(w.shape)")
    if let bias { precondition(bias.count == w.shape[0], "conv2d bias \(bias.shape) for \(w.shape[0]) output channels") }
    let g = ConvGeometry(n: x.shape[0], cin: x.shape[1], h: x.shape[2], w: x.shape[3], cout: w.shape[0],
                         kh: w.shape[2], kw: w.shape[3], sh: stride, sw: stride, ph: padding, pw: padding)
    return convolution(x, w, bias, g, outShape: [g.n, g.cout, g.oh, g.ow])
}
