/// Shape ops: reshape (a view sharing storage), transpose/permute (copies), concatenation
/// and splitting along an axis. All are data movement and count 0 FLOPs, forward and
/// backward.

/// Row-major strides of `shape` (the last dimension has stride 1).
@inline(__always)
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    var i = shape.count - 1
    while i >= 0 { strides[i] = s; s *= shape[i]; i -= 1 }
    return strides
}

/// For every index `i` of `shape`: `dst[Σ i·dstStrides] = src[Σ i·srcStrides]` (or `+=`
/// when `accumulate`). The index maps must not alias within `dst` (true for permutations).
///
/// Size-1 dimensions are dropped and dimensions contiguous in both maps are merged, so a
/// permutation that keeps the last dimension moves whole rows (`memcpy`); otherwise the
/// last two dimensions are walked in 32×32 tiles so that both the strided side and the
/// contiguous side stay in cache.
func stridedCopy(_ src: UnsafePointer<Float>, _ srcStrides: [Int],
                 _ dst: UnsafeMutablePointer<Float>, _ dstStrides: [Int],
                 _ shape: [Int], accumulate: Bool) {
    if shape.contains(0) { return }
    // Drop size-1 dimensions, then merge neighbours contiguous in both maps.
    var dims: [Int] = [], ss: [Int] = [], ds: [Int] = []
    for i in 0..<shape.count where shape[i] != 1 {
        if let last = dims.last, ss[ss.count - 1] == srcStrides[i] * shape[i],
           ds[ds.count - 1] == dstStrides[i] * shape[i] {
            dims[dims.count - 1] = last * shape[i]
            ss[ss.count - 1] = srcStrides[i]
            ds[ds.count - 1] = dstStrides[i]
        } else {
            dims.append(shape[i]); ss.append(srcStrides[i]); ds.append(dstStrides[i])
        }
    }
    let r = dims.count
    if r == 0 {
        if accumulate { dst[0] += src[0] } else { dst[0] = src[0] }
        return
    }
    // The innermost kernel covers the last one (rows) or two (tiles) dimensions; an
    // odometer walks the rest.
    let innerDims = (ss[r - 1] == 1 && ds[r - 1] == 1) || r == 1 ? 1 : 2
    let outerRank = r - innerDims
    let outer = shapeProduct(dims, 0, outerRank)
    var idx = [Int](repeating: 0, count: max(outerRank, 1))
    var so = 0, dof = 0
    let n0 = dims[r - 1], s0 = ss[r - 1], d0 = ds[r - 1]
    for _ in 0..<outer {
        let sp = src + so, dp = dst + dof
        if innerDims == 1 {
            if s0 == 1 && d0 == 1 {
                if accumulate { for j in 0..<n0 { dp[j] += sp[j] } } else { dp.update(from: sp, count: n0) }
            } else if accumulate {
                for j in 0..<n0 { dp[j * d0] += sp[j * s0] }
            } else {
                for j in 0..<n0 { dp[j * d0] = sp[j * s0] }
            }
        } else {
            let n1 = dims[r - 2], s1 = ss[r - 2], d1 = ds[r - 2]
            let tile = 32
            var ib = 0
            while ib < n1 {
                let ie = Swift.min(ib + tile, n1)
                var jb = 0
                while jb < n0 {
                    let je = Swift.min(jb + tile, n0)
                    for i in ib..<ie {
                        let srow = sp + i * s1, drow = dp + i * d1
                        if accumulate {
                            for j in jb..<je { drow[j * d0] += srow[j * s0] }
                        } else {
                            for j in jb..<je { drow[j * d0] = srow[j * s0] }
                        }
                    }
                    jb = je
                }
                ib = ie
            }
        }
        var d = outerRank - 1
        while d >= 0 {
            idx[d] += 1
            so += ss[d]; dof += ds[d]
            if idx[d] < dims[d] { break }
            so -= ss[d] * dims[d]; dof -= ds[d] * dims[d]
            idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// The same elements in row-major order under a new shape; `-1` in at most one place is
    /// inferred. The result shares this tensor's storage (no copy).
    ///
    /// Shapes: `[d0, d1, ...] -> newShape` with equal element counts.
    /// Backward: the output gradient is added elementwise into this tensor's gradient.
    /// FLOPs: 0.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        precondition(inferred.count <= 1, "reshaped: more than one -1 in \(newShape)")
        precondition(newShape.allSatisfy { $0 >= -1 }, "reshaped: negative dimension in \(newShape)")
        if let at = inferred.first {
            let known = newShape.enumerated().reduce(1) { $1.offset == at ? $0 : $0 * $1.element }
            precondition(known > 0 && count % known == 0,
                         "reshaped: cannot infer -1 in \(newShape) for \(count) elements of \(shape)")
            target[at] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshaped: \(shape) (\(count) elements) to \(newShape)")
        let out = Tensor(shape: target, storage: storage)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for i in 0..<self.count { gx[i] += g[i] }
            }
        }
        return out
    }

    /// Swaps axes `a` and `b` (negative axes count from the end); copies into a new
    /// contiguous tensor. Shape: `[..., da, ..., db, ...] -> [..., db, ..., da, ...]`.
    /// FLOPs: 0.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let r = Swift.max(rank, 1)
        let a = normalizeAxis(a, rank: r), b = normalizeAxis(b, rank: r)
        var perm = Array(0..<rank)
        if rank > 0 { perm.swapAt(a, b) }
        return permuted(perm)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`, i.e.
    /// `out[i_0, ..., i_{r-1}] = x[j]` with `j[perm[k]] = i_k`; copies into a new contiguous
    /// tensor. Shape: `out.shape[i] = shape[perm[i]]`. Backward scatters the output
    /// gradient back through the inverse permutation. FLOPs: 0.
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.count == rank && perm.sorted() == Array(0..<rank),
                     "permuted: \(perm) is not a permutation of the \(rank) axes of \(shape)")
        let outShape = perm.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let srcStrides = perm.map { inStrides[$0] }
        let outStrides = contiguousStrides(outShape)
        let out = Tensor(uninitialized: outShape)
        stridedCopy(data, srcStrides, out.data, outStrides, outShape, accumulate: false)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                stridedCopy(out.gradStorage!.base, outStrides, self.gradPointer(), srcStrides,
                            outShape, accumulate: true)
            }
        }
        return out
    }

    /// Joins tensors along `axis`: all inputs have the same rank and the same dimensions
    /// except along `axis`. Shape: `[..., n_0, ...], [..., n_1, ...], ... ->
    /// [..., n_0 + n_1 + ..., ...]`, inputs in order. Backward hands each input its slice
    /// of the output gradient. FLOPs: 0.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat of no tensors")
        let first = tensors[0]
        precondition(first.rank >= 1, "concat of 0-d tensors")
        let ax = normalizeAxis(axis, rank: first.rank)
        var total = 0
        for t in tensors {
            precondition(t.rank == first.rank, "concat: ranks differ, \(first.shape) and \(t.shape)")
            for d in 0..<first.rank where d != ax {
                precondition(t.shape[d] == first.shape[d],
                             "concat along axis \(ax): \(first.shape) and \(t.shape) differ off the axis")
            }
            total += t.shape[ax]
        }
        var outShape = first.shape
        outShape[ax] = total
        let outer = shapeProduct(outShape, 0, ax), inner = shapeProduct(outShape, ax + 1, outShape.count)
        let rowOut = total * inner
        let out = Tensor(uninitialized: outShape)
        var offset = 0
        for t in tensors {
            let block = t.shape[ax] * inner
            if block > 0 {
                for o in 0..<outer { (out.data + o * rowOut + offset).update(from: t.data + o * block, count: block) }
            }
            offset += block
        }
        if Autograd.needsGrad(tensors) {
            Autograd.record(out) {
                let g = out.gradStorage!.base
                var offset = 0
                for t in tensors {
                    let block = t.shape[ax] * inner
                    if t.requiresGrad && block > 0 {
                        let gt = t.gradPointer()
                        for o in 0..<outer {
                            let src = g + o * rowOut + offset, dst = gt + o * block
                            for j in 0..<block { dst[j] += src[j] }
                        }
                    }
                    offset += block
                }
            }
        }
        return out
    }

    /// Cuts this tensor along `axis` into consecutive pieces of the given sizes (which sum
    /// to `shape[axis]`); each piece is a new contiguous tensor. Shape: `[..., Σ sizes, ...]
    /// -> [[..., sizes[0], ...], [..., sizes[1], ...], ...]`. Backward adds each piece's
    /// gradient into its slice of this tensor's gradient. FLOPs: 0.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        precondition(rank >= 1, "split of a 0-d tensor")
        let ax = normalizeAxis(axis, rank: rank)
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[ax],
                     "split: sizes \(sizes) do not sum to dimension \(shape[ax]) of \(shape)")
        let outer = shapeProduct(shape, 0, ax), inner = shapeProduct(shape, ax + 1, rank)
        let rowIn = shape[ax] * inner
        let grad = Autograd.needsGrad(self)
        var pieces: [Tensor] = []
        pieces.reserveCapacity(sizes.count)
        var offset = 0
        for size in sizes {
            var pieceShape = shape
            pieceShape[ax] = size
            let block = size * inner
            let piece = Tensor(uninitialized: pieceShape)
            if block > 0 {
                for o in 0..<outer { (piece.data + o * block).update(from: data + o * rowIn + offset, count: block) }
            }
            if grad {
                let start = offset
                Autograd.record(piece) {
                    let g = piece.gradStorage!.base, gx = self.gradPointer()
                    for o in 0..<outer {
                        let src = g + o * block, dst = gx + o * rowIn + start
                        for j in 0..<block { dst[j] += src[j] }
                    }
                }
            }
            pieces.append(piece)
            offset += block
        }
        return pieces
    }
}
