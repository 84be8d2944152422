import Foundation
import Analysis
import Harness
import XCTest

/// Every source is checked before anything is copied, ok
/// beats failed, and two ok results of one configuration with different numbers are a
/// conflict.
final class MergeTests: XCTestCase {
    var cells: [Cell] = []
    var dirs: [URL] = []

    override func setUpWithError() throws {
        // 2 tasks x 2 methods x 9 seeds: 36 cells.
        cells = try expandGrid(suite: try Fixture.suite(Fixture.suiteText.replacingOccurrences(of: "seeds: 2", with: "seeds: 9")),
                               tierName: "proxy")
        XCTAssertEqual(cells.count, 36)
    }

    override func tearDown() {
        for d in dirs { try? FileManager.default.removeItem(at: d) }
    }

    func dir() -> URL {
        let d = Fixture.tempDir()
        dirs.append(d)
        return d
    }

    func write(_ r: CellResult, _ cell: Cell, in root: URL) throws {
        try ResultStore.write(r, to: cell.resultPath(in: root))
    }

    func testCorruptSourceCopiesNothing() throws {
        let a = dir(), b = dir(), dest = dir()
        for c in cells.prefix(17) { try write(Fixture.result(c, metrics: ["accuracy": 0.5]), c, in: a) }
        let corrupt = cells[17].resultPath(in: b)
        try FileManager.default.createDirectory(at: corrupt.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{\"suite\": \"demo\", trunc".utf8).write(to: corrupt)
        XCTAssertThrowsError(try mergeResults(sources: [a, b], into: dest)) {
            XCTAssertTrue("\($0)".contains(corrupt.path), "\($0)")
            XCTAssertTrue("\($0)".contains("nothing copied"), "\($0)")
        }
        XCTAssertEqual(ResultStore.resultFiles(under: dest), [], "no file is copied when a source is corrupt")
    }

    func testOkBeatsFailedInASourceAndInTheDestination() throws {
        let a = dir(), b = dir(), dest = dir()
        let ok = Fixture.result(cells[0], metrics: ["accuracy": 0.8])
        let failed = Fixture.result(cells[0], metrics: [:], status: "failed")
        try write(failed, cells[0], in: a)
        try write(ok, cells[0], in: b)
        var m = try mergeResults(sources: [a, b], into: dest)
        XCTAssertEqual(m.copied, 1)
        XCTAssertEqual(try ResultStore.read(cells[0].resultPath(in: dest)), ok)

        // A failed result already in the destination is replaced by an ok one.
        let dest2 = dir()
        try write(failed, cells[0], in: dest2)
        m = try mergeResults(sources: [b], into: dest2)
        XCTAssertEqual(m.replacedFailed, 1)
        XCTAssertEqual(try ResultStore.read(cells[0].resultPath(in: dest2)), ok)
        // And an ok result in the destination is kept over a failed source.
        m = try mergeResults(sources: [a], into: dest2)
        XCTAssertEqual(m.identical, 1)
        XCTAssertEqual(try ResultStore.read(cells[0].resultPath(in: dest2)), ok)
    }

    func testTwoOkResultsWithDifferentNumbersAreAConflict() throws {
        let a = dir(), b = dir(), dest = dir()
        try write(Fixture.result(cells[0], metrics: ["accuracy": 0.8]), cells[0], in: a)
        try write(Fixture.result(cells[1], metrics: ["accuracy": 0.6]), cells[1], in: a)
        try write(Fixture.result(cells[0], metrics: ["accuracy": 0.7]), cells[0], in: b)
        XCTAssertThrowsError(try mergeResults(sources: [a, b], into: dest)) {
            XCTAssertTrue("\($0)".contains("conflict"), "\($0)")
            XCTAssertTrue("\($0)".contains(cells[0].id), "\($0)")
        }
        XCTAssertEqual(ResultStore.resultFiles(under: dest), [])
        // The same numbers at another time, on another machine: the same result.
        var again = Fixture.result(cells[0], metrics: ["accuracy": 0.8])
        again.wallSeconds = 99
        again.finishedAt = "2027-01-01T00:00:00Z"
        try write(again, cells[0], in: b)
        let m = try mergeResults(sources: [a, b], into: dest)
        XCTAssertEqual(m.copied, 2)
        XCTAssertEqual(m.identical, 1)
    }

    /// The command line: a conflict exits non-zero with the message, and copies nothing.
    func testMergeCommandReportsAConflictWithANonZeroExit() throws {
        let root = dir()
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try write(Fixture.result(cells[0], metrics: ["accuracy": 0.8]), cells[0], in: a)
        try write(Fixture.result(cells[0], metrics: ["accuracy": 0.7]), cells[0], in: b)
        let r = try CLI.run(["merge", "--out", "merged", "a", "b"], in: root)
        XCTAssertFalse(r.signaled)
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stderr.contains("conflict"), r.output)
        XCTAssertEqual(ResultStore.resultFiles(under: root.appendingPathComponent("merged")), [])
    }
}
