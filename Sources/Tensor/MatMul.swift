import Foundation
import CBLAS

/// Row-major `C = alpha · op(A) · op(B) + beta · C` through OpenBLAS.
/// `A` is `m×k` after `op`, `B` is `k×n` after `op`; leading dimensions are those of the
/// stored (un-transposed) row-major matrices.
///
/// With `threads > 1` (default: the engine's thread count) a product of more than 2^18
/// multiply-adds is split into that many blocks of rows of `C` (or of columns, when `C` is
/// wider than tall), each computed by single-threaded OpenBLAS concurrently. Every element
/// of `C` is summed over the whole of `k` in one call (`k` is never split), so a given
/// thread count always gives the same bits. Across thread counts the bits depend on
/// OpenBLAS's kernels (measured with 0.3.21): its SkylakeX kernels give the same bits for
/// every split; its Haswell kernels (AVX2 machines) round some elements differently when a
/// row block starts off a multiple of 24 rows, or when the columns are split. Callers
/// already running in parallel pass `threads: 1`.
@inline(__always)
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = EngineThreads.current) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS may skip scaling C when k = 0: do it here.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    // Blocks of at least `unit` rows (columns), a multiple of the SGEMM kernels' unrolling.
    let unit = 32
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let parts = min(threads, extent / unit)
    if parts <= 1 || m * n * k <= 1 << 18 {
        sgemmSingle(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    WorkerPool.shared.run(count: parts, threads: parts) { p in
        let lo = (extent * p / parts) / unit * unit
        let hi = p == parts - 1 ? extent : (extent * (p + 1) / parts) / unit * unit
        if hi <= lo { return }
        if splitRows {
            sgemmSingle(transA, transB, hi - lo, n, k, alpha, transA ? a + lo : a + lo * lda, lda, b, ldb,
                        beta, c + lo * ldc, ldc)
        } else {
            sgemmSingle(transA, transB, m, hi - lo, k, alpha, a, lda, transB ? b + lo * ldb : b + lo, ldb,
                        beta, c + lo, ldc)
        }
    }
}

@inline(__always)
func sgemmSingle(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                 _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                 _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Matrix product over the last two dimensions.
///
/// - `a: [..., m, k]` (or `[..., k, m]` with `transposeA`), `b: [k, n]` (or `[n, k]` with
///   `transposeB`): one GEMM over all leading dimensions of `a` flattened (needs
///   `transposeA == false` when `a` has rank > 2).
/// - `a: [B..., m, k]`, `b: [B..., k, n]` with equal leading dimensions: one GEMM per batch.
///
/// Transposes are passed to BLAS, never copied. FLOPs: `2·m·n·k` per product forward,
/// twice that backward.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2, got \(a.shape) and \(b.shape)")
    let ar = a.rank, br = b.rank
    let aRows = a.shape[ar - 2], aCols = a.shape[ar - 1]
    let bRows = b.shape[br - 2], bCols = b.shape[br - 1]
    let m = transposeA ? aCols : aRows
    let k = transposeA ? aRows : aCols
    let kb = transposeB ? bCols : bRows
    let n = transposeB ? bRows : bCols
    precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")

    if br == 2 {
        // Flatten a's leading dimensions into rows (only without transposeA, or rank 2).
        precondition(!transposeA || ar == 2, "transposeA with a 2-D right operand needs a 2-D left operand")
        let rows = transposeA ? m : shapeProduct(a.shape, 0, ar - 1)
        let outShape = Array(a.shape.dropLast(transposeA ? 2 : 1)) + (transposeA ? [m, n] : [n])
        let out = Tensor(uninitialized: outShape)
        sgemm(transA: transposeA, transB: transposeB, m: rows, n: n, k: k,
              a: a.data, lda: aCols, b: b.data, ldb: bCols, beta: 0, c: out.data, ldc: n)
        Flops.add(2 * rows * n * k)
        if Autograd.needsGrad(a, b) {
            Autograd.record(out) {
                let g = out.gradStorage!.base
                if a.requiresGrad {
                    let (ga, acc) = a.gradForWrite()
                    let beta: Float = acc ? 1 : 0
                    if transposeA {
                        // A is [k, m]: dA = op(B) · dCᵀ
                        sgemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                              a: b.data, lda: bCols, b: g, ldb: n, beta: beta, c: ga, ldc: m)
                    } else {
                        // dA = dC · op(B)ᵀ
                        sgemm(transA: false, transB: !transposeB, m: rows, n: k, k: n,
                              a: g, lda: n, b: b.data, ldb: bCols, beta: beta, c: ga, ldc: k)
                    }
                    Flops.add(2 * rows * n * k)
                }
                if b.requiresGrad {
                    let (gb, acc) = b.gradForWrite()
                    let beta: Float = acc ? 1 : 0
                    if transposeB {
                        // B is [n, k]: dB = dCᵀ · op(A)
                        sgemm(transA: true, transB: transposeA, m: n, n: k, k: rows,
                              a: g, lda: n, b: a.data, ldb: aCols, beta: beta, c: gb, ldc: k)
                    } else {
                        // dB = op(A)ᵀ · dC
                        sgemm(transA: !transposeA, transB: false, m: k, n: n, k: rows,
                              a: a.data, lda: aCols, b: g, ldb: n, beta: beta, c: gb, ldc: n)
                    }
                    Flops.add(2 * rows * n * k)
                }
            }
        }
        return out
    }

    precondition(ar == br && Array(a.shape.dropLast(2)) == Array(b.shape.dropLast(2)),
                 "batched matmul needs equal batch dimensions: \(a.shape) · \(b.shape)")
    let batch = shapeProduct(a.shape, 0, ar - 2)
    let out = Tensor(uninitialized: Array(a.shape.dropLast(2)) + [m, n])
    let aStride = aRows * aCols, bStride = bRows * bCols, cStride = m * n
    for i in 0..<batch {
        sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
              a: a.data + i * aStride, lda: aCols, b: b.data + i * bStride, ldb: bCols,
              beta: 0, c: out.data + i * cStride, ldc: n)
    }
    Flops.add(2 * batch * m * n * k)
    if Autograd.needsGrad(a, b) {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            if a.requiresGrad {
                let (ga, acc) = a.gradForWrite()
                let beta: Float = acc ? 1 : 0
                for i in 0..<batch {
                    let gi = g + i * cStride, bi = b.data + i * bStride, gai = ga + i * aStride
                    if transposeA {
                        sgemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                              a: bi, lda: bCols, b: gi, ldb: n, beta: beta, c: gai, ldc: m)
                    } else {
                        sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n,
                              a: gi, lda: n, b: bi, ldb: bCols, beta: beta, c: gai, ldc: k)
                    }
                }
                Flops.add(2 * batch * m * n * k)
            }
            if b.requiresGrad {
                let (gb, acc) = b.gradForWrite()
                let beta: Float = acc ? 1 : 0
                for i in 0..<batch {
                    let gi = g + i * cStride, ai = a.data + i * aStride, gbi = gb + i * bStride
                    if transposeB {
                        sgemm(transA: true, transB: transposeA, m: n, n: k, k: m,
                              a: gi, lda: n, b: ai, ldb: aCols, beta: beta, c: gbi, ldc: k)
                    } else {
                        sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m,
                              a: ai, lda: aCols, b: gi, ldb: n, beta: beta, c: gbi, ldc: n)
                    }
                }
                Flops.add(2 * batch * m * n * k)
            }
        }
    }
    return out
}

