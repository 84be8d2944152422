import Foundation

/// A checkpoint that cannot be written, read or applied. Every case names the file; the
/// tensor cases name the tensor.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be read.
    case unreadable(file: String, reason: String)
    /// The file (or its temporary sibling) cannot be written or renamed into place.
    case unwritable(file: String, reason: String)
    /// The file does not start with the checkpoint magic bytes, or has another version.
    case notACheckpoint(file: String, reason: String)
    /// The file ends before `what` is complete.
    case truncated(file: String, what: String)
    /// The structure is inconsistent (bad lengths, duplicate names, checksum mismatch).
    case corrupt(file: String, reason: String)
    /// The model (or optimizer) has a tensor the file does not.
    case missingTensor(file: String, name: String)
    /// The file has a tensor the model (or optimizer) does not.
    case unexpectedTensor(file: String, name: String)
    /// The same name with another shape.
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    /// The metadata JSON does not decode, or does not fit (other configuration, optimizer).
    case incompatible(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "cannot read checkpoint \(file): \(reason)"
        case let .unwritable(file, reason): return "cannot write checkpoint \(file): \(reason)"
        case let .notACheckpoint(file, reason): return "\(file) is not a moebench checkpoint: \(reason)"
        case let .truncated(file, what): return "checkpoint \(file) is truncated: it ends inside \(what)"
        case let .corrupt(file, reason): return "checkpoint \(file) is corrupt: \(reason)"
        case let .missingTensor(file, name): return "checkpoint \(file) has no tensor '\(name)'"
        case let .unexpectedTensor(file, name):
            return "checkpoint \(file) has tensor '\(name)', which the model does not have"
        case let .shapeMismatch(file, name, expected, found):
            return "checkpoint \(file): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .incompatible(file, reason): return "checkpoint \(file) does not fit: \(reason)"
        }
    }
}

/// Named float32 tensors plus a JSON metadata blob, in one binary file.
///
/// File layout (all integers little-endian):
///
///     "MOEBCKPT"                   8 bytes magic
///     version: u32 (= 1), flags: u32 (= 0)
///     metadataLength: u64, metadata: UTF-8 JSON
///     tensorCount: u64
///     per tensor: nameLength: u32, name: UTF-8, rank: u32, dims: rank × u64,
///                 values: Π dims × f32 (row-major)
///     checksum: u64               FNV-1a over 8-byte words of everything before it
///
/// Writing goes to a temporary file in the same folder, which is flushed to disk and then
/// renamed over the destination, so a reader sees the old file or the new one, never a
/// partial one. Reading validates every length against the file size and the checksum
/// before building tensors; any problem throws a `CheckpointError` naming the file.
public struct Checkpoint {
    static let magic: [UInt8] = Array("MOEBCKPT".utf8)
    static let version: UInt32 = 1

    /// The file this checkpoint was read from.
    public let file: String
    /// The metadata JSON exactly as stored.
    public let metadata: Data
    /// Tensor names in file order.
    public let names: [String]
    /// The tensors by name (fresh leaves without gradients).
    public let tensors: [String: Tensor]

    // MARK: Writing

    /// Writes `tensors` (names must be unique) and `metadata` (JSON bytes) to `url`
    /// atomically.
    public static func save(to url: URL, tensors: [(String, Tensor)], metadata: Data) throws {
        let path = url.path
        var seen = Set<String>()
        for (name, _) in tensors where !seen.insert(name).inserted {
            throw CheckpointError.unwritable(file: path, reason: "tensor name '\(name)' is used twice")
        }
        var out = ByteWriter()
        out.bytes(magic)
        out.u32(version)
        out.u32(0)
        out.u64(UInt64(metadata.count))
        out.data(metadata)
        out.u64(UInt64(tensors.count))
        for (name, t) in tensors {
            let utf8 = Array(name.utf8)
            out.u32(UInt32(utf8.count))
            out.bytes(utf8)
            out.u32(UInt32(t.rank))
            for d in t.shape { out.u64(UInt64(d)) }
            out.floats(t.data, t.count)
        }
        out.u64(fnv1a(out.buffer, count: out.buffer.count))
        try writeAtomically(out.buffer, to: path)
    }

