import Foundation
import Harness
import XCTest

/// A runner that records what it ran, fails one named cell, and returns fixed metrics.
final class FakeRunner: CellRunner {
    var ran: [String] = []
    var failing: Set<String> = []

    struct Broken: Error, CustomStringConvertible { var description: String { "data error: train.tsv missing" } }

    func run(_ cell: Cell, progress: (TrainingProgress) -> Void) throws -> CellResult {
        ran.append(cell.id)
        if failing.contains(cell.id) { throw Broken() }
        progress(TrainingProgress(step: 1, totalSteps: 1, loss: 0.1, examplesPerSecond: 10))
        return Fixture.result(cell, metrics: ["accuracy": 0.5 + 0.01 * Double(cell.config.seed)])
    }
}

final class GridRunnerTests: XCTestCase {
    func testCachesShardsAndRecordsFailures() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "proxy")
        let root = Fixture.tempDir()
        let env = Fixture.result(cells[0], metrics: [:]).environment
        let fake = FakeRunner()
        fake.failing = [cells[2].id]

        // Shard 0/2 runs cells 0, 2, 4, 6.
        var s = GridRunner(resultsRoot: root, shard: Shard(index: 0, count: 2), log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [0, 2, 4, 6].map { cells[$0].id })
        XCTAssertEqual(s.ran, 3)
        XCTAssertEqual(s.failed, 1)
        let failed = try ResultStore.read(cells[2].resultPath(in: root))
        XCTAssertEqual(failed.status, "failed")
        XCTAssertEqual(failed.failure, "data error: train.tsv missing")

        // The whole grid again: only the other shard's cells run; the failure is cached...
        fake.ran = []
        s = GridRunner(resultsRoot: root, log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [1, 3, 5, 7].map { cells[$0].id })
        XCTAssertEqual(s.cached, 4)
        // ... unless retried.
        fake.ran = []
        fake.failing = []
        s = GridRunner(resultsRoot: root, retryFailed: true, log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [cells[2].id])
        XCTAssertEqual(try ResultStore.all(under: root).filter(\.isOK).count, 8)
    }
}
