import Data
import Foundation
import XCTest

/// The LibriSpeech folder reader and the character vocabulary, on a small tree written in
/// the test (audio through the FLAC encoder).
final class LibriSpeechTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-libri-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func chapterDir(_ subset: String, _ speaker: String, _ chapter: String) -> URL {
        root.appendingPathComponent("LibriSpeech/\(subset)/\(speaker)/\(chapter)")
    }

    /// Writes a chapter: one FLAC per (id, samples) and the given transcript lines.
    func writeChapter(_ subset: String, _ speaker: String, _ chapter: String,
                      audio: [(String, [Int16])], lines: [String]) throws {
        let dir = chapterDir(subset, speaker, chapter)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (id, samples) in audio { try Flac.write(samples, to: dir.appendingPathComponent("\(id).flac")) }
        try (lines.joined(separator: "\n") + "\n").write(
            to: dir.appendingPathComponent("\(speaker)-\(chapter).trans.txt"), atomically: true, encoding: .utf8)
    }

    func tone(_ n: Int, _ k: Int) -> [Int16] { (0..<n).map { Int16(truncatingIfNeeded: ($0 * k) % 2000 - 1000) } }

    func expectError(_ subset: String, file path: String, contains needles: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try LibriSpeech.scan(root: root, subset: subset)
            XCTFail("expected an error", file: file, line: line)
        } catch let e as DataError {
            XCTAssertEqual(e.file, path, file: file, line: line)
            for n in needles {
                XCTAssertTrue(e.description.contains(n), "\"\(e.description)\" lacks \"\(n)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testScanOrderTranscriptsAndAudio() throws {
        try writeChapter("dev-clean", "103", "1240", audio: [("103-1240-0000", tone(1600, 3))],
                         lines: ["103-1240-0000 CHAPTER ONE"])
        try writeChapter("dev-clean", "19", "227", audio: [("19-227-0000", tone(800, 5)), ("19-227-0001", tone(900, 7))],
                         lines: ["19-227-0000 HE HOPED THERE WOULD BE STEW", "19-227-0001 IT'S  A   TEST"])
        try writeChapter("dev-clean", "19", "198", audio: [("19-198-0000", tone(500, 9))], lines: ["19-198-0000 NO"])
        // Files beside the speaker folders (the proxy's difficulty.tsv) are not speakers.
        try "utterance\tlevel\n19-227-0001\t3\n19-198-0000\t1\n19-227-0000\t2\n103-1240-0000\t1\n".write(
            to: root.appendingPathComponent("LibriSpeech/dev-clean/difficulty.tsv"), atomically: true, encoding: .utf8)
        let u = try LibriSpeech.scan(root: root, subset: "dev-clean")
        XCTAssertEqual(u.map(\.id), ["19-198-0000", "19-227-0000", "19-227-0001", "103-1240-0000"])
        XCTAssertEqual(u[2].transcript, "IT'S A TEST")
        XCTAssertEqual(u[2].speaker, "19")
        XCTAssertEqual(u[2].chapter, "227")
        XCTAssertEqual(u.map(\.difficulty), [1, 2, 3, 1])
        XCTAssertEqual(try u[1].loadSamples(), tone(800, 5))
        XCTAssertEqual(try u[3].loadAudio().count, 1600)
        XCTAssertEqual(try u[3].loadAudio()[1], Float(tone(1600, 3)[1]) / 32768)
    }

    func testTranscriptLineWithNoAudio() throws {
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1))],
                         lines: ["1-2-0000 ONE", "1-2-0001 TWO"])
        let trans = chapterDir("dev-clean", "1", "2").appendingPathComponent("1-2.trans.txt")
        expectError("dev-clean", file: trans.path, contains: ["line 2", "no audio", "1-2-0001.flac"])
    }

    func testAudioWithNoTranscriptLine() throws {
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1)), ("1-2-0007", tone(100, 2))],
                         lines: ["1-2-0000 ONE"])
        let flac = chapterDir("dev-clean", "1", "2").appendingPathComponent("1-2-0007.flac")
        expectError("dev-clean", file: flac.path, contains: ["no transcript line", "1-2.trans.txt"])
    }

    func testMissingTranscriptFile() throws {
        let dir = chapterDir("dev-clean", "1", "2")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Flac.write(tone(100, 1), to: dir.appendingPathComponent("1-2-0000.flac"))
        expectError("dev-clean", file: dir.appendingPathComponent("1-2.trans.txt").path,
                    contains: ["transcript file not found"])
    }

    func testMalformedLines() throws {
        let trans = chapterDir("dev-clean", "1", "2").appendingPathComponent("1-2.trans.txt")
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1))], lines: ["1-2-0000 lower case"])
        expectError("dev-clean", file: trans.path, contains: ["line 1", "character \"l\""])
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1))], lines: ["1-2-0000 OK", "1-3-0001 WRONG CHAPTER"])
        expectError("dev-clean", file: trans.path, contains: ["line 2", "1-2-<number>"])
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1))], lines: ["1-2-0000 OK", "1-2-0000 AGAIN"])
        expectError("dev-clean", file: trans.path, contains: ["line 2", "listed twice"])
        try writeChapter("dev-clean", "1", "2", audio: [("1-2-0000", tone(100, 1))], lines: ["1-2-0000"])
        expectError("dev-clean", file: trans.path, contains: ["line 1", "<utterance-id> TRANSCRIPT"])
    }

    func testMissingSubsetSaysWhereToDownload() throws {
        expectError("test-other", file: root.appendingPathComponent("LibriSpeech/test-other").path,
                    contains: ["https://www.openslr.org/resources/12/test-other.tar.gz", "tar xzf test-other.tar.gz -C \(root.path)"])
    }

    func testVocabulary() throws {
        let v = CharVocabulary.standard
        XCTAssertEqual(v.count, 29)
        XCTAssertEqual(v.blank, 0)
        XCTAssertEqual(try v.encode("A Z'"), [3, 1, 28, 2])
        XCTAssertEqual(v.decode(try v.encode("HE'S HERE")), "HE'S HERE")
        XCTAssertEqual(v.decode([0, 10, 0, 1, 0]), "H ")
        // Greedy CTC: repeats merge, a blank separates a real double letter.
        XCTAssertEqual(v.decodeCTC([0, 3, 3, 0, 0, 3, 1, 1, 14, 0, 14, 14, 0]), "AA LL")
        XCTAssertThrowsError(try v.encode("ab")) { e in
            XCTAssertTrue("\(e)".contains("\"a\" is not in the vocabulary"))
        }
    }
}
