import Foundation
import XCTest
@testable import Data

/// BERT basic tokenization and WordPiece against hand-computed tokenizations.
final class WordPieceTests: XCTestCase {
    static let vocabTokens = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",      // 0-4
        "un", "##aff", "##able", "##affable", "the",       // 5-9
        "dog", "##s", "run", "##ning", ",",                // 10-14
        "!", "cafe", "naive", "hello", "world",            // 15-19
        "a", "##a", "'", "t", "don",                       // 20-24
    ]

    func tokenizer() throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: WordPieceVocabulary(tokens: Self.vocabTokens))
    }

    func testBasicLowerCasesAndSplitsPunctuation() {
        let b = BasicTokenizer()
        XCTAssertEqual(b.tokenize("Hello, World!"), ["hello", ",", "world", "!"])
        XCTAssertEqual(b.tokenize("  don't\tstop\n"), ["don", "'", "t", "stop"])
        // ASCII punctuation ranges 33-47, 58-64, 91-96, 123-126, including $ ^ ` ~.
        XCTAssertEqual(b.tokenize("$5.00 a^b `c` {x}~"),
                       ["$", "5", ".", "00", "a", "^", "b", "`", "c", "`", "{", "x", "}", "~"])
        // Unicode punctuation (category P*): em dash, guillemets, inverted question mark.
        XCTAssertEqual(b.tokenize("a\u{2014}b \u{00AB}oui\u{00BB} \u{00BF}qu\u{00E9}?"),
                       ["a", "\u{2014}", "b", "\u{00AB}", "oui", "\u{00BB}", "\u{00BF}", "que", "?"])
        // A symbol (category S*) that is not ASCII punctuation stays in the word.
        XCTAssertEqual(b.tokenize("5\u{20AC} x+y"), ["5\u{20AC}", "x", "+", "y"])
    }

    func testAccentsAreStrippedWhenLowerCasing() {
        let b = BasicTokenizer()
        XCTAssertEqual(b.tokenize("Café naïve Ångström"), ["cafe", "naive", "angstrom"])
        // Decomposed input gives the same tokens.
        XCTAssertEqual(b.tokenize("Cafe\u{0301}"), ["cafe"])
        // Cased: no lower-casing and no accent stripping.
        let cased = BasicTokenizer(lowerCase: false)
        XCTAssertEqual(cased.tokenize("Café, Ångström"), ["Café", ",", "Ångström"])
        // Greek final sigma as Python's str.lower.
        XCTAssertEqual(b.tokenize("\u{039F}\u{0394}\u{039F}\u{03A3} \u{03A3}\u{0391}\u{03A3}"),
                       ["\u{03BF}\u{03B4}\u{03BF}\u{03C2}", "\u{03C3}\u{03B1}\u{03C2}"])
    }

    func testControlCharactersAndWhitespaceAreCleaned() {
        let b = BasicTokenizer()
        // NUL, zero-width space (Cf), replacement character and DEL are dropped.
        XCTAssertEqual(b.tokenize("a\u{0}b\u{200B}c\u{FFFD}d\u{7F}e"), ["abcde"])
        // No-break space and ideographic space (Zs) separate words.
        XCTAssertEqual(b.tokenize("x\u{00A0}y\u{3000}z"), ["x", "y", "z"])
    }

    func testCJKCharactersAreSpacedOut() {
        XCTAssertEqual(BasicTokenizer().tokenize("我爱NLP。"), ["我", "爱", "nlp", "。"])
    }

    func testGreedyLongestMatchWordPieces() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.wordPieces("unaffable"), ["un", "##affable"])
        XCTAssertEqual(t.wordPieces("dogs"), ["dog", "##s"])
        XCTAssertEqual(t.wordPieces("running"), ["run", "##ning"])
        // A word with an uncovered tail is one [UNK], not a partial split.
        XCTAssertEqual(t.wordPieces("dogx"), ["[UNK]"])
        XCTAssertEqual(t.wordPieces("xyz"), ["[UNK]"])
        // 100 characters are split; 101 are one [UNK].
        XCTAssertEqual(t.wordPieces(String(repeating: "a", count: 100)), ["a"] + Array(repeating: "##a", count: 99))
        XCTAssertEqual(t.wordPieces(String(repeating: "a", count: 101)), ["[UNK]"])
        XCTAssertEqual(t.tokenize("Don't run, DOGS! Café naïve xyz"),
                       ["don", "'", "t", "run", ",", "dog", "##s", "!", "cafe", "naive", "[UNK]"])
        XCTAssertEqual(t.ids("the unaffable dogs"), [9, 5, 8, 10, 11])
    }

    func testEncodeSingleAndPair() throws {
        let t = try tokenizer()
        XCTAssertEqual(t.encode("the dogs", maxLength: 16), WordPieceEncoding(ids: [2, 9, 10, 11, 3], segmentIds: [0, 0, 0, 0, 0]))
        XCTAssertEqual(t.encode("the dogs", maxLength: 3).ids, [2, 9, 3])
        XCTAssertEqual(t.encodePair("the dogs", "hello world", maxLength: 16),
                       WordPieceEncoding(ids: [2, 9, 10, 11, 3, 18, 19, 3], segmentIds: [0, 0, 0, 0, 0, 1, 1, 1]))
        XCTAssertEqual(t.encode("hello", nil, maxLength: 8).ids, [2, 18, 3])
        XCTAssertEqual(t.encode("hello", "world", maxLength: 8).segmentIds, [0, 0, 0, 1, 1])
    }

    func testPairTruncationIsLongestFirst() throws {
        // Longer side cut first; equal lengths cut the second text.
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(5, 2, room: 4) == (2, 2))
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(3, 3, room: 5) == (3, 2))
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(6, 6, room: 9) == (5, 4))
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(10, 1, room: 4) == (3, 1))
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(2, 9, room: 20) == (2, 9))
        XCTAssertTrue(WordPieceTokenizer.truncatedLengths(4, 4, room: 0) == (0, 0))
        let t = try tokenizer()
        // a: the dog ##s run ##ning (5), b: hello world (2); room 7 - 3 = 4 -> 2 + 2.
        let e = t.encodePair("the dogs running", "hello world", maxLength: 7)
        XCTAssertEqual(e.ids, [2, 9, 10, 3, 18, 19, 3])
        XCTAssertEqual(e.segmentIds, [0, 0, 0, 0, 1, 1, 1])
        // a: hello world (2), b: the dog ##s (3); room 3 -> 2 + 1... longest first: b 3 > a 2 -> b 2; tie -> b 1.
        XCTAssertEqual(t.encodePair("hello world", "the dogs", maxLength: 6).ids, [2, 18, 19, 3, 9, 3])
    }

    func testVocabularyFileRoundTripAndMissingSpecialTokens() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("vocab.txt")
        try Data("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n".utf8).write(to: url)
        let v = try WordPieceVocabulary.load(url)
        XCTAssertEqual(v.tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "##s"])
        XCTAssertEqual(v.id("##s"), 5)
        let t = try WordPieceTokenizer(vocabularyFile: url)
        XCTAssertEqual(t.ids("Hellos hello"), [4, 5, 4])
        XCTAssertNil(t.maskID)
        let copy = dir.appendingPathComponent("copy.txt")
        try v.write(to: copy)
        XCTAssertEqual(try String(contentsOf: copy, encoding: .utf8), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n")
        try Data("[PAD]\n[UNK]\n[SEP]\n".utf8).write(to: url)
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyFile: url)) { error in
            let e = error as! DataError
            XCTAssertEqual(e.file, url.path)
            XCTAssertTrue(e.message.contains("[CLS]"), e.description)
        }
        XCTAssertThrowsError(try WordPieceVocabulary.load(dir.appendingPathComponent("absent.txt"))) { error in
            XCTAssertTrue((error as! DataError).file.hasSuffix("absent.txt"))
        }
    }

    func testVocabularyBuilderOrder() throws {
        let texts = ["The dog", "the dogs.", "the cat"]
        let v = WordPieceVocabulary.build(from: texts, size: 100, minFrequency: 1)
        // Counts: the 3, dog 1, dogs 1, cat 1, "." 1. Word-initial characters: t 3, d 2, c 1, . 1;
        // inner: e 3, h 3, g 2, o 2, a 1, s 1, t 1; words and suffixes: ##he 3, the 3, then the
        // count-1 tokens in scalar order.
        XCTAssertEqual(v.tokens, [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
            "t", "d", ".", "c",
            "##e", "##h", "##g", "##o", "##a", "##s", "##t",
            "##he", "the",
            "##at", "##gs", "##og", "##ogs", "cat", "dog", "dogs",
        ])
        // With the default minimum frequency 2 only "##he" and "the" pass.
        let v2 = WordPieceVocabulary.build(from: texts, size: 100)
        XCTAssertEqual(Array(v2.tokens.suffix(2)), ["##he", "the"])
        XCTAssertEqual(v2.count, 18)
        // A small size keeps the most frequent characters first.
        let v3 = WordPieceVocabulary.build(from: texts, size: 7, minFrequency: 1)
        XCTAssertEqual(v3.tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "t", "d"])
        // Every word of seen characters can be tokenized with the built vocabulary.
        let t = try WordPieceTokenizer(vocabulary: v2)
        XCTAssertEqual(t.tokenize("the dogs"), ["the", "d", "##o", "##g", "##s"])
        XCTAssertEqual(t.encode("cat", maxLength: 8).ids, [2, v2.id("c")!, v2.id("##a")!, v2.id("##t")!, 3])
    }
}
