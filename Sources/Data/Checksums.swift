import Foundation

/// MD5 message digest (RFC 1321), streaming: `update` any number of times, then `finalize`.
///
/// Used only to recognise published archives by their published checksums, never for
/// security.
public struct MD5 {
    private var a0: UInt32 = 0x6745_2301
    private var b0: UInt32 = 0xefcd_ab89
    private var c0: UInt32 = 0x98ba_dcfe
    private var d0: UInt32 = 0x1032_5476
    /// Bytes of a partial 64-byte block not yet processed.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() { pending.reserveCapacity(64) }

    /// Per-round left-rotation amounts (RFC 1321, section 3.4).
    private static let shifts: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]
    /// `K[i] = floor(2^32 · |sin(i + 1)|)`.
    private static let constants: [UInt32] = (0..<64).map {
        UInt32(truncatingIfNeeded: Int64((abs(sin(Double($0 + 1))) * 4_294_967_296.0).rounded(.down)))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var n = bytes.count
        length &+= UInt64(n)
        if !pending.isEmpty {
            let take = min(64 - pending.count, n)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: p, count: take))
            p += take; n -= take
            if pending.count == 64 {
                pending.withUnsafeBytes { block($0.baseAddress!) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        while n >= 64 {
            block(p)
            p += 64; n -= 64
        }
        if n > 0 { pending.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n)) }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

    /// The 16-byte digest (this value is consumed: padding is appended to a copy).
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        let padded = (Int(length % 64) + 1) % 64
        tail += [UInt8](repeating: 0, count: padded <= 56 ? 56 - padded : 120 - padded)
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        let savedLength = copy.length
        tail.withUnsafeBytes { copy.update($0) }
        copy.length = savedLength
        precondition(copy.pending.isEmpty)
        var out = [UInt8]()
        for w in [copy.a0, copy.b0, copy.c0, copy.d0] {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt32(i)))) }
        }
        return out
    }

    /// Lower-case hexadecimal of the digest.
    public func hexDigest() -> String {
        finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// MD5 of a byte string, as lower-case hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        var m = MD5()
        m.update(bytes)
        return m.hexDigest()
    }

    /// MD5 of a file, read in 4 MiB chunks, as lower-case hexadecimal.
    public static func hex(ofFile url: URL) throws -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw DataError(file: url.path, "cannot open for reading")
        }
        defer { try? handle.close() }
        var m = MD5()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw DataError(file: url.path, "read error: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            m.update(chunk)
        }
        return m.hexDigest()
    }

    /// One 64-byte block (RFC 1321, section 3.4): 4 rounds of 16 operations.
    private mutating func block(_ p: UnsafeRawPointer) {
        var x = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                 UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        withUnsafeMutableBytes(of: &x) { $0.copyMemory(from: UnsafeRawBufferPointer(start: p, count: 64)) }
        var a = a0, b = b0, c = c0, d = d0
        MD5.constants.withUnsafeBufferPointer { k in
            MD5.shifts.withUnsafeBufferPointer { s in
                withUnsafeBytes(of: &x) { raw in
                    let w = raw.bindMemory(to: UInt32.self)
                    for i in 0..<64 {
                        var f: UInt32
                        let g: Int
                        switch i >> 4 {
                        case 0: f = (b & c) | (~b & d); g = i
                        case 1: f = (d & b) | (~d & c); g = (5 &* i &+ 1) & 15
                        case 2: f = b ^ c ^ d; g = (3 &* i &+ 5) & 15
                        default: f = c ^ (b | ~d); g = (7 &* i) & 15
                        }
                        f = f &+ a &+ k[i] &+ UInt32(littleEndian: w[g])
                        a = d; d = c; c = b
                        b = b &+ ((f << s[i]) | (f >> (32 - s[i])))
                    }
                }
            }
        }
        a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
    }
}

/// The outcome of checking one dataset item against its published reference.
public struct ChecksumResult: Equatable, Sendable, CustomStringConvertible {
    public enum Status: String, Sendable {
        /// Found, and its size (and MD5 or file count, where known) matches the reference.
        case ok
        /// Found, but something differs from the reference (see `detail`).
        case mismatch
        /// Neither the archive nor the extracted files are there.
        case notFound = "not-found"
        /// The root holds synthetic proxy data (`PROXY.md`), not the published dataset.
        case proxy
    }

