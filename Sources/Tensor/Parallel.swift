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
