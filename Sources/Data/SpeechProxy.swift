import Dispatch
import Foundation
import Tensor

/// Writes a synthetic LibriSpeech in the exact folder layout:
/// `LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac` (16 kHz,
/// 16-bit, mono) and `<speaker>-<chapter>.trans.txt`, for the subsets `train-clean-100`,
/// `dev-clean`, `test-clean` and `test-other`, plus `difficulty.tsv` (`utterance<TAB>level`)
/// in each subset folder and a section in `PROXY.md`.
///
/// Sentences are drawn from eight short templates over a small English word list (about 85
/// words, with apostrophes: IT'S, DON'T, MARY'S ...) and spoken by the speech synthesizer
/// espeak-ng; sox resamples its 22.05 kHz output to 16 kHz 16-bit mono (repeatable mode, no
/// dither) and normalises the peak to -3 dBFS. A speaker is an espeak-ng voice (English
/// accent), a voice variant, a speed (120-159 words per minute) and a pitch; each subset has
/// its own speakers. Difficulty levels 1-3 (drawn uniformly per utterance) set:
///
/// | level | clauses (words) | speed | white-noise SNR |
/// |---|---|---|---|
/// | 1 | 1 (2-4) | the speaker's | 30 dB |
/// | 2 | 2 (5-9) | × 1.1 | 20 dB |
/// | 3 | 3 (8-14) | × 1.2 | 14 dB |
///
/// Speeds stay below about 4 words a second, so that every transcript fits the CTC head's
/// 40 ms output frames (after the front end's 4x subsampling). Training speakers use every
/// voice variant, the plain and the rough ones; `test-clean` speakers only plain variants.
/// `test-other` is harder on top: rough voice variants only (klatt, croak, grandpa ...;
/// about a third of the training speakers have one), speech × 1.1 faster and 5 dB less SNR. sox trims espeak-ng's trailing
/// silence; the utterance is then 0.1-0.25 s of leading noise, the speech and 0.1 s of
/// trailing noise. The noise is Gaussian, added in Swift from the seeded `RNG` (relative to
/// the utterance's mean power), so that the output is the same for a seed; the FLAC files are written with
/// libFLAC. espeak-ng and sox must be on the PATH (`make deps` installs them).
public enum SpeechProxy {
    public static let subsets = ["train-clean-100", "dev-clean", "test-clean", "test-other"]

    /// How many speakers, chapters per speaker and utterances per chapter a subset gets.
    public struct SubsetPlan: Equatable, Sendable {
        public var subset: String
        public var speakers: Int
        public var chaptersPerSpeaker: Int
        public var utterancesPerChapter: Int

        public init(subset: String, speakers: Int, chaptersPerSpeaker: Int, utterancesPerChapter: Int) {
            self.subset = subset
            self.speakers = speakers
            self.chaptersPerSpeaker = chaptersPerSpeaker
            self.utterancesPerChapter = utterancesPerChapter
        }

        public var utterances: Int { speakers * chaptersPerSpeaker * utterancesPerChapter }
    }

    /// smoke: 6 train and 2 utterances in each other subset (about a second);
    /// proxy: 3,840 train (320 speakers, 12 each: many voices, so that the model learns the
    /// words rather than the voices; with 1,920 from 160 speakers dense's test-clean WER stopped
    /// at about 52), 400 in each test subset (20 speakers each) and 40 in dev-clean
    /// (4 speakers), about 4,700 short utterances (about 4.5 minutes on 2 cores).
    public static func plan(_ scale: ProxyScale) -> [SubsetPlan] {
        switch scale {
        case .smoke:
            return [SubsetPlan(subset: "train-clean-100", speakers: 2, chaptersPerSpeaker: 1, utterancesPerChapter: 3)]
                + subsets.dropFirst().map { SubsetPlan(subset: $0, speakers: 1, chaptersPerSpeaker: 1, utterancesPerChapter: 2) }
        case .proxy:
            return [SubsetPlan(subset: "train-clean-100", speakers: 320, chaptersPerSpeaker: 2, utterancesPerChapter: 6),
                    SubsetPlan(subset: "dev-clean", speakers: 4, chaptersPerSpeaker: 1, utterancesPerChapter: 10),
                    SubsetPlan(subset: "test-clean", speakers: 20, chaptersPerSpeaker: 1, utterancesPerChapter: 20),
                    SubsetPlan(subset: "test-other", speakers: 20, chaptersPerSpeaker: 1, utterancesPerChapter: 20)]
        }
    }

