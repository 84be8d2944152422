import Data
import Foundation
import Tensor
import XCTest

/// The synthetic LibriSpeech written with espeak-ng and sox. These tests need both tools
/// (CI installs them with `make deps`); without them they fail with that message.
final class SpeechProxyTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-sproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testSmokeWritesTheLibriSpeechLayout() throws {
        let start = Date()
        try SpeechProxy.write(root: root, seed: 1, scale: .smoke)
        print("speech proxy smoke: \(Date().timeIntervalSince(start)) s")
        var speakersSeen: [Set<String>] = []
        for plan in SpeechProxy.plan(.smoke) {
            let utterances = try LibriSpeech.scan(root: root, subset: plan.subset)
            XCTAssertEqual(utterances.count, plan.utterances, plan.subset)
            XCTAssertEqual(Set(utterances.map(\.speaker)).count, plan.speakers)
            speakersSeen.append(Set(utterances.map(\.speaker)))
            // The transcript files hold exactly these lines, in the published format.
            for u in utterances {
                let trans = u.audio.deletingLastPathComponent().appendingPathComponent("\(u.speaker)-\(u.chapter).trans.txt")
                let lines = try String(contentsOf: trans, encoding: .utf8).split(separator: "\n")
                XCTAssertTrue(lines.contains { $0 == "\(u.id) \(u.transcript)" }, "\(u.id) in \(trans.path)")
                XCTAssertEqual(u.audio.lastPathComponent, "\(u.id).flac")
                XCTAssertTrue(u.id.hasPrefix("\(u.speaker)-\(u.chapter)-"))
                XCTAssertNotNil(try? CharVocabulary.standard.encode(u.transcript))
                // Valid 16 kHz 16-bit mono FLAC with speech after the leading silence.
                XCTAssertEqual(try Flac.format(of: u.audio), .speech)
                let s = try u.loadSamples()
                XCTAssertGreaterThan(s.count, 8000, "at least half a second")
                XCTAssertLessThan(s.count, 16000 * 15)
                // Mean power of the leading noise-only stretch vs the rest (speech + noise).
                let lead = s.prefix(1600).map { Double($0) * Double($0) }.reduce(0, +) / 1600
                let body = s.dropFirst(6400).map { Double($0) * Double($0) }.reduce(0, +) / Double(s.count - 6400)
                XCTAssertGreaterThan(body, 2 * lead, "speech louder than the leading noise in \(u.id)")
                XCTAssertGreaterThan(s.map { abs(Int($0)) }.max()!, 3000, "audible level in \(u.id)")
                XCTAssertNotNil(u.difficulty)
                // The transcript length follows the level (one clause of 2-4 words per level,
                // joined by one-word connectives).
                let words = u.transcript.split(separator: " ").count
                XCTAssertTrue((3 * u.difficulty! - 1)...(5 * u.difficulty! - 1) ~= words, "\(u.id): \(words) words, level \(u.difficulty!)")
            }
        }
        for i in 0..<speakersSeen.count {
            for j in (i + 1)..<speakersSeen.count { XCTAssertTrue(speakersSeen[i].isDisjoint(with: speakersSeen[j])) }
        }
        let note = try String(contentsOf: root.appendingPathComponent("PROXY.md"), encoding: .utf8)
        XCTAssertTrue(note.contains("## LibriSpeech") && note.contains("espeak-ng"))
        let checks = try Checksums.verify(root: root)
        XCTAssertEqual(checks.first { $0.item == "LibriSpeech/test-other" }?.status, .proxy)
    }

    func testDeterministicForASeed() throws {
        let plan = [SpeechProxy.SubsetPlan(subset: "test-other", speakers: 1, chaptersPerSpeaker: 1, utterancesPerChapter: 2)]
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try SpeechProxy.write(root: a, seed: 9, plans: plan)
        try SpeechProxy.write(root: b, seed: 9, plans: plan)
        let ua = try LibriSpeech.scan(root: a, subset: "test-other")
        let ub = try LibriSpeech.scan(root: b, subset: "test-other")
        XCTAssertEqual(ua.map(\.id), ub.map(\.id))
        XCTAssertEqual(ua.map(\.transcript), ub.map(\.transcript))
        for (x, y) in zip(ua, ub) {
            XCTAssertEqual(try Data(contentsOf: x.audio), try Data(contentsOf: y.audio), x.id)
        }
        // Rewriting a proxy subset replaces it.
        try SpeechProxy.write(root: a, seed: 10, plans: plan)
        XCTAssertEqual(try LibriSpeech.scan(root: a, subset: "test-other").count, 2)
    }

    func testMissingToolsSayMakeDeps() throws {
        let empty = root.appendingPathComponent("no-tools")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try SpeechProxy.write(root: root, seed: 1, plans: SpeechProxy.plan(.smoke), searchPath: empty.path)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("espeak-ng") && text.contains("make deps"), text)
        }
    }

    func testRefusesToOverwritePublishedData() throws {
        let dir = root.appendingPathComponent("LibriSpeech/dev-clean/84/121123")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let plan = [SpeechProxy.SubsetPlan(subset: "dev-clean", speakers: 1, chaptersPerSpeaker: 1, utterancesPerChapter: 1)]
        XCTAssertThrowsError(try SpeechProxy.write(root: root, seed: 1, plans: plan)) { e in
            XCTAssertTrue("\(e)".contains("not overwriting"), "\(e)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.path))
    }

    func testProxyPlanSizes() {
        let plan = Dictionary(uniqueKeysWithValues: SpeechProxy.plan(.proxy).map { ($0.subset, $0) })
        XCTAssertEqual(Set(plan.keys), Set(SpeechProxy.subsets))
        XCTAssertEqual(plan["train-clean-100"]?.utterances, 3840)
        XCTAssertEqual(plan["train-clean-100"]?.speakers, 320)
        XCTAssertEqual(plan["test-clean"]?.utterances, 400)
        XCTAssertEqual(plan["test-other"]?.utterances, 400)
        XCTAssertLessThan(SpeechProxy.plan(.smoke).map(\.utterances).reduce(0, +), 20)
    }

    /// Short clauses: the words of a level-L sentence are 3L-1 ... 5L-1, with every level
    /// reaching both ends over many draws.
    func testSentenceLengthsPerLevel() {
        var g = RNG(seed: 7)
        for level in 1...3 {
            let counts = (0..<5000).map { _ in SpeechProxy.sentence(level: level, rng: &g).split(separator: " ").count }
            XCTAssertEqual(counts.min(), 3 * level - 1, "level \(level)")
            XCTAssertEqual(counts.max(), 5 * level - 1, "level \(level)")
        }
    }

    func testSentencesUseTheVocabulary() throws {
        var g = RNG(seed: 4)
        for level in 1...3 {
            for _ in 0..<50 {
                let s = SpeechProxy.sentence(level: level, rng: &g)
                XCTAssertNotNil(try? CharVocabulary.standard.encode(s), s)
                XCTAssertFalse(s.contains("  "))
            }
        }
    }
}
