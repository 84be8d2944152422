import Foundation
import Analysis
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
        var r = Fixture.result(cell, metrics: ["accuracy": 0.5 + 0.01 * Double(cell.config.seed)])
        r.environment.codeFingerprint = Build.fingerprint  // made by this build
        return r
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

        // The whole grid again: the other shard's cells run, and the failure is retried
        // (still failing): failures are failures until they succeed.
        fake.ran = []
        s = GridRunner(resultsRoot: root, log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [1, 2, 3, 5, 7].map { cells[$0].id })
        XCTAssertEqual(s.cached, 3)
        XCTAssertEqual(s.failed, 1)
        XCTAssertTrue(s.hasFailures)
        // Kept on request, a failure is still counted as one.
        fake.ran = []
        s = GridRunner(resultsRoot: root, retryFailed: false, log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [])
        XCTAssertEqual(s.cachedFailed, 1)
        XCTAssertTrue(s.hasFailures)
        // Once fixed, the default rerun runs it and the grid is clean.
        fake.ran = []
        fake.failing = []
        s = GridRunner(resultsRoot: root, log: { _ in }).run(cells, runner: fake, environment: env)
        XCTAssertEqual(fake.ran, [cells[2].id])
        XCTAssertFalse(s.hasFailures)
        XCTAssertEqual(try ResultStore.all(under: root).filter(\.isOK).count, 8)
    }

    /// The environment of a build with fingerprint `fp` (results record the running build's).
    func env(_ cells: [Cell], fingerprint fp: String, commit: String) -> EnvironmentRecord {
        var e = Fixture.result(cells[0], metrics: [:]).environment
        e.codeFingerprint = fp
        e.gitCommit = commit
        return e
    }

    func testCellOfAnotherFingerprintIsStaleAndRerunUnlessKept() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "smoke")
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        final class Stamping: CellRunner {
            var ran: [String] = []
            let environment: EnvironmentRecord
            init(_ e: EnvironmentRecord) { environment = e }
            func run(_ cell: Cell, progress: (TrainingProgress) -> Void) throws -> CellResult {
                ran.append(cell.id)
                var r = Fixture.result(cell, metrics: ["accuracy": 0.5])
                r.environment = environment
                return r
            }
        }
        let old = env(cells, fingerprint: "aaaaaaaaaaaaaaaa", commit: "0ldc0mm1t000")
        let new = env(cells, fingerprint: "bbbbbbbbbbbbbbbb", commit: "n3wc0mm1t000")
        var lines: [String] = []
        let oldRunner = Stamping(old)
        _ = GridRunner(resultsRoot: root, fingerprint: "aaaaaaaaaaaaaaaa", log: { _ in }).run(cells, runner: oldRunner, environment: old)
        XCTAssertEqual(oldRunner.ran.count, cells.count)

        // The same build again: everything cached.
        let again = Stamping(old)
        var s = GridRunner(resultsRoot: root, fingerprint: "aaaaaaaaaaaaaaaa", log: { _ in }).run(cells, runner: again, environment: old)
        XCTAssertEqual(again.ran, [])
        XCTAssertEqual(s.cached, cells.count)
        XCTAssertEqual(s.stale, 0)

        // Another build, keeping stale cells on purpose: nothing runs, they are counted apart.
        let kept = Stamping(new)
        s = GridRunner(resultsRoot: root, keepStale: true, fingerprint: "bbbbbbbbbbbbbbbb", log: { lines.append($0) })
            .run(cells, runner: kept, environment: new)
        XCTAssertEqual(kept.ran, [])
        XCTAssertEqual(s.stale, cells.count)
        XCTAssertEqual(s.keptStale, cells.count)
        XCTAssertEqual(s.staleDescription, "\(cells.count) stale from commit 0ldc0mm1t000")
        XCTAssertTrue(lines[0].contains("\(cells.count) stale from commit 0ldc0mm1t000 (kept: --keep-stale)"), lines[0])

        // By default stale cells are re-run, and then current.
        let rerun = Stamping(new)
        s = GridRunner(resultsRoot: root, fingerprint: "bbbbbbbbbbbbbbbb", log: { _ in }).run(cells, runner: rerun, environment: new)
        XCTAssertEqual(rerun.ran, cells.map(\.id))
        XCTAssertEqual(s.ran, cells.count)
        XCTAssertEqual(s.stale, cells.count)
        XCTAssertEqual(try ResultStore.read(cells[0].resultPath(in: root)).environment.codeFingerprint, "bbbbbbbbbbbbbbbb")
        let none = Stamping(new)
        s = GridRunner(resultsRoot: root, fingerprint: "bbbbbbbbbbbbbbbb", log: { _ in }).run(cells, runner: none, environment: new)
        XCTAssertEqual(none.ran, [])
        XCTAssertEqual(s.stale, 0)

        // --force re-runs current cells too.
        let forced = Stamping(new)
        s = GridRunner(resultsRoot: root, force: true, fingerprint: "bbbbbbbbbbbbbbbb", log: { _ in }).run(cells, runner: forced, environment: new)
        XCTAssertEqual(forced.ran, cells.map(\.id))
        XCTAssertEqual(s.cached, 0)
    }

    func testResultWithoutFingerprintIsStale() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "smoke")
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        try ResultStore.write(Fixture.result(cells[0], metrics: ["accuracy": 0.5]), to: cells[0].resultPath(in: root))
        guard case .stale = GridRunner(resultsRoot: root, fingerprint: "cccccccccccccccc").state(cells[0]) else {
            return XCTFail("a result made before fingerprints must be stale")
        }
    }

    func testResultThatCannotBeWrittenIsAFailedCellNamingTheOSError() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "smoke")
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        // A non-empty folder where the first result file must go: the rename into place fails.
        let blocked = cells[0].resultPath(in: root)
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("x"), withIntermediateDirectories: true)
        var lines: [String] = []
        let fake = FakeRunner()
        let s = GridRunner(resultsRoot: root, log: { lines.append($0) })
            .run(cells, runner: fake, environment: Fixture.result(cells[0], metrics: [:]).environment)
        XCTAssertEqual(fake.ran, cells.map(\.id))
        XCTAssertEqual(s.failed, 1)
        XCTAssertEqual(s.ran, cells.count - 1)
        XCTAssertTrue(s.hasFailures)
        let line = try XCTUnwrap(lines.first { $0.contains("FAILED") })
        XCTAssertTrue(line.contains(cells[0].id) && line.contains("cannot be written") && line.contains(blocked.path), line)
        XCTAssertTrue(line.contains("Is a directory") || line.contains("Directory not empty"), line)
        // No temporary file is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: blocked.deletingLastPathComponent().path)
            .filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }

    func testLockOfALiveProcessLeavesTheCellToIt() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "smoke")
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        defer { sleeper.terminate(); sleeper.waitUntilExit() }
        let lock = CellLock.url(for: cells[0], in: root)
        try FileManager.default.createDirectory(at: lock.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "\(sleeper.processIdentifier) \(RunEnvironment.hostName)\n".write(to: lock, atomically: true, encoding: .utf8)
        let fake = FakeRunner()
        let s = GridRunner(resultsRoot: root, log: { _ in })
            .run(cells, runner: fake, environment: Fixture.result(cells[0], metrics: [:]).environment)
        XCTAssertEqual(fake.ran, Array(cells.map(\.id).dropFirst()))
        XCTAssertEqual(s.lockedElsewhere, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: lock.path), "another process's lock is not removed")
        // This run's own locks are gone.
        let locks = try FileManager.default.contentsOfDirectory(atPath: lock.deletingLastPathComponent().path).filter { $0.hasSuffix(".lock") }
        XCTAssertEqual(locks, [lock.lastPathComponent])
    }

    func testLockOfAProcessThatIsGoneIsTakenOver() throws {
        let cells = try expandGrid(suite: try Fixture.suite(), tierName: "smoke")
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let lock = CellLock.url(for: cells[0], in: root)
        try FileManager.default.createDirectory(at: lock.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "\(gone.processIdentifier) \(RunEnvironment.hostName)\n".write(to: lock, atomically: true, encoding: .utf8)
        let fake = FakeRunner()
        let s = GridRunner(resultsRoot: root, log: { _ in })
            .run(cells, runner: fake, environment: Fixture.result(cells[0], metrics: [:]).environment)
        XCTAssertEqual(fake.ran, cells.map(\.id))
        XCTAssertEqual(s.lockedElsewhere, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock.path))
    }

    func testLockFileIsExclusive() throws {
        let root = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent(".c.lock")
        guard case .acquired(let mine) = try CellLock.acquire(url) else { return XCTFail("a free lock is acquired") }
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, "\(getpid()) \(RunEnvironment.hostName)\n")
        // A lock of another host is respected (its process cannot be checked from here).
        mine.release()
        try "1 some-other-host\n".write(to: url, atomically: true, encoding: .utf8)
        guard case .held(let holder) = try CellLock.acquire(url) else { return XCTFail("another host's lock is held") }
        XCTAssertEqual(holder, "pid 1 on some-other-host")
    }
}