    /// Writes the four subsets at a standard scale.
    public static func write(root: URL, seed: UInt64, scale: ProxyScale) throws {
        try write(root: root, seed: seed, plans: plan(scale))
    }

    /// Writes the planned subsets. `searchPath` (a PATH-style list of folders) overrides
    /// where espeak-ng and sox are looked for.
    ///
    /// A subset folder that exists is replaced only when it is itself proxy data (it has a
    /// `difficulty.tsv`); otherwise this throws rather than touch published data.
    public static func write(root: URL, seed: UInt64, plans: [SubsetPlan], searchPath: String? = nil) throws {
        let espeak = try findTool("espeak-ng", package: "espeak-ng", searchPath: searchPath)
        let sox = try findTool("sox", package: "sox", searchPath: searchPath)
        let fm = FileManager.default
        let base = RNG(seed: seed).split("librispeech-proxy")
        let scratch = fm.temporaryDirectory.appendingPathComponent("moebench-speech-\(UUID().uuidString)")
        try makeFolder(scratch)
        defer { try? fm.removeItem(at: scratch) }

        for (planIndex, plan) in plans.enumerated() {
            guard subsets.contains(plan.subset) else {
                throw DataError(file: plan.subset, "unknown proxy subset (expected one of \(subsets.joined(separator: ", ")))")
            }
            let dir = root.appendingPathComponent(LibriSpeech.folder).appendingPathComponent(plan.subset)
            if fm.fileExists(atPath: dir.path) {
                guard fm.fileExists(atPath: dir.appendingPathComponent("difficulty.tsv").path) else {
                    throw DataError(file: dir.path, "exists and is not proxy data (no difficulty.tsv): not overwriting it")
                }
                try? fm.removeItem(at: dir)
            }
            try makeFolder(dir)
            let other = plan.subset == "test-other"
            let variantList = other ? roughVariants : plan.subset.hasPrefix("train") ? variants + roughVariants : variants
            var rng = base.split(plan.subset)
            // Speakers: ids 1000·(subset number + 1) + s, so subsets never share a speaker.
            var jobs: [Job] = []
            for s in 0..<plan.speakers {
                let speakerId = 1000 * (planIndex + 1) + s + 1
                let voice = Voice(
                    language: languages[rng.int(languages.count)],
                    variant: variantList[rng.int(variantList.count)],
                    wordsPerMinute: 120 + rng.int(40), pitch: 25 + rng.int(50))
                for c in 0..<plan.chaptersPerSpeaker {
                    let chapterId = speakerId * 100 + c + 1
                    let chapterDir = dir.appendingPathComponent("\(speakerId)").appendingPathComponent("\(chapterId)")
                    try makeFolder(chapterDir)
                    for u in 0..<plan.utterancesPerChapter {
                        let id = "\(speakerId)-\(chapterId)-" + String(format: "%04d", u)
                        var g = rng.split(id)
                        let level = 1 + g.int(3)
                        let words = sentence(level: level, rng: &g)
                        jobs.append(Job(id: id, chapterDir: chapterDir, words: words, level: level, voice: voice,
                                        other: other, rng: g))
                    }
                }
            }
            try synthesize(jobs, espeak: espeak, sox: sox, scratch: scratch)
            // Transcripts, one file per chapter, in utterance order.
            var byChapter: [URL: [Job]] = [:]
            for j in jobs { byChapter[j.chapterDir, default: []].append(j) }
            for (chapterDir, list) in byChapter {
                let speaker = chapterDir.deletingLastPathComponent().lastPathComponent
                let text = list.map { "\($0.id) \($0.words)\n" }.joined()
                try writeProxyFile(Data(text.utf8),
                                   chapterDir.appendingPathComponent("\(speaker)-\(chapterDir.lastPathComponent).trans.txt"))
            }
            let tsv = "utterance\tlevel\n" + jobs.map { "\($0.id)\t\($0.level)\n" }.joined()
            try writeProxyFile(Data(tsv.utf8), dir.appendingPathComponent("difficulty.tsv"))
        }
        let sizes = plans.map { "\($0.subset) \($0.utterances) utterances (\($0.speakers) speakers)" }.joined(separator: ", ")
        try ProxyNotes.record(root: root, section: LibriSpeech.folder, body: """
            Synthetic LibriSpeech (folder layout, 16 kHz 16-bit mono FLAC, trans.txt), written by moebench's \
            SpeechProxy with seed \(seed): \(sizes). Template sentences over a small English word list spoken \
            by espeak-ng (voices, variants, speeds and pitches as speakers), resampled with sox, with white \
            noise; difficulty levels 1-3 (longer sentences, faster speech, more noise) in \
            LibriSpeech/<subset>/difficulty.tsv; test-other is harder (rough voices, faster, \
            more noise).
            """)
    }

