import Analysis
import Harness
import Routing
import XCTest

final class SuiteTests: XCTestCase {
    func testParsesTiersAndOverrides() throws {
        let s = try Fixture.suite()
        XCTAssertEqual(s.name, "demo")
        XCTAssertEqual(s.modality, .text)
        XCTAssertEqual(s.methods.map(\.label), ["dense", "switch"])
        XCTAssertEqual(s.methods[1].options["experts"], .int(4))
        let smoke = try s.tier("smoke")
        XCTAssertEqual(smoke.seeds, [1])
        XCTAssertEqual(smoke.data, "smoke")
        XCTAssertEqual(smoke.model.d, 16)
        let proxy = try s.tier("proxy")
        XCTAssertEqual(proxy.seeds, [1, 2])
        XCTAssertEqual(proxy.training.steps, 20)
        XCTAssertEqual(proxy.taskTraining["rte"]?.lr, 0.0005)
        XCTAssertEqual(proxy.taskTraining["rte"]?.steps, 20)
        XCTAssertThrowsError(try s.tier("full"))
    }

    /// Each invalid file is rejected with the file, the line and the offending key.
    func testRejectsInvalidFiles() {
        let cases: [(String, String, String)] = [
            (Fixture.suiteText.replacingOccurrences(of: "tasks: [sst2, rte]", with: "tasks: [sst2, nope]"), "unknown task 'nope'", "tasks"),
            (Fixture.suiteText.replacingOccurrences(of: "method: switch,", with: "method: swtich,"), "unknown method 'swtich'", "methods"),
            (Fixture.suiteText.replacingOccurrences(of: "{experts: 4}", with: "{expert: 4}"), "unknown key", "options.expert"),
            (Fixture.suiteText.replacingOccurrences(of: "batch_size: 4", with: "batch_size: four"), "expected an integer", "batch_size"),
            (Fixture.suiteText.replacingOccurrences(of: "heads: 2", with: "heads: 3"), "divisible", "model"),
            (Fixture.suiteText + "\nextra: 1\n", "unknown key", "extra"),
            (Fixture.suiteText.replacingOccurrences(of: "smoke: {seeds: [1]}", with: "nightly: {seeds: [1]}"), "unknown key", "tiers.nightly"),
            ("suite: [", "not valid YAML", ""),
        ]
        for (text, message, key) in cases {
            XCTAssertThrowsError(try Fixture.suite(text), message) { error in
                guard let e = error as? SuiteError else { return XCTFail("not a SuiteError: \(error)") }
                XCTAssertEqual(e.file, "demo.yaml")
                XCTAssertTrue(e.description.contains(message), "\(e.description) should contain \(message)")
                if !key.isEmpty { XCTAssertTrue(e.key.contains(key), "\(e.key) should contain \(key)") }
                if !key.isEmpty { XCTAssertNotNil(e.line, "line missing for \(e)") }
            }
        }
    }

    func testMissingFileIsAnError() {
        XCTAssertThrowsError(try Suite.load(file: "/nonexistent/x.yaml", knownTasks: [:], knownMethods: [:])) {
            XCTAssertTrue("\($0)".contains("/nonexistent/x.yaml"))
        }
    }

    func testGridOrderHashesAndShards() throws {
        let s = try Fixture.suite()
        let cells = try expandGrid(suite: s, tierName: "proxy")
        XCTAssertEqual(cells.map(\.id), ["sst2__dense__s1", "sst2__dense__s2", "sst2__switch__s1", "sst2__switch__s2",
                                         "rte__dense__s1", "rte__dense__s2", "rte__switch__s1", "rte__switch__s2"])
        XCTAssertEqual(Set(cells.map(\.config.hash)).count, cells.count)
        // Changing one option changes only the affected cells' hashes.
        var text = Fixture.suiteText.replacingOccurrences(of: "{experts: 4}", with: "{experts: 8}")
        let changed = try expandGrid(suite: try Fixture.suite(text), tierName: "proxy")
        for (a, b) in zip(cells, changed) {
            XCTAssertEqual(a.config.hash == b.config.hash, a.config.method.label == "dense", a.id)
        }
        text = Fixture.suiteText
        XCTAssertEqual(try expandGrid(suite: try Fixture.suite(text), tierName: "proxy").map(\.config.hash), cells.map(\.config.hash))
        // Shards partition the grid.
        let shards = (0..<3).map { i in cells.indices.filter { Shard(index: i, count: 3).contains($0) } }
        XCTAssertEqual(shards.flatMap { $0 }.sorted(), Array(cells.indices))
        XCTAssertEqual(shards[1], [1, 4, 7])
        XCTAssertEqual(try Shard(parsing: "2/4"), Shard(index: 2, count: 4))
        for bad in ["4/4", "-1/2", "1", "a/b", "0/0"] { XCTAssertThrowsError(try Shard(parsing: bad), bad) }
        XCTAssertThrowsError(try expandGrid(suite: s, tierName: "proxy", seedCount: 5))
    }
}