    /// Writes tensors and an `Encodable` metadata value (encoded as JSON with sorted keys).
    public static func save<M: Encodable>(to url: URL, tensors: [(String, Tensor)], metadata: M) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: Data
        do { json = try encoder.encode(metadata) } catch {
            throw CheckpointError.unwritable(file: url.path, reason: "metadata does not encode: \(error)")
        }
        try save(to: url, tensors: tensors, metadata: json)
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.unwritable(file: path, reason: "cannot create \(tmp): \(String(cString: strerror(errno)))")
        }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "write to \(tmp) failed: \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync of \(tmp) failed: \(String(cString: strerror(errno)))" }
        if close(fd) != 0, failure == nil { failure = "close of \(tmp) failed: \(String(cString: strerror(errno)))" }
        if failure == nil, rename(tmp, path) != 0 {
            failure = "rename \(tmp) -> \(path) failed: \(String(cString: strerror(errno)))"
        }
        if let failure {
            unlink(tmp)
            throw CheckpointError.unwritable(file: path, reason: failure)
        }
    }

    // MARK: Reading

    /// Reads and validates a checkpoint file.
    public static func load(from url: URL) throws -> Checkpoint {
        let path = url.path
        let bytes: Data
        do { bytes = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "\(error.localizedDescription)" : "no such file"
            throw CheckpointError.unreadable(file: path, reason: reason)
        }
        return try bytes.withUnsafeBytes { raw in
            try parse(UnsafeRawBufferPointer(raw), file: path)
        }
    }

    static func parse(_ raw: UnsafeRawBufferPointer, file: String) throws -> Checkpoint {
        var r = ByteReader(raw: raw, file: file)
        guard raw.count >= magic.count, Array(raw[0 ..< magic.count]) == magic else {
            throw CheckpointError.notACheckpoint(file: file, reason: "missing the magic bytes \"MOEBCKPT\"")
        }
        r.offset = magic.count
        let version = try r.u32("the header")
        guard version == Checkpoint.version else {
            throw CheckpointError.notACheckpoint(file: file, reason: "format version \(version), expected \(Checkpoint.version)")
        }
        _ = try r.u32("the header")
        // The last 8 bytes are the checksum of the body before them. Lengths are checked
        // against the body as they are read; the checksum is verified before any tensor is
        // built.
        guard raw.count >= r.offset + 8 else { throw CheckpointError.truncated(file: file, what: "the header") }
        let bodyCount = raw.count - 8
        let stored = raw.loadUnaligned(fromByteOffset: bodyCount, as: UInt64.self).littleEndian
        let metadataLength = try r.length("the metadata", elementSize: 1, limit: bodyCount)
        let metadata = Data(try r.take(metadataLength, "the metadata", limit: bodyCount))
        let count = try r.length("the tensor list", elementSize: 1, limit: bodyCount)
        var names: [String] = []
        var tensors: [String: Tensor] = [:]
        var pending: [(String, [Int], Int)] = []   // name, shape, byte offset of values
        var seenNames = Set<String>()
        for k in 0 ..< count {
            let label = "tensor #\(k)"
            let nameLength = Int(try r.u32("the name of \(label)", limit: bodyCount))
            guard let name = String(bytes: try r.take(nameLength, "the name of \(label)", limit: bodyCount),
                                    encoding: .utf8) else {
                throw CheckpointError.corrupt(file: file, reason: "the name of \(label) is not UTF-8")
            }
            let rank = Int(try r.u32("the rank of tensor '\(name)'", limit: bodyCount))
            guard rank <= 32 else { throw CheckpointError.corrupt(file: file, reason: "tensor '\(name)' has rank \(rank)") }
            var shape: [Int] = []
            var elements = 1
            for _ in 0 ..< rank {
                let d = try r.u64("the shape of tensor '\(name)'", limit: bodyCount)
                guard d <= UInt64(bodyCount) else {
                    throw CheckpointError.corrupt(file: file, reason: "tensor '\(name)' has dimension \(d), larger than the file")
                }
                shape.append(Int(d))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product <= bodyCount else {
                    throw CheckpointError.truncated(file: file, what: "the values of tensor '\(name)' (shape \(shape)...)")
                }
                elements = product
            }
            let start = r.offset
            _ = try r.take(elements * 4, "the values of tensor '\(name)' (shape \(shape))", limit: bodyCount)
            guard seenNames.insert(name).inserted else {
                throw CheckpointError.corrupt(file: file, reason: "tensor '\(name)' appears twice")
            }
            pending.append((name, shape, start))
            names.append(name)
        }
        guard r.offset == bodyCount else {
            throw CheckpointError.corrupt(file: file, reason: "\(bodyCount - r.offset) unexplained bytes after the last tensor")
        }
        guard fnv1a(raw, count: bodyCount) == stored else {
            throw CheckpointError.corrupt(file: file, reason: "checksum mismatch (the file was modified or damaged)")
        }
        for (name, shape, start) in pending {
            let t = Tensor(uninitialized: shape)
            let src = raw.baseAddress! + start, dst = t.data
            for i in 0 ..< t.count {
                dst[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian)
            }
            tensors[name] = t
        }
        return Checkpoint(file: file, metadata: metadata, names: names, tensors: tensors)
    }

    // MARK: Using a loaded checkpoint

    /// Decodes the metadata JSON.
    public func decodeMetadata<M: Decodable>(_ type: M.Type) throws -> M {
        do { return try JSONDecoder().decode(type, from: metadata) } catch {
            throw CheckpointError.incompatible(file: file, reason: "metadata does not decode as \(type): \(error)")
        }
    }

    /// The tensor `name`, or `missingTensor`.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw CheckpointError.missingTensor(file: file, name: name) }
        return t
    }

    /// Copies the stored values into `targets` (e.g. `model.namedTensors()` or
    /// `optimizer.stateTensors()`), reading `prefix + name` for each. Every target must be
    /// present with the same shape, and (strictly) every stored tensor under `prefix` must
    /// be a target; otherwise nothing is modified and the first problem is thrown.
    public func restore(_ targets: [(String, Tensor)], prefix: String = "") throws {
        try validate(targets, prefix: prefix)
        for (name, t) in targets {
            t.data.update(from: tensors[prefix + name]!.data, count: t.count)
        }
    }

    /// The checks of `restore`, without copying anything.
    public func validate(_ targets: [(String, Tensor)], prefix: String = "") throws {
        var wanted = Set<String>()
        for (name, t) in targets {
            let key = prefix + name
            wanted.insert(key)
            guard let stored = tensors[key] else { throw CheckpointError.missingTensor(file: file, name: key) }
            guard stored.shape == t.shape else {
                throw CheckpointError.shapeMismatch(file: file, name: key, expected: t.shape, found: stored.shape)
            }
        }
        for name in names where name.hasPrefix(prefix) && !wanted.contains(name) {
            throw CheckpointError.unexpectedTensor(file: file, name: name)
        }
    }
}

