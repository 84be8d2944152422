/// Data-parallel helpers over the engine's `WorkerPool`. Every split they make is a split of
/// independent work (elements, rows, columns), so results do not depend on the number of
/// threads: no floating-point sum is reordered.

/// Elements below which an elementwise pass stays on the calling thread (a region costs a
/// few microseconds; 32K floats take about as long to stream).
public let elementwiseGrain = 32_768

/// Calls `body(lo, hi)` on contiguous pieces that together cover `0..<n`, one piece per
/// thread, on at most `threads` threads and only when each piece has at least `grain`
/// items. Inside another region (a nested call) it runs `body(0, n)` inline.
@inline(__always)
public func parallelRanges(_ n: Int, grain: Int, threads: Int = EngineThreads.current,
                           _ body: (Int, Int) -> Void) {
    let chunks = min(threads, n / max(grain, 1))
    if chunks <= 1 { if n > 0 { body(0, n) }; return }
    WorkerPool.shared.run(count: chunks, threads: chunks) { c in
        body(c * n / chunks, (c + 1) * n / chunks)
    }
}

/// `sums[j] += Σ_r m[r, j]` for a row-major `rows × cols` block, summing every column in
/// row order (the same order as one thread), split by columns across threads.
@inline(__always)
public func columnSums(_ m: UnsafePointer<Float>, rows: Int, cols: Int, into sums: UnsafeMutablePointer<Float>,
                       threads: Int = EngineThreads.current) {
    parallelRanges(cols, grain: rows * cols >= 65536 ? 16 : cols, threads: threads) { lo, hi in
        for r in 0..<rows {
            let row = m + r * cols
            for j in lo..<hi { sums[j] += row[j] }
        }
    }
}

/// `m[r, j] *= s[r, j]` over a row-major `rows × cols` block and, when `sums` is given,
/// `sums[j] += Σ_r m[r, j]` of the scaled values in the same pass (row order, as
/// `columnSums`). Split by columns across threads.
@inline(__always)
public func scaleColumnSums(_ m: UnsafeMutablePointer<Float>, by s: UnsafePointer<Float>, rows: Int, cols: Int,
                            into sums: UnsafeMutablePointer<Float>?, threads: Int = EngineThreads.current) {
    parallelRanges(cols, grain: rows * cols >= 65536 ? 16 : cols, threads: threads) { lo, hi in
        if let sums {
            // Explicit 8-wide vectors: the three pointers may alias as far as the compiler
            // knows, which keeps the plain loop scalar.
            let raw = UnsafeMutableRawPointer(m), sraw = UnsafeRawPointer(s), sumRaw = UnsafeMutableRawPointer(sums)
            let vecEnd = lo + (hi - lo) / 8 * 8
            for r in 0..<rows {
                let off = r * cols
                var j = lo
                while j < vecEnd {
                    let b = (off + j) * 4
                    let v = raw.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
                        * sraw.loadUnaligned(fromByteOffset: b, as: SIMD8<Float>.self)
                    raw.storeBytes(of: v, toByteOffset: b, as: SIMD8<Float>.self)
                    let acc = sumRaw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) + v
                    sumRaw.storeBytes(of: acc, toByteOffset: j * 4, as: SIMD8<Float>.self)
                    j += 8
                }
                let row = m + off, sr = s + off
                while j < hi { let v = row[j] * sr[j]; row[j] = v; sums[j] += v; j += 1 }
            }
        } else {
            for r in 0..<rows {
                let row = m + r * cols, sr = s + r * cols
                for j in lo..<hi { row[j] *= sr[j] }
            }
        }
    }
}
