/// Shape ops: reshape (a view), transpose and permute (copies), concatenation and split.
///
/// All of them only move data: they count 0 FLOPs forward and backward.

/// Row-major strides of `shape`.
@inline(__always)
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    var i = shape.count - 1
    while i >= 0 { strides[i] = s; s *= shape[i]; i -= 1 }
    return strides
}

/// A strided walk that reads (or accumulates into) a source laid out with `srcStrides` in
/// the order of a contiguous destination of shape `shape`. Size-1 dimensions are dropped and
/// dimensions that are contiguous in the source as well are merged, so that e.g. swapping
/// two large blocks is a few long copies.
struct StridedWalk {
    var shape: [Int] = []
    var strides: [Int] = []
    let count: Int

    init(shape fullShape: [Int], srcStrides fullStrides: [Int]) {
        count = fullShape.reduce(1, *)
        for (d, s) in zip(fullShape, fullStrides) where d != 1 {
            if let last = shape.last, strides[strides.count - 1] == s * d {
                shape[shape.count - 1] = last * d
                strides[strides.count - 1] = s
            } else {
                shape.append(d)
                strides.append(s)
            }
        }
    }

    /// `dst[i] = src[offset(i)]` for every destination index `i` (accumulate: `+=` into
    /// `src[offset(i)]` from `dst[i]` instead, i.e. the adjoint of the copy).
    func run(src: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>, adjoint: Bool) {
        if count == 0 { return }
        let r = shape.count
        if r == 0 {
            if adjoint { src[0] += dst[0] } else { dst[0] = src[0] }
            return
        }
        if r == 1 {
            let n = shape[0], s = strides[0]
            if adjoint { for i in 0..<n { src[i * s] += dst[i] } } else { for i in 0..<n { dst[i] = src[i * s] } }
            return
        }
        let rows = shape[r - 2], cols = shape[r - 1]
        let sr = strides[r - 2], sc = strides[r - 1]
        let block = rows * cols
        let outer = count / block
        var idx = [Int](repeating: 0, count: r)
        var base = 0
        let tile = 16
        for o in 0..<outer {
            let d = dst + o * block
            let s = src + base
            if sc == 1 {
                for i in 0..<rows {
                    let di = d + i * cols, si = s + i * sr
                    if adjoint { for j in 0..<cols { si[j] += di[j] } } else { di.update(from: si, count: cols) }
                }
            } else {
                // Tiled so that both the strided and the contiguous side stay in cache.
                var i0 = 0
                while i0 < rows {
                    let i1 = Swift.min(i0 + tile, rows)
                    var j0 = 0
                    while j0 < cols {
                        let j1 = Swift.min(j0 + tile, cols)
                        for i in i0..<i1 {
                            let di = d + i * cols, si = s + i * sr
                            if adjoint {
                                for j in j0..<j1 { si[j * sc] += di[j] }
                            } else {
                                for j in j0..<j1 { di[j] = si[j * sc] }
                            }
                        }
                        j0 = j1
                    }
                    i0 = i1
                }
            }
            // odometer over the dimensions before the last two
            var k = r - 3
            while k >= 0 {
                idx[k] += 1
                base += strides[k]
                if idx[k] < shape[k] { break }
                base -= strides[k] * shape[k]
                idx[k] = 0
                k -= 1
            }
        }
    }
}

