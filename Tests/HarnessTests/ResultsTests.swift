import Foundation
import Analysis
import Harness
import XCTest

final class ResultsTests: XCTestCase {
    func testWriteReadCacheAndMerge() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        let a = Fixture.tempDir(), b = Fixture.tempDir(), dest = Fixture.tempDir()
        let r0 = Fixture.result(cells[0], metrics: ["accuracy": 0.8])
        try ResultStore.write(r0, to: cells[0].resultPath(in: a))
        XCTAssertEqual(try ResultStore.read(cells[0].resultPath(in: a)), r0)
        XCTAssertEqual(ResultStore.cached(cells[0], resultsRoot: a), r0)
        XCTAssertNil(ResultStore.cached(cells[1], resultsRoot: a))
        // No temporary files are left behind.
        let dir = cells[0].resultPath(in: a).deletingLastPathComponent()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [cells[0].id + ".json"])
        // A result with another configuration hash is not a cache hit.
        var stale = r0
        stale.configHash = "0000000000000000"
        try ResultStore.write(stale, to: cells[0].resultPath(in: a))
        XCTAssertNil(ResultStore.cached(cells[0], resultsRoot: a))
        try ResultStore.write(r0, to: cells[0].resultPath(in: a))

        try ResultStore.write(Fixture.result(cells[1], metrics: ["accuracy": 0.7]), to: cells[1].resultPath(in: b))
        try ResultStore.write(r0, to: cells[0].resultPath(in: b))
        let m = try mergeResults(sources: [a, b], into: dest)
        XCTAssertEqual(m.copied, 2)
        XCTAssertEqual(m.identical, 1)
        XCTAssertEqual(try ResultStore.all(under: dest).count, 2)
        try ResultStore.write(stale, to: cells[0].resultPath(in: b))
        XCTAssertThrowsError(try mergeResults(sources: [b], into: dest))
        XCTAssertThrowsError(try mergeResults(sources: [URL(fileURLWithPath: "/nonexistent")], into: dest))
    }

    func testCorruptResultNamesTheFile() throws {
        let d = Fixture.tempDir()
        let f = d.appendingPathComponent("x__y__s1.json")
        try Data("{not json".utf8).write(to: f)
        XCTAssertThrowsError(try ResultStore.all(under: d)) { XCTAssertTrue("\($0)".contains(f.path)) }
    }
}
