import Data
import Foundation
import Pretrained
import XCTest

/// The WordPiece tokenizer (Data) on the model's vocab.txt against the Hugging Face
/// `tokenizers` reference ids in Fixtures/pretrained_fixtures.json (regenerate with
/// `python3 Tests/PretrainedTests/Fixtures/make_fixtures_pretrained.py .pretrained/all-MiniLM-L6-v2`).
///
/// One known, documented difference: the tokenizer lower-cases like Python's `str.lower()`
/// (the original BERT tokenizer and transformers' slow `BertTokenizer`), which turns a
/// word-final capital sigma into `ς`; the Rust tokenizer maps every `Σ` to `σ`. On
/// "ΟΔΥΣΣΕΥΣ" the last piece is `##ς` (19579) here and `##σ` (29733) there. For such cases
/// the fixture also holds the reference ids of the Python-lower-cased text
/// (`ids_python_lower`), which the tokenizer must match exactly.
final class TokenizerTests: XCTestCase {
    func testIdsMatchTheReferenceTokenizer() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: try pretrainedDirectory().appendingPathComponent("vocab.txt"))
        XCTAssertEqual(tokenizer.vocabulary.count, 30522)
        XCTAssertEqual([tokenizer.padID, tokenizer.unknownID, tokenizer.clsID, tokenizer.sepID], [0, 100, 101, 102])
        for c in try PretrainedFixtures.load().cases {
            let enc = tokenizer.encode(c.text, c.pair, maxLength: 512)
            XCTAssertEqual(enc.ids, c.ids_python_lower ?? c.ids, "ids of '\(c.text)' (reference tokens \(c.tokens))")
            XCTAssertEqual(enc.segmentIds, c.type_ids, "segments of '\(c.text)'")
            if let low = c.ids_python_lower {
                // The only difference is the final sigma.
                let diff = zip(low, c.ids).filter { $0 != $1 }
                XCTAssertEqual(diff.map { [tokenizer.vocabulary.tokens[$0.0], tokenizer.vocabulary.tokens[$0.1]] },
                               [["##ς", "##σ"]], "'\(c.text)'")
            }
            XCTAssertEqual(c.tokens.map { tokenizer.vocabulary.id($0) ?? -1 }, c.ids, "reference tokens of '\(c.text)'")
        }
    }
}