    // MARK: - Speakers and sentences

    struct Voice: Equatable {
        var language: String
        var variant: String
        var wordsPerMinute: Int
        var pitch: Int
    }

    static let languages = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                            "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
    static let variants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"]
    static let roughVariants = ["croak", "klatt", "klatt2", "klatt3", "grandpa", "m3", "f4"]

    static let nouns = ["CAT", "DOG", "BIRD", "FISH", "HORSE", "HOUSE", "TREE", "RIVER", "GARDEN", "WINDOW",
                        "DOOR", "BOOK", "LETTER", "BOAT", "KING", "CHILD"]
    static let plurals = ["CATS", "DOGS", "BIRDS", "HORSES", "TREES", "BOOKS", "APPLES", "BOATS"]
    static let adjectives = ["OLD", "YOUNG", "BIG", "SMALL", "RED", "GREEN", "DARK", "HAPPY", "COLD", "GOLDEN"]
    static let pastVerbs = ["SAW", "FOUND", "TOOK", "LEFT", "OPENED", "CLOSED", "CARRIED", "WATCHED"]
    static let verbs = ["SEE", "FIND", "TAKE", "OPEN", "CLOSE", "CARRY"]
    static let names = ["MARY", "JOHN", "ANNA", "PETER", "LUCY", "HENRY"]
    static let numbers = ["TWO", "THREE", "FOUR", "FIVE", "SIX", "TEN"]
    static let connectives = ["AND", "BUT", "THEN"]

    /// One clause from a template (2 to 4 words).
    static func clause(_ g: inout RNG) -> [String] {
        func pick(_ list: [String]) -> String { list[g.int(list.count)] }
        switch g.int(8) {
        case 0: return ["THE", pick(adjectives), pick(nouns)]
        case 1: return [pick(names), pick(pastVerbs), "THE", pick(nouns)]
        case 2:
            let adjective = pick(adjectives)
            return ["IT'S", "AEIOU".contains(adjective.first!) ? "AN" : "A", adjective, pick(nouns)]
        case 3: return ["DON'T", pick(verbs)]
        case 4: return [pick(names) + "'S", pick(nouns), "WAS", pick(adjectives)]
        case 5: return [pick(numbers), pick(adjectives), pick(plurals)]
        case 6: return ["WE", "COULDN'T", pick(verbs)]
        default: return [pick(names), "AND", pick(names)]
        }
    }

    /// A transcript of `level` clauses joined by connectives (upper case, single spaces).
    public static func sentence(level: Int, rng g: inout RNG) -> String {
        var words = clause(&g)
        for _ in 1..<max(1, level) { words += [connectives[g.int(connectives.count)]] + clause(&g) }
        return words.joined(separator: " ")
    }

    // MARK: - Synthesis

    struct Job {
        var id: String
        var chapterDir: URL
        var words: String
        var level: Int
        var voice: Voice
        var other: Bool
        var rng: RNG
    }

