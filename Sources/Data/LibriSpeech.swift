import Foundation

/// One LibriSpeech utterance: its id, transcript and FLAC file.
public struct Utterance: Equatable, Sendable {
    /// `<speaker>-<chapter>-<NNNN>`.
    public let id: String
    public let speaker: String
    public let chapter: String
    /// Upper-case words (A-Z and apostrophe) separated by single spaces.
    public let transcript: String
    /// The `.flac` file (16 kHz, 16-bit, mono).
    public let audio: URL
    /// Difficulty level 1-3 from the proxy's `difficulty.tsv`; nil for the published data.
    public let difficulty: Int?

    public init(id: String, speaker: String, chapter: String, transcript: String, audio: URL, difficulty: Int? = nil) {
        self.id = id
        self.speaker = speaker
        self.chapter = chapter
        self.transcript = transcript
        self.audio = audio
        self.difficulty = difficulty
    }

    /// The decoded 16-bit samples (see `Flac.decode`).
    public func loadSamples() throws -> [Int16] { try Flac.decode(audio) }

    /// The decoded samples scaled to [-1, 1): `x = s / 32768`.
    public func loadAudio() throws -> [Float] {
        try loadSamples().map { Float($0) * (1 / 32768) }
    }
}

/// The character vocabulary of LibriSpeech transcripts for CTC: `0` = blank, `1` = space,
/// `2` = apostrophe, `3...28` = A-Z (29 symbols).
public struct CharVocabulary: Sendable, Equatable {
    public static let standard = CharVocabulary()

    /// Index of the CTC blank.
    public let blank = 0
    /// Symbol per index; index 0 (blank) has none.
    public let symbols: [Character]

    public init() {
        symbols = ["\u{0}", " ", "'"] + (UInt8(ascii: "A")...UInt8(ascii: "Z")).map { Character(UnicodeScalar($0)) }
    }

    /// Number of symbols including the blank (29).
    public var count: Int { symbols.count }

    /// Index of a character (space, apostrophe or A-Z), or nil.
    @inline(__always) public func index(of ch: Character) -> Int? {
        guard let a = ch.asciiValue else { return nil }
        switch a {
        case UInt8(ascii: " "): return 1
        case UInt8(ascii: "'"): return 2
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return 3 + Int(a - UInt8(ascii: "A"))
        default: return nil
        }
    }

    /// The indices of `text`'s characters. Throws (naming the character and its position)
    /// when a character is not space, apostrophe or A-Z.
    public func encode(_ text: String) throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.count)
        for (i, ch) in text.enumerated() {
            guard let k = index(of: ch) else {
                throw DataError(file: "transcript \"\(text)\"", location: "character \(i + 1)",
                                "\"\(ch)\" is not in the vocabulary (A-Z, apostrophe, space)")
            }
            out.append(k)
        }
        return out
    }

    /// The text of `ids`, skipping blanks.
    public func decode(_ ids: [Int]) -> String {
        String(ids.compactMap { $0 == blank ? nil : symbols[$0] })
    }

    /// Greedy CTC decoding of per-frame best indices: merge repeats, then drop blanks.
    public func decodeCTC(_ frameIds: [Int]) -> String {
        var out: [Int] = []
        var previous = -1
        for k in frameIds {
            if k != previous && k != blank { out.append(k) }
            previous = k
        }
        return decode(out)
    }
}

/// Reader for the LibriSpeech folder layout (OpenSLR 12).
public enum LibriSpeech {
    /// Folder under the dataset root.
    public static let folder = "LibriSpeech"
    public static let subsets = ["dev-clean", "dev-other", "test-clean", "test-other",
                                 "train-clean-100", "train-clean-360", "train-other-500"]