    /// The reference item, e.g. `cifar-100-binary.tar.gz` or `LibriSpeech/dev-clean`.
    public let item: String
    /// The path checked (for `notFound`, the paths looked at, separated by " or ").
    public let path: String
    public let status: Status
    public let detail: String

    public init(item: String, path: String, status: Status, detail: String) {
        self.item = item
        self.path = path
        self.status = status
        self.detail = detail
    }

    public var description: String { "\(status.rawValue)\t\(item)\t\(detail)" }
}

/// Recognises the published CIFAR-100 and LibriSpeech downloads under a dataset root, as
/// archives (size and MD5) or as extracted files (sizes, file counts).
public enum Checksums {
    /// One published dataset component: its archive (at the root) and what extracting it
    /// gives.
    public struct Reference: Sendable {
        /// Short name shown in reports, e.g. `cifar-100`, `LibriSpeech/dev-clean`.
        public let name: String
        /// Archive file name, looked for directly under the root.
        public let archive: String
        public let archiveBytes: Int64?
        /// Lower-case hexadecimal MD5 of the archive.
        public let archiveMD5: String?
        /// Extracted files that have a known exact size (path under the root, bytes).
        public let extractedFiles: [(path: String, bytes: Int64)]
        /// An extracted folder (path under the root) and how many `.flac` files it holds.
        public let extractedFolder: (path: String, flacFiles: Int)?

        public init(name: String, archive: String, archiveBytes: Int64?, archiveMD5: String?,
                    extractedFiles: [(path: String, bytes: Int64)] = [],
                    extractedFolder: (path: String, flacFiles: Int)? = nil) {
            self.name = name
            self.archive = archive
            self.archiveBytes = archiveBytes
            self.archiveMD5 = archiveMD5
            self.extractedFiles = extractedFiles
            self.extractedFolder = extractedFolder
        }
    }

    /// The published references. CIFAR-100: www.cs.toronto.edu/~kriz/cifar.html (archive
    /// size and MD5; `train.bin` is 50,000 and `test.bin` 10,000 records of 3074 bytes).
    /// LibriSpeech: OpenSLR 12 `md5sum.txt` (MD5s), the archive sizes of the final release
    /// (as checked by Kaldi's `download_and_untar.sh`), and the utterance count per subset.
    public static let references: [Reference] = [
        Reference(name: "cifar-100", archive: "cifar-100-binary.tar.gz", archiveBytes: 168_513_733,
                  archiveMD5: "03b5dce01913d631647c71ecec9e9cb8",
                  extractedFiles: [("cifar-100-binary/train.bin", 153_700_000),
                                   ("cifar-100-binary/test.bin", 30_740_000)]),
        libri("dev-clean", 337_926_286, "42e2234ba48799c1f50f24a7926300a1", 2703),
        libri("dev-other", 314_305_928, "c8d0bcc9cca99d4f8b62fcc847357931", 2864),
        libri("test-clean", 346_663_984, "32fa31d27d2e1cad72775fee3f4849a9", 2620),
        libri("test-other", 328_757_843, "fb5a50374b501bb3bac4815ee91d3135", 2939),
        libri("train-clean-100", 6_387_309_499, "2a93770f6d5c6c964bc36631d331a522", 28539),
        libri("train-clean-360", 23_049_477_885, "c0e676e450a7ff2f54aeade5171606fa", 104_014),
        libri("train-other-500", 30_593_501_606, "d1a0fd59409feb2c614ce4d30c387708", 148_688),
    ]

    private static func libri(_ subset: String, _ bytes: Int64, _ md5: String, _ utterances: Int) -> Reference {
        Reference(name: "LibriSpeech/\(subset)", archive: "\(subset).tar.gz", archiveBytes: bytes,
                  archiveMD5: md5, extractedFolder: ("LibriSpeech/\(subset)", utterances))
    }

