import Foundation

/// BERT's basic tokenizer (the `BasicTokenizer` of the reference BERT code and of Hugging
/// Face transformers), working on Unicode scalars (Python code points):
///
/// 1. clean: drop U+0000, U+FFFD and control characters (general category C*, except tab,
///    line feed and carriage return); map whitespace (space, tab, LF, CR, category Zs) to
///    a space;
/// 2. put spaces around CJK ideographs (the CJK Unified Ideographs blocks and extensions
///    A-E, compatibility ideographs and supplement);
/// 3. NFC-normalise, split on whitespace;
/// 4. per word, when `lowerCase`: lower-case, then strip accents (NFD, drop category Mn);
/// 5. split every punctuation character into its own token (ASCII 33-47, 58-64, 91-96,
///    123-126, or category P*).
///
/// Special-token strings such as `[MASK]` in the input are tokenized as text.
public struct BasicTokenizer: Sendable, Equatable {
    public var lowerCase: Bool
    /// Strip accents; by default the same as `lowerCase` (as in BERT).
    public var stripAccents: Bool
    public var tokenizeCJK: Bool

    public init(lowerCase: Bool = true, stripAccents: Bool? = nil, tokenizeCJK: Bool = true) {
        self.lowerCase = lowerCase
        self.stripAccents = stripAccents ?? lowerCase
        self.tokenizeCJK = tokenizeCJK
    }

    /// The basic tokens of `text`.
    public func tokenize(_ text: String) -> [String] {
        // 1-2: clean and space CJK characters.
        var cleaned = String.UnicodeScalarView()
        var ascii = true
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0 || v == 0xFFFD || BasicTokenizer.isControl(s) { continue }
            if BasicTokenizer.isWhitespace(s) { cleaned.append(" "); continue }
            if v >= 0x80 { ascii = false }
            if tokenizeCJK && BasicTokenizer.isCJK(v) {
                cleaned.append(" "); cleaned.append(s); cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        var normalized = String(cleaned)
        if !ascii { normalized = normalized.precomposedStringWithCanonicalMapping }
        // 3-5.
        var out: [String] = []
        for word in BasicTokenizer.splitWhitespace(normalized) {
            var w = word
            if lowerCase {
                w = ascii ? w.lowercased() : BasicTokenizer.lowercase(w)
                if stripAccents && !ascii { w = BasicTokenizer.stripAccents(w) }
            } else if stripAccents && !ascii {
                w = BasicTokenizer.stripAccents(w)
            }
            BasicTokenizer.splitPunctuation(w, into: &out)
        }
        return out
    }

    /// Python's `str.lower()`: full Unicode lower-casing, with the final-sigma rule (a
    /// capital sigma preceded by a cased letter and not followed by one becomes ς).
    static func lowercase(_ w: String) -> String {
        let lowered = w.lowercased()
        guard w.unicodeScalars.contains("\u{03A3}") else { return lowered }
        // Apply the final-sigma context rule on the original scalars.
        let scalars = Array(w.unicodeScalars)
        var result = String.UnicodeScalarView()
        for (i, s) in scalars.enumerated() {
            if s == "\u{03A3}" {
                let before = scalars[..<i].reversed().first { !$0.properties.isCaseIgnorable }
                let after = scalars[(i + 1)...].first { !$0.properties.isCaseIgnorable }
                let final = (before?.properties.isCased ?? false) && !(after?.properties.isCased ?? false)
                result.append(final ? "\u{03C2}" : "\u{03C3}")
            } else {
                result.append(contentsOf: String(s).lowercased().unicodeScalars)
            }
        }
        return String(result)
    }

    /// NFD, then drop nonspacing marks (category Mn).
    static func stripAccents(_ w: String) -> String {
        var out = String.UnicodeScalarView()
        for s in w.decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            out.append(s)
        }
        return String(out)
    }

    static func splitWhitespace(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    static func splitPunctuation(_ word: String, into out: inout [String]) {
        var current = String.UnicodeScalarView()
        for s in word.unicodeScalars {
            if isPunctuation(s) {
                if !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
                out.append(String(s))
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
    }

    /// Space, tab, LF, CR, or category Zs.
    public static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        case 0..<0x80: return false
        default: return s.properties.generalCategory == .spaceSeparator
        }
    }

    /// Category C* except tab, LF and CR.
    public static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0..<0x20, 0x7F: return true
        case 0x20..<0x7F: return false
        default:
            switch s.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned: return true
            default: return false
            }
        }
    }

    /// ASCII 33-47, 58-64, 91-96, 123-126, or category P*.
    public static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        if v < 0x80 { return false }
        return isPunctuationCategory(s)
    }

    /// The CJK ideograph blocks BERT spaces out.
    public static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v)
            || (0x2B820...0x2CEAF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}

