import Foundation
import NN
import TestSupport
import XCTest

final class CheckpointTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("nn-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func sampleTensors() -> [(String, Tensor)] {
        [
            ("a", Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])),
            ("scalar", Tensor(scalar: 3.5)),
            ("empty", Tensor(zeros: [0, 4])),
            ("b.ü.1", Tensor(shape: [5], scalars: [.nan, .infinity, -0.0, .leastNonzeroMagnitude, -1e30])),
        ]
    }

    func sampleMetadata() -> TrainingMetadata {
        var rng = RNG(seed: 42)
        for _ in 0..<5 { _ = rng.next() }
        return TrainingMetadata(step: 17, rngs: ["data": rng, "dropout": RNG(seed: .max)],
                                configHash: "c0ffee", extra: ["best": "0.25"])
    }

    func writeSample(_ name: String = "sample.ckpt") throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Checkpoint.save(to: url, tensors: sampleTensors(), metadata: sampleMetadata())
        return url
    }

    /// Runs `body`, which must throw a `CheckpointError`; returns it.
    func checkpointError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> CheckpointError? {
        do {
            try body()
            XCTFail("no error thrown", file: file, line: line)
        } catch let e as CheckpointError {
            return e
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
        return nil
    }

    func testRoundTripIsBitExact() throws {
        let url = try writeSample()
        let ckpt = try Checkpoint.load(from: url)
        XCTAssertEqual(ckpt.names, ["a", "scalar", "empty", "b.ü.1"])
        for (name, t) in sampleTensors() {
            let back = try ckpt.tensor(name)
            XCTAssertEqual(back.shape, t.shape, name)
            XCTAssertEqual(back.scalars.map(\.bitPattern), t.scalars.map(\.bitPattern), name)
            XCTAssertFalse(back.requiresGrad)
        }
        XCTAssertEqual(try ckpt.decodeMetadata(TrainingMetadata.self), sampleMetadata())
        // RNG state survives JSON exactly (UInt64 above 2^53): the streams continue equal.
        var saved = try ckpt.decodeMetadata(TrainingMetadata.self).rngs["dropout"]!
        var original = RNG(seed: .max)
        XCTAssertEqual(saved.next(), original.next())
    }

    func testOverwriteIsAtomicAndLeavesNoTemporaryFiles() throws {
        let url = try writeSample()
        try Checkpoint.save(to: url, tensors: [("only", Tensor(shape: [1], scalars: [7]))], metadata: Data("{}".utf8))
        let ckpt = try Checkpoint.load(from: url)
        XCTAssertEqual(ckpt.names, ["only"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["sample.ckpt"])
    }

    func testWriteErrors() {
        let bad = dir.appendingPathComponent("no/such/folder/x.ckpt")
        let e = checkpointError { try Checkpoint.save(to: bad, tensors: [], metadata: Data()) }
        guard case .unwritable(let file, _)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, bad.path)
        let t = Tensor(zeros: [1])
        let dup = checkpointError {
            try Checkpoint.save(to: self.dir.appendingPathComponent("d.ckpt"), tensors: [("x", t), ("x", t)], metadata: Data())
        }
        XCTAssertTrue("\(dup!)".contains("'x'"))
    }

    func testMissingFile() {
        let url = dir.appendingPathComponent("absent.ckpt")
        let e = checkpointError { _ = try Checkpoint.load(from: url) }
        XCTAssertEqual(e, .unreadable(file: url.path, reason: "no such file"))
        XCTAssertTrue("\(e!)".contains(url.path))
    }

    func testNotACheckpoint() throws {
        let text = dir.appendingPathComponent("text.ckpt")
        try Data("step,loss\n1,0.5\n".utf8).write(to: text)
        guard case .notACheckpoint(let file, _)? = checkpointError({ _ = try Checkpoint.load(from: text) }) else {
            return XCTFail("expected notACheckpoint")
        }
        XCTAssertEqual(file, text.path)

        let empty = dir.appendingPathComponent("empty.ckpt")
        try Data().write(to: empty)
        guard case .notACheckpoint? = checkpointError({ _ = try Checkpoint.load(from: empty) }) else {
            return XCTFail("expected notACheckpoint for an empty file")
        }

        var bytes = try Data(contentsOf: try writeSample())
        bytes[8] = 2   // version 2
        let future = dir.appendingPathComponent("future.ckpt")
        try bytes.write(to: future)
        let e = checkpointError { _ = try Checkpoint.load(from: future) }
        XCTAssertTrue("\(e!)".contains("format version 2"), "\(e!)")
    }

    func testEveryTruncationThrows() throws {
        let full = try Data(contentsOf: try writeSample())
        let cut = dir.appendingPathComponent("cut.ckpt")
        for n in 0..<full.count {
            try full.prefix(n).write(to: cut)
            XCTAssertNotNil(checkpointError { _ = try Checkpoint.load(from: cut) }, "prefix of \(n) bytes")
        }
        // A cut inside the values of tensor "a" names that tensor. Its values start after
        // magic 8 + version 4 + flags 4 + metadata length 8 + metadata + tensor count 8 +
        // name length 4 + "a" 1 + rank 4 + two dims 16.
        let metadataLength = full[16..<24].reversed().reduce(0) { $0 << 8 | Int($1) }
        let aValues = 24 + metadataLength + 8 + 4 + 1 + 4 + 16
        XCTAssertEqual(full[aValues..<aValues + 4], Data(withUnsafeBytes(of: Float(1).bitPattern.littleEndian) { Array($0) }))
        try full.prefix(aValues + 10).write(to: cut)
        let e = checkpointError { _ = try Checkpoint.load(from: cut) }
        guard case .truncated(let file, let what)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, cut.path)
        XCTAssertTrue(what.contains("'a'"), what)
    }

    func testEveryFlippedByteIsDetected() throws {
        let full = try Data(contentsOf: try writeSample())
        let damaged = dir.appendingPathComponent("damaged.ckpt")
        for i in 0..<full.count {
            var bytes = full
            bytes[i] ^= 0x10
            try bytes.write(to: damaged)
            XCTAssertNotNil(checkpointError { _ = try Checkpoint.load(from: damaged) }, "byte \(i)")
        }
        // A flipped value byte is a checksum mismatch.
        var bytes = full
        bytes[full.count - 20] ^= 1
        try bytes.write(to: damaged)
        guard case .corrupt(_, let reason)? = checkpointError({ _ = try Checkpoint.load(from: damaged) }) else {
            return XCTFail("expected corrupt")
        }
        XCTAssertTrue(reason.contains("checksum"))
    }

    func testRestoreIntoModelAndMismatches() throws {
        var rng = RNG(seed: 1)
        let source = Linear(3, 2, rng: &rng)
        let url = dir.appendingPathComponent("linear.ckpt")
        try Checkpoint.save(to: url, tensors: source.namedTensors(), metadata: Data("{}".utf8))
        let ckpt = try Checkpoint.load(from: url)

        let target = Linear(3, 2, rng: &rng)
        XCTAssertNotEqual(target.weight.scalars, source.weight.scalars)
        try ckpt.restore(target.namedTensors())
        XCTAssertEqual(target.weight.scalars, source.weight.scalars)
        XCTAssertEqual(target.bias!.scalars, source.bias!.scalars)

        let wide = Linear(4, 2, rng: &rng)
        let before = wide.bias!.scalars
        XCTAssertEqual(checkpointError { try ckpt.restore(wide.namedTensors()) },
                       .shapeMismatch(file: url.path, name: "weight", expected: [4, 2], found: [3, 2]))
        XCTAssertEqual(wide.bias!.scalars, before, "a failed restore modifies nothing")

        let noBias = Linear(3, 2, bias: false, rng: &rng)
        XCTAssertEqual(checkpointError { try ckpt.restore(noBias.namedTensors()) },
                       .unexpectedTensor(file: url.path, name: "bias"))

        let renamed = [("w", Tensor(zeros: [3, 2])), ("bias", Tensor(zeros: [2]))]
        let e = checkpointError { try ckpt.restore(renamed) }
        XCTAssertEqual(e, .missingTensor(file: url.path, name: "w"))
        XCTAssertTrue("\(e!)".contains(url.path) && "\(e!)".contains("'w'"))
        XCTAssertEqual(renamed[1].1.scalars, [0, 0])

        // Prefixed restore and metadata that does not decode.
        XCTAssertEqual(checkpointError { try ckpt.restore([("weight", Tensor(zeros: [3, 2]))], prefix: "model.") },
                       .missingTensor(file: url.path, name: "model.weight"))
        guard case .incompatible? = checkpointError({ _ = try ckpt.decodeMetadata(TrainingMetadata.self) }) else {
            return XCTFail("expected incompatible metadata")
        }
    }

    func testTrainingCheckpointRejectsOtherConfigurationsAndOptimizers() throws {
        var rng = RNG(seed: 2)
        let model = Linear(3, 2, rng: &rng)
        let adam = Adam(model.parameters(), lr: 0.1)
        model(Tensor(shape: [1, 3], scalars: [1, 2, 3])).backward()
        adam.step()
        let url = dir.appendingPathComponent("train.ckpt")
        try TrainingCheckpoint.save(to: url, model: model, optimizer: adam,
                                    metadata: TrainingMetadata(step: 1, configHash: "abc"))
        let names = try Checkpoint.load(from: url).names
        XCTAssertEqual(names, ["model.weight", "model.bias", "optimizer.exp_avg.0", "optimizer.exp_avg_sq.0",
                               "optimizer.exp_avg.1", "optimizer.exp_avg_sq.1"])

        let other = Linear(3, 2, rng: &rng)
        let saved = other.weight.scalars
        guard case .incompatible? = checkpointError({
            _ = try TrainingCheckpoint.load(from: url, model: other, optimizer: Adam(other.parameters()),
                                            expectedConfigHash: "xyz")
        }) else { return XCTFail("expected a configuration mismatch") }
        XCTAssertNotNil(checkpointError {
            _ = try TrainingCheckpoint.load(from: url, model: other, optimizer: SGD(other.parameters(), lr: 0.1, momentum: 0.9))
        })
        XCTAssertEqual(other.weight.scalars, saved, "failed loads modify nothing")

        let sgd = SGD(other.parameters(), lr: 0.1)
        XCTAssertNotNil(checkpointError { _ = try TrainingCheckpoint.load(from: url, model: other, optimizer: sgd) })

        let adam2 = Adam(other.parameters(), lr: 0.5)
        let meta = try TrainingCheckpoint.load(from: url, model: other, optimizer: adam2, expectedConfigHash: "abc")
        XCTAssertEqual(meta.step, 1)
        XCTAssertEqual(other.weight.scalars, model.weight.scalars)
        XCTAssertEqual(adam2.state, adam.state)
        XCTAssertEqual(adam2.lr, 0.1)
    }
}
