import Data
import Foundation
import Pretrained
import Tensor
import TestSupport
import XCTest

/// The safetensors reader on small files written byte by byte here.
final class SafeTensorsTests: XCTestCase {
    func testReadsF32TensorsAndIgnoresMetadata() throws {
        let bytes = safetensorsFile([("w", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [3], [-1, 0.5, 7])],
                                    extraHeader: "\"__metadata__\": {\"format\": \"pt\"}")
        let f = try SafeTensorsFile(bytes: bytes, path: "mem.safetensors")
        XCTAssertEqual(f.names, ["b", "w"])
        XCTAssertEqual(f.metadata, ["format": "pt"])
        let w = try f.tensor("w")
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertFalse(w.requiresGrad)
        let wt = try f.tensor("w", transposed: true, requiresGrad: true)
        XCTAssertEqual(wt.shape, [3, 2])
        XCTAssertEqual(wt.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertTrue(wt.requiresGrad)
        XCTAssertEqual(try f.tensor("b").scalars, [-1, 0.5, 7])
    }

    func testTransposeOfALargerMatrixCrossesBlocks() throws {
        // 37 x 70 crosses the 32 x 32 blocking in both directions.
        let r = 37, c = 70
        let values = (0..<(r * c)).map { Float($0) }
        let f = try SafeTensorsFile(bytes: safetensorsFile([("m", [r, c], values)]), path: "m")
        let t = try f.tensor("m", transposed: true)
        XCTAssertEqual(t.shape, [c, r])
        for j in 0..<c { for i in 0..<r { XCTAssertEqual(t.data[j * r + i], values[i * c + j]) } }
    }

    func testReadsFromDiskAndHeaderPadding() throws {
        let dir = try temporaryDirectory(self)
        let url = dir.appendingPathComponent("x.safetensors")
        // Header padded with spaces, as the Python writer does to align the data.
        let data: [UInt8] = f32Bytes([3, 4])
        try safetensorsBytes(header: "{\"v\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}     ",
                             data: data).write(to: url)
        let f = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(f.path, url.path)
        XCTAssertEqual(try f.tensor("v").scalars, [3, 4])
    }

    func testMissingFile() {
        let e = dataError { _ = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/w.safetensors")) }
        XCTAssertEqual(e?.file, "/nonexistent/w.safetensors")
    }

    func testTruncatedFiles() {
        let e1 = dataError { _ = try SafeTensorsFile(bytes: Foundation.Data([1, 2, 3]), path: "short.safetensors") }
        XCTAssertEqual(e1?.file, "short.safetensors")
        XCTAssertTrue(e1?.message.contains("truncated") ?? false, "\(String(describing: e1))")

        // Header length larger than what follows.
        let whole = safetensorsFile([("w", [4], [1, 2, 3, 4])])
        let e2 = dataError { _ = try SafeTensorsFile(bytes: whole.prefix(20), path: "cut.safetensors") }
        XCTAssertEqual(e2?.file, "cut.safetensors")
        XCTAssertTrue(e2?.message.contains("truncated") ?? false, "\(String(describing: e2))")

        // Header complete but data cut: the entry's offsets now point past the end.
        let e3 = dataError { _ = try SafeTensorsFile(bytes: whole.prefix(whole.count - 4), path: "cutdata.safetensors") }
        XCTAssertEqual(e3?.file, "cutdata.safetensors")
        XCTAssertEqual(e3?.location, "tensor 'w'")
        XCTAssertTrue(e3?.message.contains("out of range") ?? false, "\(String(describing: e3))")
    }

    func testBadJSONHeader() {
        let e = dataError {
            _ = try SafeTensorsFile(bytes: safetensorsBytes(header: "{\"w\": {\"dtype\": ", data: []), path: "bad.safetensors")
        }
        XCTAssertEqual(e?.file, "bad.safetensors")
        XCTAssertEqual(e?.location, "header")
        XCTAssertTrue(e?.message.contains("not valid JSON") ?? false, "\(String(describing: e))")

        let e2 = dataError { _ = try SafeTensorsFile(bytes: safetensorsBytes(header: "[1, 2]", data: []), path: "arr.safetensors") }
        XCTAssertEqual(e2?.location, "header")

        let e3 = dataError {
            _ = try SafeTensorsFile(bytes: safetensorsBytes(header: "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", data: f32Bytes([1, 2])),
                                    path: "nooffsets.safetensors")
        }
        XCTAssertEqual(e3?.location, "tensor 'w'")
        XCTAssertTrue(e3?.message.contains("data_offsets") ?? false)
    }

    func testF16IsListedButNotReadable() throws {
        let header = "{\"h\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]}, "
            + "\"f\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}"
        let f = try SafeTensorsFile(bytes: safetensorsBytes(header: header, data: [0, 60, 0, 60] + f32Bytes([2])), path: "half.safetensors")
        XCTAssertEqual(try f.entry("h").dtype, "F16")
        XCTAssertEqual(try f.tensor("f").scalars, [2])
        let e = dataError { _ = try f.tensor("h") }
        XCTAssertEqual(e?.file, "half.safetensors")
        XCTAssertEqual(e?.location, "tensor 'h'")
        XCTAssertTrue(e?.message.contains("F16") ?? false, "\(String(describing: e))")
    }

    func testOffsetsOutOfRangeAndInconsistent() {
        func open(_ entry: String, _ data: [UInt8]) -> DataError? {
            dataError { _ = try SafeTensorsFile(bytes: safetensorsBytes(header: "{\"w\": \(entry)}", data: data), path: "o.safetensors") }
        }
        // End beyond the data section.
        let e1 = open("{\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}", f32Bytes([1, 2]))
        XCTAssertEqual(e1?.location, "tensor 'w'")
        XCTAssertTrue(e1?.message.contains("out of range") ?? false, "\(String(describing: e1))")
        // Begin after end.
        let e2 = open("{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}", f32Bytes([1, 2]))
        XCTAssertTrue(e2?.message.contains("out of range") ?? false, "\(String(describing: e2))")
        // Negative begin.
        let e3 = open("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}", f32Bytes([1, 2]))
        XCTAssertTrue(e3?.message.contains("out of range") ?? false, "\(String(describing: e3))")
        // Byte length disagrees with the shape.
        let e4 = open("{\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}", f32Bytes([1, 2]))
        XCTAssertTrue(e4?.message.contains("needs 12") ?? false, "\(String(describing: e4))")
        // Negative dimension.
        let e5 = open("{\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}", f32Bytes([1]))
        XCTAssertTrue(e5?.message.contains("shape") ?? false, "\(String(describing: e5))")
    }

    func testUnknownTensorAndBadTranspose() throws {
        let f = try SafeTensorsFile(bytes: safetensorsFile([("v", [3], [1, 2, 3])]), path: "v.safetensors")
        let e = dataError { _ = try f.tensor("nope") }
        XCTAssertEqual(e?.location, "tensor 'nope'")
        let e2 = dataError { _ = try f.tensor("v", transposed: true) }
        XCTAssertTrue(e2?.message.contains("transpose") ?? false)
    }

    func testRealModelHeader() throws {
        let f = try SafeTensorsFile(contentsOf: try pretrainedDirectory().appendingPathComponent("model.safetensors"))
        // 104 tensors (the header has 105 entries with `__metadata__`).
        XCTAssertEqual(f.entries.count, 104)
        XCTAssertEqual(f.entries["embeddings.position_ids"]?.dtype, "I64")
        XCTAssertEqual(f.entries["encoder.layer.5.intermediate.dense.weight"]?.shape, [1536, 384])
        let e = dataError { _ = try f.tensor("embeddings.position_ids") }
        XCTAssertTrue(e?.message.contains("I64") ?? false)
    }
}