/// A WordPiece vocabulary: one token per line of `vocab.txt`, the id of a token its
/// 0-based line number.
public struct WordPieceVocabulary: Sendable, Equatable {
    /// The special tokens of a built vocabulary, ids 0-4.
    public static let specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// Tokens in id order.
    public let tokens: [String]
    /// Token -> id. A token listed twice maps to its last line (as the reference loader).
    public let ids: [String: Int]
    /// The file the vocabulary was read from, for error messages.
    public let source: String

    public init(tokens: [String], source: String = "vocabulary") {
        self.tokens = tokens
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { ids[t] = i }
        self.ids = ids
        self.source = source
    }

    public var count: Int { tokens.count }

    /// The id of `token`, or nil.
    public func id(_ token: String) -> Int? { ids[token] }

    /// Reads a `vocab.txt` (UTF-8, one token per line; a trailing carriage return is dropped).
    public static func load(_ url: URL) throws -> WordPieceVocabulary {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataError(file: url.path, "vocabulary file not found or unreadable (expected a vocab.txt: one token per line)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(file: url.path, "not UTF-8 text (expected a vocab.txt: one token per line)")
        }
        // Split on line-feed scalars: a CRLF pair is one Character in Swift.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw DataError(file: url.path, "empty vocabulary") }
        return WordPieceVocabulary(tokens: lines, source: url.path)
    }