/// Affine map `x · w + bias` over the last dimension: `x: [..., in]`, `w: [in, out]`,
/// `bias: [out]` (optional). One GEMM with the bias pre-loaded into the output.
/// FLOPs: `2·rows·in·out` (+ `rows·out` for the bias).
public func linear(_ x: Tensor, _ w: Tensor, _ bias: Tensor? = nil) -> Tensor {
    precondition(w.rank == 2, "linear weight must be [in, out], got \(w.shape)")
    let inF = w.shape[0], outF = w.shape[1]
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == inF, "linear: input \(x.shape) vs weight \(w.shape)")
    if let bias { precondition(bias.count == outF, "linear: bias \(bias.shape) vs weight \(w.shape)") }
    let rowsExact = shapeProduct(x.shape, 0, x.rank - 1)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
    if let bias {
        // C starts as the bias rows (the GEMM adds into them), filled across the threads.
        let po = out.data, pb = bias.data
        parallelRanges(rowsExact, grain: max(1, elementwiseGrain / max(outF, 1))) { lo, hi in
            for r in lo..<hi { (po + r * outF).update(from: pb, count: outF) }
        }
    }
    sgemm(transA: false, transB: false, m: rowsExact, n: outF, k: inF, a: x.data, lda: inF,
          b: w.data, ldb: outF, beta: bias == nil ? 0 : 1, c: out.data, ldc: outF)
    Flops.add(2 * rowsExact * inF * outF + (bias == nil ? 0 : rowsExact * outF))
    var inputs = [x, w]
    if let bias { inputs.append(bias) }
    if Autograd.needsGrad(inputs) {
        Autograd.record(out) {
            let g = out.gradStorage!.base
            if x.requiresGrad {
                let gx = x.gradForWrite()
                sgemm(transA: false, transB: true, m: rowsExact, n: inF, k: outF,
                      a: g, lda: outF, b: w.data, ldb: outF, beta: gx.accumulate ? 1 : 0, c: gx.base, ldc: inF)
                Flops.add(2 * rowsExact * inF * outF)
            }
            if w.requiresGrad {
                let gw = w.gradForWrite()
                sgemm(transA: true, transB: false, m: inF, n: outF, k: rowsExact,
                      a: x.data, lda: inF, b: g, ldb: outF, beta: gw.accumulate ? 1 : 0, c: gw.base, ldc: outF)
                Flops.add(2 * rowsExact * inF * outF)
            }
            if let bias, bias.requiresGrad {
                columnSums(g, rows: rowsExact, cols: outF, into: bias.gradPointer())
                Flops.add(rowsExact * outF)
            }
        }
    }
    return out
}