    /// Checks every reference under `root`.
    ///
    /// - A root with `PROXY.md` holds synthetic data: each component present is reported as
    ///   `proxy`, absent ones as `notFound`.
    /// - Otherwise, for each component: the archive (size, then MD5 when `md5` is true) if it
    ///   is at the root; the extracted files (exact sizes) and folder (`.flac` count) if they
    ///   are there; one `notFound` when neither is.
    ///
    /// Throws when `root` is not a folder.
    public static func verify(root: URL, md5: Bool = true,
                              references: [Reference] = Checksums.references) throws -> [ChecksumResult] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: root.path, "dataset folder not found")
        }
        let isProxy = DatasetLayout.isProxy(root)
        var results: [ChecksumResult] = []
        for ref in references {
            let archive = root.appendingPathComponent(ref.archive)
            let extractedPaths = ref.extractedFiles.map(\.path) + (ref.extractedFolder.map { [$0.path] } ?? [])
            let extracted = extractedPaths.map { root.appendingPathComponent($0) }
            let present = ([archive] + extracted).filter { fm.fileExists(atPath: $0.path) }
            if present.isEmpty {
                results.append(ChecksumResult(
                    item: ref.name, path: ([archive] + extracted).map(\.path).joined(separator: " or "),
                    status: .notFound, detail: "neither \(ref.archive) nor its extracted files are there"))
                continue
            }
            if isProxy {
                for url in present {
                    results.append(ChecksumResult(
                        item: relative(url, root), path: url.path, status: .proxy,
                        detail: "synthetic proxy data (PROXY.md at the root), not the published \(ref.name)"))
                }
                continue
            }
            if fm.fileExists(atPath: archive.path) {
                results.append(try checkArchive(ref, archive, md5: md5))
            }
            for (path, bytes) in ref.extractedFiles {
                let url = root.appendingPathComponent(path)
                guard fm.fileExists(atPath: url.path) else {
                    if !fm.fileExists(atPath: archive.path) {
                        results.append(ChecksumResult(item: path, path: url.path, status: .notFound,
                                                      detail: "missing from the extracted \(ref.name)"))
                    }
                    continue
                }
                let size = try fileSize(url)
                results.append(ChecksumResult(
                    item: path, path: url.path, status: size == bytes ? .ok : .mismatch,
                    detail: size == bytes ? "\(size) bytes (size check; no published MD5)"
                        : "\(size) bytes, expected \(bytes)"))
            }
            if let (path, count) = ref.extractedFolder {
                let url = root.appendingPathComponent(path)
                if fm.fileExists(atPath: url.path) {
                    let n = countFlacFiles(url)
                    results.append(ChecksumResult(
                        item: path, path: url.path, status: n == count ? .ok : .mismatch,
                        detail: n == count ? "\(n) .flac files (count check)" : "\(n) .flac files, expected \(count)"))
                }
            }
        }
        return results
    }

    static func checkArchive(_ ref: Reference, _ url: URL, md5: Bool) throws -> ChecksumResult {
        let size = try fileSize(url)
        if let bytes = ref.archiveBytes, size != bytes {
            return ChecksumResult(item: ref.archive, path: url.path, status: .mismatch,
                                  detail: "\(size) bytes, expected \(bytes) (incomplete download?)")
        }
        guard md5, let expected = ref.archiveMD5 else {
            return ChecksumResult(item: ref.archive, path: url.path, status: .ok,
                                  detail: "\(size) bytes (size check only)")
        }
        let actual = try MD5.hex(ofFile: url)
        return ChecksumResult(item: ref.archive, path: url.path, status: actual == expected ? .ok : .mismatch,
                              detail: actual == expected ? "\(size) bytes, md5 \(actual)"
                                  : "md5 \(actual), expected \(expected)")
    }

    static func fileSize(_ url: URL) throws -> Int64 {
        do {
            let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
            return (attrs[.size] as? NSNumber)?.int64Value ?? 0
        } catch {
            throw DataError(file: url.path, "cannot read file size: \(error.localizedDescription)")
        }
    }

    static func countFlacFiles(_ folder: URL) -> Int {
        guard let e = FileManager.default.enumerator(atPath: folder.path) else { return 0 }
        var n = 0
        while let p = e.nextObject() as? String {
            if p.hasSuffix(".flac") { n += 1 }
        }
        return n
    }

    static func relative(_ url: URL, _ root: URL) -> String {
        let r = root.standardizedFileURL.path
        let p = url.standardizedFileURL.path
        return p.hasPrefix(r + "/") ? String(p.dropFirst(r.count + 1)) : p
    }
}