    /// Writes the tokens one per line (the `vocab.txt` format).
    public func write(to url: URL) throws {
        let text = tokens.joined(separator: "\n") + "\n"
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            throw DataError(file: url.path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Builds a vocabulary from training text for models trained from scratch.
    ///
    /// Order of the ids: the special tokens `[PAD]`=0, `[UNK]`=1, `[CLS]`=2, `[SEP]`=3,
    /// `[MASK]`=4; then every character that starts a word, then every character inside a
    /// word as a `##` piece (each group by frequency, so any word of seen characters can be
    /// tokenized); then, merged by frequency, whole words of at least two characters and
    /// `##` suffix pieces of 2-4 characters (a suffix's frequency is the summed frequency of
    /// the words longer than it that end with it), those seen at least `minFrequency` times,
    /// until `size` tokens. Frequencies count basic tokens (see `BasicTokenizer`); ties go
    /// to the token that sorts first by Unicode scalars. If `size` is smaller than the
    /// special tokens plus the characters, the rarest characters are left out (they become
    /// `[UNK]`).
    public static func build<S: Sequence>(from texts: S, size: Int, minFrequency: Int = 2,
                                          basic: BasicTokenizer = BasicTokenizer()) -> WordPieceVocabulary
    where S.Element == String {
        precondition(size >= specialTokens.count, "a vocabulary needs at least the \(specialTokens.count) special tokens")
        var words: [String: Int] = [:]
        for text in texts {
            for w in basic.tokenize(text) { words[w, default: 0] += 1 }
        }
        var initial: [String: Int] = [:]
        var inner: [String: Int] = [:]
        var candidates: [String: Int] = [:]
        for (w, c) in words {
            let scalars = Array(w.unicodeScalars)
            initial[String(scalars[0]), default: 0] += c
            for s in scalars.dropFirst() { inner["##" + String(s), default: 0] += c }
            if scalars.count >= 2 { candidates[w, default: 0] += c }
            if scalars.count >= 3 {
                for len in 2...min(4, scalars.count - 1) {
                    let suffix = "##" + String(String.UnicodeScalarView(scalars[(scalars.count - len)...]))
                    candidates[suffix, default: 0] += c
                }
            }
        }
        candidates = candidates.filter { $0.value >= minFrequency }
        func ranked(_ d: [String: Int]) -> [String] {
            d.sorted { a, b in
                a.value != b.value ? a.value > b.value
                    : Array(a.key.unicodeScalars.map(\.value)).lexicographicallyPrecedes(b.key.unicodeScalars.map(\.value))
            }.map(\.key)
        }
        var tokens = specialTokens
        var seen = Set(tokens)
        for t in ranked(initial) + ranked(inner) + ranked(candidates) where tokens.count < size {
            if seen.insert(t).inserted { tokens.append(t) }
        }
        return WordPieceVocabulary(tokens: tokens)
    }
}

/// Token ids and segment (token type) ids of an encoded sentence or pair.
public struct WordPieceEncoding: Equatable, Sendable {
    public var ids: [Int]
    /// 0 for `[CLS]`, the first text and its `[SEP]`; 1 for the second text and its `[SEP]`.
    public var segmentIds: [Int]
    public var count: Int { ids.count }

    public init(ids: [Int], segmentIds: [Int]) {
        self.ids = ids
        self.segmentIds = segmentIds
    }
}

/// BERT's WordPiece tokenizer: the basic tokenizer, then greedy longest-match-first
/// splitting of each word into vocabulary pieces, continuation pieces prefixed `##`. A word
/// longer than `maxCharactersPerWord` scalars, or one that cannot be covered, becomes
/// `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: WordPieceVocabulary
    public let basic: BasicTokenizer
    public let maxCharactersPerWord: Int
    public let padID: Int
    public let unknownID: Int
    public let clsID: Int
    public let sepID: Int
    /// `[MASK]`'s id when the vocabulary has one.
    public let maskID: Int?

    /// Throws a `DataError` naming the vocabulary's file when `[PAD]`, `[UNK]`, `[CLS]` or
    /// `[SEP]` is missing.
    public init(vocabulary: WordPieceVocabulary, basic: BasicTokenizer = BasicTokenizer(),
                maxCharactersPerWord: Int = 100) throws {
        func need(_ t: String) throws -> Int {
            guard let id = vocabulary.id(t) else {
                throw DataError(file: vocabulary.source, "the vocabulary has no \(t) token")
            }
            return id
        }
        self.vocabulary = vocabulary
        self.basic = basic
        self.maxCharactersPerWord = maxCharactersPerWord
        padID = try need("[PAD]")
        unknownID = try need("[UNK]")
        clsID = try need("[CLS]")
        sepID = try need("[SEP]")
        maskID = vocabulary.id("[MASK]")
    }

    /// Reads `vocab.txt` and makes a tokenizer (uncased by default, as all-MiniLM-L6-v2).
    public init(vocabularyFile: URL, lowerCase: Bool = true) throws {
        try self.init(vocabulary: WordPieceVocabulary.load(vocabularyFile),
                      basic: BasicTokenizer(lowerCase: lowerCase))
    }

    /// The WordPiece pieces of one basic token.
    public func wordPieces(_ word: String) -> [String] {
        let scalars = Array(word.unicodeScalars)
        if scalars.count > maxCharactersPerWord { return ["[UNK]"] }
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: String?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if vocabulary.ids[piece] != nil { found = piece; break }
                end -= 1
            }
            guard let found else { return ["[UNK]"] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    /// The WordPiece tokens of `text`.
    public func tokenize(_ text: String) -> [String] {
        basic.tokenize(text).flatMap { wordPieces($0) }
    }

    /// The token ids of `text` (no special tokens).
    public func ids(_ text: String) -> [Int] {
        var out: [Int] = []
        for word in basic.tokenize(text) {
            for piece in wordPieces(word) { out.append(vocabulary.ids[piece] ?? unknownID) }
        }
        return out
    }

    /// `[CLS] a [SEP]`, `a` cut at the end to fit `maxLength` (at least 2).
    public func encode(_ a: String, maxLength: Int) -> WordPieceEncoding {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        let ta = ids(a).prefix(maxLength - 2)
        let out = [clsID] + ta + [sepID]
        return WordPieceEncoding(ids: out, segmentIds: [Int](repeating: 0, count: out.count))
    }

    /// `[CLS] a [SEP] b [SEP]` with segment ids 0 up to the first `[SEP]` and 1 after.
    ///
    /// When the pair exceeds `maxLength` (at least 3) it is truncated longest-first, one
    /// token at a time from the end of the longer text, from `b` when they are equally long
    /// (Hugging Face's `longest_first`), so the first text keeps ceil and the second floor
    /// of the room when both are long.
    public func encodePair(_ a: String, _ b: String, maxLength: Int) -> WordPieceEncoding {
        precondition(maxLength >= 3, "maxLength must leave room for [CLS] and two [SEP]")
        var ta = ids(a)
        var tb = ids(b)
        let (na, nb) = WordPieceTokenizer.truncatedLengths(ta.count, tb.count, room: maxLength - 3)
        ta.removeLast(ta.count - na)
        tb.removeLast(tb.count - nb)
        let out = [clsID] + ta + [sepID] + tb + [sepID]
        let segments = [Int](repeating: 0, count: na + 2) + [Int](repeating: 1, count: nb + 1)
        return WordPieceEncoding(ids: out, segmentIds: segments)
    }

    /// `encode` or `encodePair` depending on whether `b` is given.
    public func encode(_ a: String, _ b: String?, maxLength: Int) -> WordPieceEncoding {
        if let b { return encodePair(a, b, maxLength: maxLength) }
        return encode(a, maxLength: maxLength)
    }

    /// Lengths after longest-first truncation of two texts to `room` tokens in all.
    public static func truncatedLengths(_ na: Int, _ nb: Int, room: Int) -> (Int, Int) {
        var a = na, b = nb
        while a + b > room {
            if a > b { a -= 1 } else { b -= 1 }
        }
        return (a, b)
    }
}
