import Data
import Foundation
import Tensor

/// A reader for the safetensors format (Hugging Face): an 8-byte little-endian unsigned
/// header length `n`, then `n` bytes of a UTF-8 JSON object mapping each tensor name to
/// `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}` (an optional
/// `"__metadata__"` entry of strings is ignored), then the raw little-endian data; each
/// tensor's bytes are `data[begin ..< end]`, offsets relative to the end of the header.
///
/// The file is memory-mapped once when opened; the header is parsed and checked then
/// (every entry well formed, offsets inside the data section, byte length equal to
/// `product(shape) · size(dtype)` for the known dtypes). Tensor data is copied out on
/// demand by `tensor(_:)`, which supports `F32` only; other dtypes are listed in `entries`
/// but reading one throws an error naming the tensor and its dtype.
///
/// Every problem throws a `DataError` naming the file (and the tensor, where it applies).
public final class SafeTensorsFile {
    /// One header entry.
    public struct Entry: Equatable, Sendable {
        public let name: String
        /// The dtype as written, e.g. "F32", "F16", "I64".
        public let dtype: String
        public let shape: [Int]
        /// Byte range within the data section (after the header).
        public let dataOffsets: Range<Int>

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Bytes per element of the dtypes the format defines.
    public static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8,
    ]

    /// The file's path, as used in error messages.
    public let path: String
    /// Entries by tensor name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings, if any.
    public let metadata: [String: String]

    private let bytes: Foundation.Data
    private let dataStart: Int

    /// Tensor names in sorted order.
    public var names: [String] { entries.keys.sorted() }

    /// Opens and memory-maps `url` and checks its header.
    public convenience init(contentsOf url: URL) throws {
        let path = url.path
        let bytes: Foundation.Data
        do {
            bytes = try Foundation.Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw DataError(file: path, "cannot read safetensors file: \(error.localizedDescription)")
        }
        try self.init(bytes: bytes, path: path)
    }

    /// Parses safetensors bytes already in memory; `path` names them in errors.
    public init(bytes: Foundation.Data, path: String) throws {
        self.path = path
        self.bytes = bytes
        guard bytes.count >= 8 else {
            throw DataError(file: path, "truncated safetensors file: \(bytes.count) bytes, need at least 8 for the header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[bytes.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw DataError(file: path, "truncated safetensors file: header length \(headerLength) but only \(bytes.count - 8) bytes follow")
        }
        let n = Int(headerLength)
        dataStart = 8 + n
        let headerBytes = bytes.subdata(in: (bytes.startIndex + 8) ..< (bytes.startIndex + 8 + n))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerBytes, options: [])
        } catch {
            throw DataError(file: path, location: "header", "not valid JSON (\(n) bytes): \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else {
            throw DataError(file: path, location: "header", "expected a JSON object of tensor entries")
        }
        let dataSize = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { if let s = v as? String { metadata[k] = s } }
                }
                continue
            }
            let loc = "tensor '\(name)'"
            guard let e = value as? [String: Any] else {
                throw DataError(file: path, location: loc, "expected an object with dtype, shape and data_offsets")
            }
            guard let dtype = e["dtype"] as? String else {
                throw DataError(file: path, location: loc, "missing or non-string 'dtype'")
            }
            guard let shape = SafeTensorsFile.intArray(e["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw DataError(file: path, location: loc, "'shape' must be an array of non-negative integers")
            }
            guard let offsets = SafeTensorsFile.intArray(e["data_offsets"]), offsets.count == 2 else {
                throw DataError(file: path, location: loc, "'data_offsets' must be an array of two integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw DataError(file: path, location: loc,
                                "data_offsets [\(begin), \(end)] out of range: the data section has \(dataSize) bytes")
            }
            if let size = SafeTensorsFile.dtypeSizes[dtype] {
                let expected = shape.reduce(1, *) * size
                guard end - begin == expected else {
                    throw DataError(file: path, location: loc,
                                    "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtype) \(shape) needs \(expected)")
                }
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, dataOffsets: begin ..< end)
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// The entry named `name`, or an error naming the file and the tensor.
    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else {
            throw DataError(file: path, location: "tensor '\(name)'", "not in the file")
        }
        return e
    }

    /// Reads an F32 tensor as a new leaf tensor of its stored shape (a copy of the data).
    ///
    /// With `transposed`, a 2-D `[r, c]` tensor is returned as its transpose `[c, r]` (how
    /// PyTorch's `nn.Linear` weights `[out, in]` become the engine's `[in, out]`).
    public func tensor(_ name: String, transposed: Bool = false, requiresGrad: Bool = false) throws -> Tensor {
        let e = try entry(name)
        guard e.dtype == "F32" else {
            throw DataError(file: path, location: "tensor '\(name)'",
                            "dtype \(e.dtype) is not supported (only F32 can be read)")
        }
        if transposed && e.shape.count != 2 {
            throw DataError(file: path, location: "tensor '\(name)'", "cannot transpose a tensor of shape \(e.shape)")
        }
        let count = e.elementCount
        let storage = TensorStorage(count: count, zeroed: false)
        let dst = storage.base
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let src = raw.baseAddress! + dataStart + e.dataOffsets.lowerBound
            if transposed {
                let r = e.shape[0], c = e.shape[1]
                // out[j, i] = in[i, j], in blocks of 32x32 for locality.
                let bs = 32
                var i0 = 0
                while i0 < r {
                    var j0 = 0
                    while j0 < c {
                        for i in i0 ..< min(i0 + bs, r) {
                            for j in j0 ..< min(j0 + bs, c) {
                                dst[j * r + i] = SafeTensorsFile.loadF32(src, i * c + j)
                            }
                        }
                        j0 += bs
                    }
                    i0 += bs
                }
            } else {
                #if _endian(little)
                UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
                #else
                for i in 0..<count { dst[i] = SafeTensorsFile.loadF32(src, i) }
                #endif
            }
        }
        let shape = transposed ? [e.shape[1], e.shape[0]] : e.shape
        return Tensor(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    @inline(__always)
    private static func loadF32(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
    }

    private static func intArray(_ value: Any?) -> [Int]? {
        guard let a = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(a.count)
        for v in a {
            // JSONSerialization yields NSNumber; reject non-integral numbers.
            guard let num = v as? NSNumber else { return nil }
            let d = num.doubleValue
            guard d == d.rounded(), abs(d) < 9.0e15 else { return nil }
            out.append(num.intValue)
        }
        return out
    }
}