    /// Every utterance of `root/LibriSpeech/<subset>/<speaker>/<chapter>/`, speakers and
    /// chapters in numeric order, utterances in transcript order.
    ///
    /// Each chapter folder must hold `<speaker>-<chapter>.trans.txt` whose lines are
    /// `<speaker>-<chapter>-<NNNN> TRANSCRIPT` (A-Z, apostrophe, space) and one
    /// `<utterance-id>.flac` per line. Throws a `DataError` naming the file (and line) for a
    /// missing subset (saying where to download and extract it), a missing transcript file,
    /// a malformed or duplicate line, a transcript line with no audio, and audio with no
    /// transcript line. Audio is not decoded here (see `Utterance.loadSamples`). Difficulty
    /// levels come from the subset's side file `difficultyFile` when present (nil: not read).
    public static func scan(root: URL, subset: String, difficultyFile: String? = "difficulty.tsv") throws -> [Utterance] {
        let fm = FileManager.default
        let dir = root.appendingPathComponent(folder).appendingPathComponent(subset)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: dir.path, "not found. Download https://www.openslr.org/resources/12/\(subset).tar.gz "
                + "and extract it in the dataset folder (tar xzf \(subset).tar.gz -C \(root.path)), which creates "
                + "\(dir.path); or write the synthetic proxy data there with `moebench data`")
        }
        let difficulty = try difficultyFile.flatMap { try loadDifficulty(root: root, subset: subset, fileName: $0) }
        var utterances: [Utterance] = []
        for speaker in try subfolders(dir) {
            let speakerDir = dir.appendingPathComponent(speaker)
            for chapter in try subfolders(speakerDir) {
                utterances += try scanChapter(speakerDir.appendingPathComponent(chapter), speaker: speaker,
                                              chapter: chapter, difficulty: difficulty)
            }
        }
        guard !utterances.isEmpty else {
            throw DataError(file: dir.path, "holds no utterances: expected <speaker>/<chapter>/ folders, each with "
                            + "<speaker>-<chapter>.trans.txt and its .flac files")
        }
        if let difficulty {
            let ids = Set(utterances.map(\.id))
            if let stray = difficulty.keys.sorted().first(where: { !ids.contains($0) }) {
                throw DataError(file: dir.appendingPathComponent(difficultyFile ?? "difficulty.tsv").path,
                                "utterance \(stray) is not in the subset")
            }
        }
        return utterances
    }

    /// Reads the proxy's `LibriSpeech/<subset>/difficulty.tsv` (header `utterance<TAB>level`,
    /// levels 1-3); nil when absent (the published data has none). `fileName` names another
    /// side file of that format.
    public static func loadDifficulty(root: URL, subset: String, fileName: String = "difficulty.tsv") throws -> [String: Int]? {
        let url = root.appendingPathComponent(folder).appendingPathComponent(subset).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let text = try readText(url)
        var levels: [String: Int] = [:]
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            if k == 0 {
                guard cols == ["utterance", "level"] else {
                    throw DataError(file: url.path, location: "line 1", "expected the header utterance<TAB>level")
                }
                continue
            }
            guard cols.count == 2, let level = Int(cols[1]), (1...3).contains(level) else {
                throw DataError(file: url.path, location: "line \(k + 1)", "expected utterance<TAB>level with a level of 1-3")
            }
            levels[String(cols[0])] = level
        }
        return levels
    }

    static func scanChapter(_ dir: URL, speaker: String, chapter: String,
                            difficulty: [String: Int]?) throws -> [Utterance] {
        let fm = FileManager.default
        let transURL = dir.appendingPathComponent("\(speaker)-\(chapter).trans.txt")
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: dir.path) } catch {
            throw DataError(file: dir.path, "cannot list the folder: \(error.localizedDescription)")
        }
        let flacIds = Set(entries.filter { $0.hasSuffix(".flac") }.map { String($0.dropLast(5)) })
        guard fm.fileExists(atPath: transURL.path) else {
            throw DataError(file: transURL.path, "transcript file not found (expected beside the \(flacIds.count) .flac files of chapter \(dir.path))")
        }
        let text = try readText(transURL)
        let prefix = "\(speaker)-\(chapter)-"
        var out: [Utterance] = []
        var seen = Set<String>()
        for (k, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " }) { continue }
            let location = "line \(k + 1)"
            guard let space = line.firstIndex(of: " ") else {
                throw DataError(file: transURL.path, location: location, "expected \"<utterance-id> TRANSCRIPT\"")
            }
            let id = String(line[..<space])
            let suffix = id.hasPrefix(prefix) ? id.dropFirst(prefix.count) : ""
            guard !suffix.isEmpty, suffix.allSatisfy(\.isASCIIDigit) else {
                throw DataError(file: transURL.path, location: location,
                                "utterance id \"\(id)\" does not have the form \(prefix)<number>")
            }
            let words = line[line.index(after: space)...].split(separator: " ")
            let transcript = words.joined(separator: " ")
            if let bad = transcript.first(where: { CharVocabulary.standard.index(of: $0) == nil }) {
                throw DataError(file: transURL.path, location: location,
                                "character \"\(bad)\" in the transcript of \(id) (expected A-Z, apostrophe, space)")
            }
            guard !transcript.isEmpty else {
                throw DataError(file: transURL.path, location: location, "empty transcript for \(id)")
            }
            guard seen.insert(id).inserted else {
                throw DataError(file: transURL.path, location: location, "utterance \(id) is listed twice")
            }
            guard flacIds.contains(id) else {
                throw DataError(file: transURL.path, location: location,
                                "transcript line with no audio: \(id).flac is not in \(dir.path)")
            }
            out.append(Utterance(id: id, speaker: speaker, chapter: chapter, transcript: transcript,
                                 audio: dir.appendingPathComponent("\(id).flac"), difficulty: difficulty?[id]))
        }
        if let orphan = flacIds.subtracting(seen).sorted().first {
            throw DataError(file: dir.appendingPathComponent("\(orphan).flac").path,
                            "audio with no transcript line in \(transURL.path)")
        }
        return out
    }

    /// Sub-folder names, numeric ones in numeric order before any others (in text order).
    static func subfolders(_ dir: URL) throws -> [String] {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: dir.path) } catch {
            throw DataError(file: dir.path, "cannot list the folder: \(error.localizedDescription)")
        }
        let folders = names.filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: dir.appendingPathComponent(name).path, isDirectory: &isDir)
                && isDir.boolValue
        }
        return folders.sorted { a, b in
            switch (Int(a), Int(b)) {
            case let (x?, y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a < b
            }
        }
    }

    static func readText(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataError(file: url.path, "cannot read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError(file: url.path, "not UTF-8 text")
        }
        return text
    }
}

fileprivate extension Character {
    var isASCIIDigit: Bool { asciiValue.map { $0 >= 48 && $0 <= 57 } ?? false }
}
