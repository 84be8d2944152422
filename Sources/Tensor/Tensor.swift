import Foundation

/// A 64-byte aligned, fixed-size block of float32 values. Tensors share a storage when one
/// is a reshaped view of another; the storage frees its memory when the last one goes.
public final class TensorStorage {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    /// Allocates `count` floats; zero-filled when `zeroed`, uninitialised otherwise.
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative storage size")
        self.count = count
        base = TensorStorage.allocate(count)
        if zeroed { base.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit { TensorStorage.release(base, count: count) }

    // MARK: Allocation

    /// Bytes of the values of all live storages (tensors and gradients), as their counts
    /// say; and the most memory their blocks (`blockBytes`, sizes rounded up) took at once
    /// since the last `resetPeak()`.
    public static var liveBytes: Int { lock.lock(); defer { lock.unlock() }; return live }
    public static var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }

    /// Starts a new peak measurement from the blocks live now.
    public static func resetPeak() { lock.lock(); peak = liveBlocks; lock.unlock() }

    /// Freed blocks of at least `cacheMinimumBytes` are kept by size (up to
    /// `cacheLimitBytes` in all) and handed to the next allocation of that size: a training
    /// step allocates the same large shapes every iteration, and reusing them avoids the
    /// page faults and kernel zeroing of fresh `mmap`ed memory. Their sizes are rounded up
    /// to one of eight classes per power of two (`blockBytes`, at most 12.5% more), so that
    /// the shapes of data-dependent routing (tokens per expert, per layer, per sequence),
    /// which differ from step to step, still find a freed block.
    static let cacheMinimumBytes = 256 << 10

    /// The bytes of the block that holds `count` floats: exact below `cacheMinimumBytes`,
    /// else rounded up to a multiple of 1/8 of the largest power of two not above it.
    public static func blockBytes(count: Int) -> Int {
        let bytes = valueBytes(count)
        guard bytes >= cacheMinimumBytes else { return bytes }
        let step = (1 << (Int.bitWidth - 1 - bytes.leadingZeroBitCount)) / 8
        return (bytes + step - 1) / step * step
    }
    static let cacheLimitBytes = 1 << 30
    private static let lock = NSLock()
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var liveBlocks = 0
    nonisolated(unsafe) private static var peak = 0
    nonisolated(unsafe) private static var cache: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var cachedBytes = 0

    /// The bytes of `count` values (at least one, so that every storage has an address).
    private static func valueBytes(_ count: Int) -> Int { max(count, 1) * MemoryLayout<Float>.stride }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = blockBytes(count: count)
        lock.lock()
        live += valueBytes(count)
        liveBlocks += bytes
        if liveBlocks > peak { peak = liveBlocks }
        if bytes >= cacheMinimumBytes, let p = cache[bytes]?.popLast() {
            cachedBytes -= bytes
            lock.unlock()
            return p
        }
        lock.unlock()
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, bytes)
        precondition(status == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
        return raw!.bindMemory(to: Float.self, capacity: bytes / MemoryLayout<Float>.stride)
    }

    private static func release(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = blockBytes(count: count)
        lock.lock()
        live -= valueBytes(count)
        liveBlocks -= bytes
        if bytes >= cacheMinimumBytes, cachedBytes + bytes <= cacheLimitBytes {
            cache[bytes, default: []].append(p)
            cachedBytes += bytes
            lock.unlock()
            return
        }
        lock.unlock()
        free(p)
    }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: base, count: count)
    }
}

/// A dense, row-major (C-contiguous) float32 tensor that takes part in reverse-mode
/// autograd.
///
/// Every op reads its inputs' `data` and writes a freshly allocated output; when gradients
/// are enabled and an input `requiresGrad`, the op records a backward closure on the
/// `Autograd` tape. Gradients accumulate into `grad` (allocated, zero-filled, on first use).
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let storage: TensorStorage
    /// The gradient of the last `backward` with respect to this tensor, same shape.
    public var gradStorage: TensorStorage?
    /// True for parameters (leaves you want gradients for) and for any op output that
    /// depends on one while gradients are enabled.
    public var requiresGrad: Bool
    /// Set by the tape: true when this tensor was produced by a recorded op.
    public internal(set) var hasGradFn = false

    public init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(storage.count == n, "storage of \(storage.count) floats for shape \(shape)")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A zero-filled tensor.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), zeroed: true),
                  requiresGrad: requiresGrad)
    }

    /// An uninitialised tensor, for kernels that overwrite every element.
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), zeroed: false))
    }

    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "\(scalars.count) scalars for shape \(shape)")
        let s = TensorStorage(count: scalars.count, zeroed: false)
        scalars.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { s.base.update(from: b, count: scalars.count) }
        }
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    public convenience init(shape: [Int], repeating value: Float, requiresGrad: Bool = false) {
        let t = TensorStorage(count: shape.reduce(1, *), zeroed: false)
        t.base.update(repeating: value, count: t.count)
        self.init(shape: shape, storage: t, requiresGrad: requiresGrad)
    }

    /// A 0-d (scalar) tensor.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init(shape: [], scalars: [scalar], requiresGrad: requiresGrad)
    }

    public var rank: Int { shape.count }
    /// Pointer to the first element; valid while this tensor (or its storage) is alive.
    public var data: UnsafeMutablePointer<Float> { storage.base }
    public var buffer: UnsafeMutableBufferPointer<Float> { storage.buffer }
    public var scalars: [Float] { Array(storage.buffer) }
    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item of a tensor with \(count) elements")
        return data[0]
    }

    /// The gradient as a new tensor (a copy), or nil when none has been accumulated.
    public var grad: Tensor? {
        guard let g = gradStorage else { return nil }
        let t = Tensor(uninitialized: shape)
        t.data.update(from: g.base, count: count)
        return t
    }

    /// The gradient buffer, allocated zero-filled on first use. Backward closures
    /// accumulate (`+=`) into it.
    public func gradPointer() -> UnsafeMutablePointer<Float> {
        if let g = gradStorage { return g.base }
        let g = TensorStorage(count: count, zeroed: true)
        gradStorage = g
        return g.base
    }

    /// The gradient buffer for a backward pass that writes every element of it. When no
    /// gradient has been accumulated yet, the buffer is allocated uninitialised and
    /// `accumulate` is false: the caller assigns (`=`, or a GEMM with `beta = 0`) instead of
    /// adding to zeros, which saves the zero fill and one read of the buffer. Otherwise it
    /// is the existing buffer and `accumulate` is true. Either way the result is the same
    /// as `gradPointer()` followed by `+=`.
    public func gradForWrite() -> (base: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if let g = gradStorage { return (g.base, true) }
        let g = TensorStorage(count: count, zeroed: false)
        gradStorage = g
        return (g.base, false)
    }

    /// Clears the gradient (parameters call this between steps).
    public func zeroGrad() { gradStorage = nil }

    /// A copy with its own storage, detached from the graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same values, detached from the graph (shares storage).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Size of dimension `axis` (negative counts from the end).
    public func dim(_ axis: Int) -> Int { shape[normalizeAxis(axis, rank: rank)] }
}

/// Resolves a possibly negative axis against a rank.
@inline(__always)
public func normalizeAxis(_ axis: Int, rank: Int) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < max(rank, 1), "axis \(axis) out of range for rank \(rank)")
    return a
}

/// Product of `shape[from..<to]`.
@inline(__always)
public func shapeProduct(_ shape: [Int], _ from: Int, _ to: Int) -> Int {
    var p = 1
    var i = from
    while i < to { p *= shape[i]; i += 1 }
    return p
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