extension Tensor {
    /// The same elements with shape `newShape` (one entry may be `-1`, inferred from the
    /// element count). The result SHARES this tensor's storage (no copy): writing through
    /// one writes the other. Backward adds the output gradient into this tensor's gradient.
    /// FLOPs: 0.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        var inferAt = -1
        var known = 1
        for (i, d) in s.enumerated() {
            if d == -1 {
                precondition(inferAt < 0, "reshaped: more than one -1 in \(newShape)")
                inferAt = i
            } else {
                precondition(d >= 0, "reshaped: negative dimension in \(newShape)")
                known *= d
            }
        }
        if inferAt >= 0 {
            precondition(known > 0 && count % known == 0,
                         "reshaped: cannot infer -1 in \(newShape) for \(count) elements of \(shape)")
            s[inferAt] = count / known
        } else {
            precondition(known == count, "reshaped: \(shape) (\(count) elements) to \(newShape)")
        }
        let out = Tensor(shape: s, storage: storage)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                let g = out.gradStorage!.base, gx = self.gradPointer()
                for i in 0..<self.count { gx[i] += g[i] }
            }
        }
        return out
    }

    /// Copy with dimensions reordered: output dimension `i` is input dimension `perm[i]`
    /// (negative entries count from the end), so `out.shape[i] == shape[perm[i]]`.
    /// Contiguous runs are copied as blocks, other cases in 16×16 tiles. FLOPs: 0.
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.count == rank, "permuted: \(perm) for rank \(rank)")
        let p = perm.map { normalizeAxis($0, rank: rank) }
        precondition(Set(p).count == rank, "permuted: \(perm) is not a permutation")
        let outShape = p.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let walk = StridedWalk(shape: outShape, srcStrides: p.map { inStrides[$0] })
        let out = Tensor(uninitialized: outShape)
        walk.run(src: data, dst: out.data, adjoint: false)
        if Autograd.needsGrad(self) {
            Autograd.record(out) {
                walk.run(src: self.gradPointer(), dst: out.gradStorage!.base, adjoint: true)
            }
        }
        return out
    }

    /// Copy with dimensions `a` and `b` swapped (negative axes count from the end).
    /// FLOPs: 0.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var p = Array(0..<rank)
        p.swapAt(normalizeAxis(a, rank: rank), normalizeAxis(b, rank: rank))
        return permuted(p)
    }

    /// Concatenation along `axis`: every tensor has the same rank and the same dimensions
    /// except along `axis`; the output's `axis` dimension is the sum of theirs. Backward
    /// adds each slice of the output gradient into its source. FLOPs: 0.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat of no tensors")
        let r = tensors[0].rank
        precondition(r >= 1, "concat of scalars")
        let a = normalizeAxis(axis, rank: r)
        var outShape = tensors[0].shape
        var total = 0
        for t in tensors {
            var s = t.shape
            precondition(s.count == r, "concat: ranks differ: \(tensors.map(\.shape))")
            total += s[a]
            s[a] = outShape[a]
            precondition(s == outShape, "concat along \(a): shapes differ: \(tensors.map(\.shape))")
        }
        outShape[a] = total
        let outer = shapeProduct(outShape, 0, a), inner = shapeProduct(outShape, a + 1, r)
        let rowOut = total * inner
        let out = Tensor(uninitialized: outShape)
        var offset = 0
        var offsets: [Int] = []
        offsets.reserveCapacity(tensors.count)
        for t in tensors {
            let chunk = t.shape[a] * inner
            offsets.append(offset)
            let src = t.data, dst = out.data + offset
            for o in 0..<outer { (dst + o * rowOut).update(from: src + o * chunk, count: chunk) }
            offset += chunk
        }
        if Autograd.needsGrad(tensors) {
            Autograd.record(out) {
                let g = out.gradStorage!.base
                for (t, off) in zip(tensors, offsets) where t.requiresGrad {
                    let chunk = t.shape[a] * inner
                    let gx = t.gradPointer()
                    for o in 0..<outer {
                        let s = g + o * rowOut + off, d = gx + o * chunk
                        for j in 0..<chunk { d[j] += s[j] }
                    }
                }
            }
        }
        return out
    }

    /// Splits along `axis` into pieces of `sizes[i]` (which must sum to `dim(axis)`); piece
    /// `i` has this shape with `sizes[i]` along `axis`. Each piece is a copy whose backward
    /// adds into its slice of this tensor's gradient. FLOPs: 0.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        precondition(rank >= 1, "split of a scalar")
        let a = normalizeAxis(axis, rank: rank)
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                     "split: sizes \(sizes) do not sum to dimension \(a) of \(shape)")
        let outer = shapeProduct(shape, 0, a), inner = shapeProduct(shape, a + 1, rank)
        let rowIn = shape[a] * inner
        let grad = Autograd.needsGrad(self)
        var pieces: [Tensor] = []
        pieces.reserveCapacity(sizes.count)
        var offset = 0
        for size in sizes {
            var s = shape
            s[a] = size
            let chunk = size * inner
            let out = Tensor(uninitialized: s)
            let src = data + offset, dst = out.data
            for o in 0..<outer { (dst + o * chunk).update(from: src + o * rowIn, count: chunk) }
            if grad {
                let off = offset
                Autograd.record(out) {
                    let g = out.gradStorage!.base, gx = self.gradPointer() + off
                    for o in 0..<outer {
                        let s = g + o * chunk, d = gx + o * rowIn
                        for j in 0..<chunk { d[j] += s[j] }
                    }
                }
            }
            pieces.append(out)
            offset += chunk
        }
        return pieces
    }
}
