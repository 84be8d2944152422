import Foundation
import Routing
import TestSupport
import XCTest

/// The analytic FLOPs model against the engine's own count of the same forward pass, for
/// every registered method and the three front ends, and the parameter counts.
final class FlopsModelTests: XCTestCase {
    func config(_ kind: FrontEndKind, moeEvery: Int = 1, depth: Int = 2) -> ModelConfig {
        let head: HeadKind
        switch kind {
        case .text: head = .classification(classes: 3)
        case .image: head = .classification(classes: 10)
        case .speech: head = .ctc(vocabulary: 29)
        }
        return ModelConfig(frontEnd: kind, backbone: BackboneConfig(d: 16, depth: depth, heads: 2, ffnHidden: 32, dropout: 0.1,
                                                                    moeEvery: moeEvery, maxLength: kind == .image ? 65 : 24),
                           head: head, vocabSize: 50)
    }

    func report(_ method: String, _ kind: FrontEndKind, options: [String: OptionValue] = [:], moeEvery: Int = 1,
                depth: Int = 2, seed: UInt64 = 1, input: ModelInput? = nil) throws -> FlopsReport {
        var rng = RNG(seed: seed)
        let cfg = config(kind, moeEvery: moeEvery, depth: depth)
        let model = try Model(config: cfg, method: method, options: options, rng: &rng)
        let x = input ?? FlopsModel.syntheticInput(config: cfg, batchSize: 3, length: 20, rng: &rng)
        return try FlopsModel.measure(model: model, input: x)
    }

    func assertAgree(_ r: FlopsReport, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThan(r.relativeDifference, 0.01, "\(label): analytic \(r.analytic) vs counted \(r.counted)",
                          file: file, line: line)
        // The lines this file owns are exact.
        XCTAssertEqual(r.analytic.attention, r.counted.attention, "\(label) attention", file: file, line: line)
        XCTAssertEqual(r.analytic.embedding, r.counted.embedding, "\(label) embedding", file: file, line: line)
        XCTAssertEqual(r.analytic.other, r.counted.other, "\(label) other", file: file, line: line)
        XCTAssertGreaterThan(r.counted.total, 0, file: file, line: line)
    }

    func testEveryMethodAgreesWithinOnePercentOnText() throws {
        for method in MethodRegistry.names {
            assertAgree(try report(method, .text), method)
        }
    }

    /// The gate biases of MoLEx and DLR (`gate_bias`), MoLEx without balance loss, and the
    /// gate renormalisation of Switch, top-p and top-2: the analytic model follows the
    /// count, and the bias adds the same router FLOPs to both.
    func testGateOptionsAgree() throws {
        for (method, opts) in [("molex", ["gate_bias": OptionValue.bool(true)]), ("dlr", ["gate_bias": .bool(true)]),
                               ("molex", ["balance_weight": .double(0), "gate_bias": .bool(true)]),
                               ("molex", ["learnable_a": .bool(true), "a_per_block": .bool(false)]),
                               ("switch", ["renormalize": .bool(true)]), ("topp", ["renormalize": .bool(true)]),
                               ("top2", ["renormalize": .bool(false)])] {
            let on = try report(method, .text, options: opts, depth: 3), off = try report(method, .text, depth: 3)
            assertAgree(on, "\(method) \(opts)")
            if opts["gate_bias"] != nil, on.meanUnits == off.meanUnits {
                XCTAssertEqual(on.analytic.router - off.analytic.router, on.counted.router - off.counted.router, "\(method) \(opts)")
            }
        }
    }

    func testPaddedBatchesAndMoeEvery() throws {
        let input = ModelInput.text(tokens: [[1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3], [4, 5, 6, 7, 8]], segments: nil)
        for method in ["dense", "switch", "topp", "molex", "dlr"] {
            assertAgree(try report(method, .text, input: input), "\(method) padded")
        }
        assertAgree(try report("top2", .text, moeEvery: 2), "top2 moe_every 2")
    }

    func testImageAndSpeechAgree() throws {
        for method in ["dense", "switch", "molex", "dlr"] {
            assertAgree(try report(method, .image), "\(method) image")
            assertAgree(try report(method, .speech), "\(method) speech")
        }
        var rng = RNG(seed: 3)
        let speech = ModelInput.speech(features: Tensor.randn([3, 21, 80], rng: &rng), lengths: [21, 13, 6])
        assertAgree(try report("dlr", .speech, input: speech), "dlr speech padded")
    }

    /// MoLEx evaluates `1 + (fraction of sequences with j != i)` blocks per block: its
    /// attention FLOPs are the dense model's times the measured mean, up to 2x.
    func testMoLExCostsUpToTwiceDense() throws {
        let dense = try report("dense", .text, depth: 4), molex = try report("molex", .text, depth: 4)
        assertAgree(molex, "molex depth 4")
        XCTAssertGreaterThan(molex.meanUnits, 1, "this configuration must choose other blocks")
        XCTAssertLessThanOrEqual(molex.meanUnits, 2)
        assertClose([Float(molex.counted.attention / dense.counted.attention)], [Float(molex.meanUnits)], atol: 0, rtol: 1e-6)
        // Same blocks, no new expert parameters: only the gate is added.
        XCTAssertEqual(molex.totalParams - dense.totalParams, 16 * 4)
        XCTAssertEqual(molex.routerParams, 16 * 4)
        XCTAssertEqual(molex.activeParams, molex.totalParams)
        // DLR: 1 + |S| minus the reuse, at most 1 + k_max = 3 evaluations per block.
        let dlr = try report("dlr", .text, depth: 4)
        assertAgree(dlr, "dlr depth 4")
        XCTAssertGreaterThan(dlr.meanUnits, 2)
        XCTAssertLessThanOrEqual(dlr.meanUnits, 3)
        assertClose([Float(dlr.counted.attention / dense.counted.attention)], [Float(dlr.meanUnits)], atol: 0, rtol: 1e-6)
    }

    func testActiveParameters() throws {
        let perExpert = 2 * 16 * 32 + 32 + 16
        let dense = try report("dense", .text)
        XCTAssertEqual(dense.activeParams, dense.totalParams)
        XCTAssertEqual(dense.routerParams, 0)
        let top2 = try report("top2", .text)
        XCTAssertEqual(top2.meanUnits, 2)
        XCTAssertEqual(top2.totalParams - top2.activeParams, 2 * 6 * perExpert)   // 2 layers, 8 experts, 2 active
        XCTAssertEqual(top2.routerParams, 2 * 16 * 8)
        XCTAssertEqual(top2.totalParams - dense.totalParams, 2 * (7 * perExpert + 16 * 8))
        let switchR = try report("switch", .text)
        XCTAssertEqual(switchR.totalParams - switchR.activeParams, 2 * 7 * perExpert)
        let soft = try report("soft", .text)
        XCTAssertEqual(soft.activeParams, soft.totalParams)
    }
}
