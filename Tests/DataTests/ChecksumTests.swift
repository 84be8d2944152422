import Data
import Foundation
import XCTest

/// MD5 against the RFC 1321 test suite, and dataset recognition by size, MD5 and file count.
final class ChecksumTests: XCTestCase {
    /// RFC 1321, appendix A.5.
    func testRFC1321Vectors() {
        let vectors: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
             "d174ab98d277d9f5a5611c2c9f419d9f"),
            ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
             "57edf4a22be3c955ac49da2e2107b67a"),
        ]
        for (input, expected) in vectors {
            XCTAssertEqual(MD5.hex(Array(input.utf8)), expected, "MD5(\"\(input)\")")
        }
    }

    /// Padding edge cases (55, 56, 63, 64, 65 bytes) and a million bytes, against values
    /// from Python's hashlib (`hashlib.md5(b"a" * n).hexdigest()`).
    func testPaddingBoundariesAndLongInput() {
        let expected: [Int: String] = [
            55: "ef1772b6dff9a122358552954ad0df65",
            56: "3b0c8ac703f828b04c6c197006d17218",
            63: "b06521f39153d618550606be297466d5",
            64: "014842d480b571495a4a0363793f7367",
            65: "c743a45e0d2e6a95cb859adae0248435",
            1_000_000: "7707d6ae4e027c70eea2a935c2296f21",
        ]
        for (n, md5) in expected {
            XCTAssertEqual(MD5.hex([UInt8](repeating: UInt8(ascii: "a"), count: n)), md5, "n = \(n)")
        }
    }

    /// Streaming in uneven pieces gives the one-shot digest.
    func testStreamingEqualsOneShot() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        var m = MD5()
        var i = 0
        for piece in [1, 63, 64, 65, 3, 1000, 7, 4096] + Array(repeating: 500, count: 20) where i < bytes.count {
            let end = min(bytes.count, i + piece)
            m.update(Array(bytes[i..<end]))
            i = end
        }
        if i < bytes.count { m.update(Array(bytes[i...])) }
        XCTAssertEqual(m.hexDigest(), MD5.hex(bytes))
        XCTAssertEqual(m.hexDigest(), m.hexDigest(), "finalize does not consume the state")
    }

    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-sums-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func write(_ path: String, bytes: Int) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        // A sparse file of the requested size.
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: UInt64(bytes))
        try h.close()
    }

    func result(_ results: [ChecksumResult], _ item: String) -> ChecksumResult? {
        results.first { $0.item == item }
    }

    func testRecognisesExtractedFilesAndReportsMissingOnes() throws {
        try write("cifar-100-binary/train.bin", bytes: 153_700_000)     // right size
        try write("cifar-100-binary/test.bin", bytes: 30_740_000 - 3074)  // one record short
        try write("cifar-100-binary.tar.gz", bytes: 1000)               // partial download
        for i in 0..<3 { try write("LibriSpeech/dev-clean/1/2/1-2-000\(i).flac", bytes: 10) }
        let r = try Checksums.verify(root: root)
        XCTAssertEqual(result(r, "cifar-100-binary/train.bin")?.status, .ok)
        XCTAssertEqual(result(r, "cifar-100-binary/test.bin")?.status, .mismatch)
        XCTAssertTrue(result(r, "cifar-100-binary/test.bin")!.detail.contains("expected 30740000"))
        XCTAssertEqual(result(r, "cifar-100-binary.tar.gz")?.status, .mismatch)
        XCTAssertTrue(result(r, "cifar-100-binary.tar.gz")!.detail.contains("expected 168513733"))
        let dev = result(r, "LibriSpeech/dev-clean")
        XCTAssertEqual(dev?.status, .mismatch)
        XCTAssertTrue(dev!.detail.contains("3 .flac files, expected 2703"), dev!.detail)
        XCTAssertEqual(result(r, "LibriSpeech/test-clean")?.status, .notFound)
        XCTAssertEqual(result(r, "LibriSpeech/train-clean-100")?.status, .notFound)
        XCTAssertEqual(r.filter { $0.status == .proxy }.count, 0)
    }

    func testArchiveMD5OkAndMismatch() throws {
        let content = Array("a small stand-in archive".utf8)
        try Data(content).write(to: root.appendingPathComponent("x.tar.gz"))
        let good = Checksums.Reference(name: "x", archive: "x.tar.gz", archiveBytes: Int64(content.count),
                                       archiveMD5: MD5.hex(content))
        XCTAssertEqual(try Checksums.verify(root: root, references: [good]).map(\.status), [.ok])
        let bad = Checksums.Reference(name: "x", archive: "x.tar.gz", archiveBytes: Int64(content.count),
                                      archiveMD5: "00000000000000000000000000000000")
        let r = try Checksums.verify(root: root, references: [bad])
        XCTAssertEqual(r.map(\.status), [.mismatch])
        XCTAssertTrue(r[0].detail.contains("expected 00000000000000000000000000000000"))
        // Without MD5 only the size is checked.
        XCTAssertEqual(try Checksums.verify(root: root, md5: false, references: [bad]).map(\.status), [.ok])
    }

    func testProxyRootIsReportedAsProxy() throws {
        try Data("synthetic".utf8).write(to: root.appendingPathComponent("PROXY.md"))
        try write("cifar-100-binary/train.bin", bytes: 3074 * 10)
        try write("LibriSpeech/dev-clean/1/2/1-2-0000.flac", bytes: 10)
        let r = try Checksums.verify(root: root)
        XCTAssertEqual(result(r, "cifar-100-binary/train.bin")?.status, .proxy)
        XCTAssertEqual(result(r, "LibriSpeech/dev-clean")?.status, .proxy)
        XCTAssertEqual(result(r, "LibriSpeech/test-other")?.status, .notFound)
        XCTAssertFalse(r.contains { $0.status == .ok || $0.status == .mismatch })
    }

    func testMissingRootThrows() {
        let missing = root.appendingPathComponent("nope")
        XCTAssertThrowsError(try Checksums.verify(root: missing)) { e in
            XCTAssertEqual((e as? DataError)?.file, missing.path)
        }
    }
}