// MARK: Training state

/// What a training run saves besides tensors: enough to resume bit-identically.
public struct TrainingMetadata: Codable, Equatable {
    /// Completed optimizer steps.
    public var step: Int
    /// Named random generators (data order, dropout, noise, …) at the save point.
    public var rngs: [String: RNG]
    /// A hash of the run configuration; a resumed run must present the same one.
    public var configHash: String
    /// The optimizer's counters (filled in by `TrainingCheckpoint.save`).
    public var optimizer: OptimizerState?
    /// Anything else worth keeping (e.g. best validation score so far).
    public var extra: [String: String]

    public init(step: Int, rngs: [String: RNG] = [:], configHash: String, optimizer: OptimizerState? = nil,
                extra: [String: String] = [:]) {
        self.step = step
        self.rngs = rngs
        self.configHash = configHash
        self.optimizer = optimizer
        self.extra = extra
    }
}

/// Saving and resuming a model with its optimizer. Tensors are stored as
/// `model.<name>` (every tensor of `model.namedTensors()`) and `optimizer.<name>`
/// (`optimizer.stateTensors()`); the optimizer's counters go into the metadata.
public enum TrainingCheckpoint {
    public static func save(to url: URL, model: Module, optimizer: Optimizer?, metadata: TrainingMetadata) throws {
        var meta = metadata
        meta.optimizer = optimizer?.state
        var tensors = model.namedTensors().map { ("model." + $0.0, $0.1) }
        if let optimizer { tensors += optimizer.stateTensors().map { ("optimizer." + $0.0, $0.1) } }
        try Checkpoint.save(to: url, tensors: tensors, metadata: meta)
    }

