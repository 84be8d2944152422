import Data
import Foundation
import Pretrained
import TestSupport
import XCTest

/// The sentence encoder behind `moebench encode`: ids and mean-pooled embeddings of the
/// model folder against the reference fixtures (see BertEncoderTests for the regenerate
/// command).
final class SentenceEncoderTests: XCTestCase {
    func testIdsAndEmbeddingsMatchTheReference() throws {
        let s = try SentenceEncoder(directory: try pretrainedDirectory())
        XCTAssertEqual(s.maxLength, 512)
        let cases = try PretrainedFixtures.load().cases.filter { $0.pair == nil && $0.ids_python_lower == nil }
        let ids = cases.map { s.ids($0.text) }
        XCTAssertEqual(ids, cases.map(\.ids))
        let embeddings = s.embed(ids)
        for (e, c) in zip(embeddings, cases) {
            assertClose(e, c.pooled, atol: 1e-4, rtol: 1e-4, "'\(c.text)'")
        }
        XCTAssertEqual(s.embed([]), [])
    }

    func testFolderErrors() throws {
        let dir = try temporaryDirectory(self)
        let model = try pretrainedDirectory()
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(f), withDestinationURL: model.appendingPathComponent(f))
        }
        let e = dataError { _ = try SentenceEncoder(directory: dir) }
        XCTAssertEqual(e?.file, dir.path)
        XCTAssertTrue(e?.message.contains("vocab.txt") ?? false, "\(String(describing: e))")
        // A vocabulary that does not fit the embedding table.
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n".write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let e2 = dataError { _ = try SentenceEncoder(directory: dir) }
        XCTAssertEqual(e2?.file, dir.appendingPathComponent("vocab.txt").path)
        XCTAssertTrue(e2?.message.contains("vocab_size 30522") ?? false, "\(String(describing: e2))")
        try "{\"do_lower_case\": \"yes\"}".write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let e3 = dataError { _ = try SentenceEncoder(directory: dir) }
        XCTAssertEqual(e3?.location, "do_lower_case")
    }
}
