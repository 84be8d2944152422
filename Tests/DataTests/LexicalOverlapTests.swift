@testable import Data
import Foundation
import Tensor
import XCTest

/// The MNLI lexical-overlap probe: every hypothesis word is a premise word, entailed and
/// swapped pairs alternate, the file is an MNLI dev file, the same seed gives the same bytes.
final class LexicalOverlapTests: XCTestCase {
    func words(_ s: String) -> [String] {
        s.lowercased().split { !$0.isLetter && $0 != "'" }.map(String.init)
    }

    func testHypothesesUseOnlyPremiseWords() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-hans-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let root = tmp.appendingPathComponent("root")
        let dir = GLUE.taskFolder(root: root, task: .mnli)
        try LexicalOverlapProbe.write(seed: 3, count: 40, into: dir)
        let probe = try LexicalOverlapProbe.load(root: root)
        XCTAssertEqual(probe.examples.count, 40)
        for (i, e) in probe.examples.enumerated() {
            let p = words(e.textA), h = words(e.textB!)
            XCTAssertTrue(Set(h).isSubset(of: Set(p)), "\(e.textA) / \(e.textB!)")
            XCTAssertEqual(e.label, i % 2 == 0 ? 0 : 1)
            if i % 2 == 1 {
                // Subject and object swapped: not the same word order as the premise's.
                XCTAssertNotEqual(h, p.filter { h.contains($0) }, "\(e.textA) / \(e.textB!)")
            } else {
                // Entailed: the hypothesis is a subsequence of the premise.
                var k = 0
                for w in p where k < h.count && w == h[k] { k += 1 }
                XCTAssertEqual(k, h.count, "\(e.textA) / \(e.textB!)")
            }
        }
        let first = try Data(contentsOf: LexicalOverlapProbe.url(root: root))
        try LexicalOverlapProbe.write(seed: 3, count: 40, into: dir)
        XCTAssertEqual(try Data(contentsOf: LexicalOverlapProbe.url(root: root)), first)
        try LexicalOverlapProbe.write(seed: 4, count: 40, into: dir)
        XCTAssertNotEqual(try Data(contentsOf: LexicalOverlapProbe.url(root: root)), first)
    }
}
