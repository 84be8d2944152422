import Foundation
import Routing
import TestSupport
import XCTest

/// The method registry: names, unknown names, option validation, and that every line
/// builds a backbone that runs forward and backward.
final class RegistryTests: XCTestCase {
    func testNames() {
        XCTAssertEqual(MethodRegistry.names, ["dense", "switch", "top2", "topp", "molex", "dlr",
                                              "soft", "noisy_topk", "hierarchical", "hard"])
        XCTAssertEqual(MethodRegistry.methods.filter(\.isBlockMixer).map(\.name), ["molex", "dlr"])
        XCTAssertEqual(Set(MethodRegistry.knownOptions.keys), Set(MethodRegistry.names))
        XCTAssertEqual(MethodRegistry.knownOptions["molex"], MoLEx.optionKeys)
        XCTAssertEqual(MethodRegistry.knownOptions["soft"], SurveyMoE.optionKeys.subtracting(["variant"]))
    }

    func testUnknownMethodListsTheKnownOnes() {
        XCTAssertThrowsError(try MethodRegistry.method("top3")) { e in
            XCTAssertEqual(e as? UnknownMethodError, UnknownMethodError(name: "top3", known: MethodRegistry.names))
            let text = "\(e)"
            XCTAssertTrue(text.contains("'top3'"), text)
            for n in MethodRegistry.names { XCTAssertTrue(text.contains(n), text) }
        }
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try Backbone(config: Fixture.config(), method: "nope", rng: &rng))
    }

    func testOptionsAreValidated() throws {
        let soft = try MethodRegistry.method("soft")
        XCTAssertEqual(try soft.options(["experts": .int(4)]).values, ["experts": .int(4), "variant": .string("soft")])
        // A preset cannot be overridden, unknown keys are named with the allowed ones.
        XCTAssertThrowsError(try soft.options(["variant": .string("hard")])) { e in
            XCTAssertEqual((e as? OptionError)?.key, "variant")
        }
        XCTAssertThrowsError(try MethodRegistry.method("molex").options(["tau": .double(0.5)])) { e in
            XCTAssertTrue("\(e)".contains("allowed: a, a_per_block, balance_weight"), "\(e)")
        }
        var rng = RNG(seed: 2)
        XCTAssertThrowsError(try Backbone(config: Fixture.config(), method: "switch", options: ["experts": .string("many")], rng: &rng))
        let b = try Backbone(config: Fixture.config(), method: "hard", options: ["experts": .int(4)], rng: &rng)
        XCTAssertEqual((b.blocks[0].ffn as! SurveyMoE).variant, .hard)
        XCTAssertEqual((b.blocks[0].ffn as! SurveyMoE).experts, 4)
    }

    func testEveryMethodBuildsRunsAndTrainsOneStep() throws {
        for name in MethodRegistry.names {
            var rng = RNG(seed: 3)
            let cfg = Fixture.config(depth: 2)
            let b = try Backbone(config: cfg, method: name, rng: &rng)
            var ctx = Fixture.context(training: true)
            let batch = PaddedBatch(lengths: [4, 2, 3])
            let out = b(Tensor.randn([3, 4, 8], rng: &rng), batch: batch, context: &ctx)
            XCTAssertEqual(out.stats.count, 2, name)
            XCTAssertEqual(out.stats.map(\.layer), [0, 1], name)
            let loss = out.auxLoss.map { Fixture.weightedSum(out.hidden) + $0 } ?? Fixture.weightedSum(out.hidden)
            XCTAssertTrue(loss.item.isFinite, name)
            loss.backward()
            XCTAssertTrue(b.parameters().contains { Fixture.hasGradient($0) }, name)
            // Balance losses by default; the survey variants have none unless a regulariser is set.
            if ["switch", "top2", "topp", "molex", "dlr"].contains(name) { XCTAssertNotNil(out.auxLoss, "\(name) has auxiliary losses") }
        }
    }
}