    /// Runs the jobs on a few threads (each job is independent and seeded by its own RNG).
    static func synthesize(_ jobs: [Job], espeak: URL, sox: URL, scratch: URL) throws {
        let lock = NSLock()
        var failure: Error?
        let workers = max(1, min(jobs.count, ProcessInfo.processInfo.activeProcessorCount))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var k = w
            while k < jobs.count {
                lock.lock(); let stop = failure != nil; lock.unlock()
                if stop { return }
                do { try synthesize(jobs[k], espeak: espeak, sox: sox, scratch: scratch) } catch {
                    lock.lock(); if failure == nil { failure = error }; lock.unlock()
                    return
                }
                k += workers
            }
        }
        if let failure { throw failure }
    }

    static func synthesize(_ job: Job, espeak: URL, sox: URL, scratch: URL) throws {
        var g = job.rng
        let levelSpeed: [Double] = [1.0, 1.1, 1.2]
        let levelSNR: [Float] = [30, 20, 14]
        let speed = Double(job.voice.wordsPerMinute) * levelSpeed[job.level - 1] * (job.other ? 1.1 : 1)
        let wav = scratch.appendingPathComponent("\(job.id).wav")
        let raw = scratch.appendingPathComponent("\(job.id).raw")
        defer { try? FileManager.default.removeItem(at: wav); try? FileManager.default.removeItem(at: raw) }
        try run(espeak, ["-v", "\(job.voice.language)+\(job.voice.variant)", "-s", "\(Int(speed.rounded()))",
                         "-p", "\(job.voice.pitch)", "-w", wav.path, job.words.lowercased()])
        // Trim the trailing silence (below 0.5 % of full scale), then normalise the peak.
        let effects = ["reverse", "silence", "1", "0.02", "0.5%", "reverse", "gain", "-n", "-3"]
        try run(sox, ["-R", "-D", wav.path, "-r", "16000", "-b", "16", "-c", "1", "-e", "signed-integer", "-L",
                      "-t", "raw", raw.path] + effects)
        guard let bytes = FileManager.default.contents(atPath: raw.path), bytes.count >= 2 else {
            throw DataError(file: raw.path, "sox produced no audio for \"\(job.words)\"")
        }
        let speech: [Int16] = bytes.withUnsafeBytes { b in
            (0..<(b.count / 2)).map { Int16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
        }
        // Leading and trailing silence, then white noise at the level's SNR relative to the
        // speech power.
        let lead = 1600 + g.int(2400), tail = 1600
        var power = 0.0
        for s in speech { power += Double(s) * Double(s) }
        power /= Double(speech.count)
        let snr = levelSNR[job.level - 1] - (job.other ? 5 : 0)
        let noiseStd = Float((power / pow(10, Double(snr) / 10)).squareRoot())
        var out = [Int16](repeating: 0, count: lead + speech.count + tail)
        for i in 0..<out.count {
            let clean: Float = i < lead || i >= lead + speech.count ? 0 : Float(speech[i - lead])
            let v = (clean + g.normal() * noiseStd).rounded()
            out[i] = Int16(max(-32768, min(32767, v)))
        }
        try Flac.write(out, to: job.chapterDir.appendingPathComponent("\(job.id).flac"))
    }

    /// Runs a tool; a non-zero exit is a `DataError` naming the tool and quoting its stderr.
    static func run(_ tool: URL, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw DataError(file: tool.path, "cannot run: \(error.localizedDescription)")
        }
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw DataError(file: tool.path, "failed (exit \(p.terminationStatus)) on \(arguments.joined(separator: " ")): \(text)")
        }
    }

    /// The executable `name` on `searchPath` (default: the PATH environment variable, then
    /// /usr/bin and /usr/local/bin). Throws an error saying `make deps` installs it.
    public static func findTool(_ name: String, package: String, searchPath: String? = nil) throws -> URL {
        let path = searchPath ?? ((ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin")
        for folder in path.split(separator: ":") where !folder.isEmpty {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw DataError(file: name, "not found on the PATH (\(path)); the speech proxy needs it: `make deps` "
            + "installs it (Debian/Ubuntu package \(package))")
    }

    static func makeFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw DataError(file: url.path, "cannot create the folder: \(error.localizedDescription)")
        }
    }
}