    /// Restores `model` and `optimizer` in place and returns the metadata. Throws before
    /// modifying anything when the file is unreadable, the configuration hash differs from
    /// `expectedConfigHash` (when given), or any tensor is missing, extra or mis-shaped.
    public static func load(from url: URL, model: Module, optimizer: Optimizer?,
                            expectedConfigHash: String? = nil) throws -> TrainingMetadata {
        let ckpt = try Checkpoint.load(from: url)
        let meta = try ckpt.decodeMetadata(TrainingMetadata.self)
        if let expectedConfigHash, meta.configHash != expectedConfigHash {
            throw CheckpointError.incompatible(
                file: ckpt.file, reason: "configuration hash \(meta.configHash), expected \(expectedConfigHash)")
        }
        let modelTensors = model.namedTensors()
        let optimizerTensors = optimizer?.stateTensors() ?? []
        // Validate both parts (and the optimizer counters) before writing either.
        try ckpt.validate(modelTensors, prefix: "model.")
        if let optimizer {
            guard let state = meta.optimizer else {
                throw CheckpointError.incompatible(file: ckpt.file, reason: "it holds no optimizer state")
            }
            try ckpt.validate(optimizerTensors, prefix: "optimizer.")
            do { try optimizer.load(state: state) } catch {
                throw CheckpointError.incompatible(file: ckpt.file, reason: "\(error)")
            }
            try ckpt.restore(optimizerTensors, prefix: "optimizer.")
        }
        try ckpt.restore(modelTensors, prefix: "model.")
        return meta
    }
}

// MARK: Byte helpers

/// 64-bit FNV-1a over little-endian 8-byte words (the trailing `count % 8` bytes one at a
/// time). Each step is a bijection of the running hash, so any single changed word changes
/// the result.
func fnv1a(_ raw: UnsafeRawBufferPointer, count: Int) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    let prime: UInt64 = 0x0000_0100_0000_01B3
    let words = count / 8
    guard let base = raw.baseAddress else { return h }
    for i in 0 ..< words {
        h = (h ^ base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).littleEndian) &* prime
    }
    for i in words * 8 ..< count { h = (h ^ UInt64(raw[i])) &* prime }
    return h
}

func fnv1a(_ bytes: [UInt8], count: Int) -> UInt64 {
    bytes.withUnsafeBytes { fnv1a($0, count: count) }
}

struct ByteWriter {
    var buffer: [UInt8] = []

    mutating func bytes(_ b: [UInt8]) { buffer.append(contentsOf: b) }
    mutating func data(_ d: Data) { buffer.append(contentsOf: d) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func floats(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: n * 4))
        buffer.withUnsafeMutableBytes { raw in
            let out = raw.baseAddress! + start
            for i in 0 ..< n { out.storeBytes(of: p[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
    }
}

struct ByteReader {
    let raw: UnsafeRawBufferPointer
    let file: String
    var offset = 0

    mutating func take(_ n: Int, _ what: String, limit: Int? = nil) throws -> UnsafeRawBufferPointer {
        let end = limit ?? raw.count
        guard n >= 0, n <= end - offset else { throw CheckpointError.truncated(file: file, what: what) }
        let slice = UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + n])
        offset += n
        return slice
    }

    mutating func u32(_ what: String, limit: Int? = nil) throws -> UInt32 {
        let b = try take(4, what, limit: limit)
        return b.loadUnaligned(as: UInt32.self).littleEndian
    }

    mutating func u64(_ what: String, limit: Int? = nil) throws -> UInt64 {
        let b = try take(8, what, limit: limit)
        return b.loadUnaligned(as: UInt64.self).littleEndian
    }

    /// A u64 count, checked to fit in the rest of the file at `elementSize` bytes each.
    mutating func length(_ what: String, elementSize: Int, limit: Int) throws -> Int {
        let v = try u64(what, limit: limit)
        guard v <= UInt64((limit - offset) / elementSize) else {
            throw CheckpointError.truncated(file: file, what: "\(what) (\(v) declared)")
        }
        return Int(v)
    }
}
