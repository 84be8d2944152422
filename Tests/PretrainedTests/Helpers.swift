import Data
import Foundation
import Pretrained
import Tensor
import XCTest

/// The all-MiniLM-L6-v2 folder installed by `make pretrained` (or `MOEBENCH_PRETRAINED`).
/// Throws (so the test fails, never skips) with instructions when it is missing.
func pretrainedDirectory() throws -> URL {
    let url: URL
    if let env = ProcessInfo.processInfo.environment["MOEBENCH_PRETRAINED"], !env.isEmpty {
        url = URL(fileURLWithPath: env)
    } else {
        // Tests/PretrainedTests/Helpers.swift -> repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        url = root.appendingPathComponent(PretrainedFolder.defaultPath)
    }
    guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) else {
        throw MissingModelError("the pretrained model is missing at \(url.path): run `make pretrained` "
                             + "(or set MOEBENCH_PRETRAINED to an all-MiniLM-L6-v2 folder)")
    }
    return url
}

/// An error that fails the test with a message (never a skip).
struct MissingModelError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The encoder, loaded once per test process.
enum SharedModel {
    nonisolated(unsafe) private static var cached: BertEncoder?
    static func encoder() throws -> BertEncoder {
        if let cached { return cached }
        let e = try BertEncoder.load(directory: try pretrainedDirectory())
        e.eval()
        cached = e
        return e
    }
}

/// The reference fixtures written by Fixtures/make_fixtures_pretrained.py.
struct PretrainedFixtures: Decodable {
    struct Case: Decodable {
        let text: String
        let pair: String?
        let tokens: [String]
        let ids: [Int]
        /// The reference ids of the text lower-cased with Python's str.lower first (present
        /// only where they differ from `ids`: the Greek final sigma).
        let ids_python_lower: [Int]?
        let type_ids: [Int]
        let hidden_head: [Float]
        let hidden_first: [Float]
        let hidden_last: [Float]
        let pooled: [Float]
    }
    let head_dims: Int
    let cases: [Case]

    static func load() throws -> PretrainedFixtures {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "pretrained_fixtures", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(PretrainedFixtures.self, from: Foundation.Data(contentsOf: url))
    }
}

/// Raw safetensors bytes for tests: `header` is written as given (so it can be broken on
/// purpose), followed by `data`.
func safetensorsBytes(header: String, data: [UInt8], headerLength: UInt64? = nil) -> Foundation.Data {
    let h = Array(header.utf8)
    var out = Foundation.Data()
    var n = headerLength ?? UInt64(h.count)
    for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

/// Little-endian bytes of float32 values.
func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in
        let b = v.bitPattern
        return [UInt8(b & 0xff), UInt8((b >> 8) & 0xff), UInt8((b >> 16) & 0xff), UInt8(b >> 24)]
    }
}

/// A well-formed safetensors file of F32 tensors (name, shape, values), in the given order.
func safetensorsFile(_ tensors: [(String, [Int], [Float])], extraHeader: String = "") -> Foundation.Data {
    var entries: [String] = []
    var data: [UInt8] = []
    for (name, shape, values) in tensors {
        let begin = data.count
        data += f32Bytes(values)
        entries.append("\"\(name)\": {\"dtype\": \"F32\", \"shape\": \(shape), \"data_offsets\": [\(begin), \(data.count)]}")
    }
    if !extraHeader.isEmpty { entries.append(extraHeader) }
    return safetensorsBytes(header: "{" + entries.joined(separator: ", ") + "}", data: data)
}

/// A fresh temporary folder, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-pretrained-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The DataError thrown by `body`, or a test failure.
func dataError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> DataError? {
    do {
        try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let e as DataError {
        return e
    } catch {
        XCTFail("expected a DataError, got \(error)", file: file, line: line)
    }
    return nil
}
