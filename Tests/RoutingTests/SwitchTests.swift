import Foundation
import Routing
import TestSupport
import XCTest

/// Switch top-1 as a module: routing, capacity in training and evaluation, losses, jitter,
/// gradients, learning and FLOPs.
final class SwitchTests: XCTestCase {
    let d = 3, h = 6

    func make(_ values: [String: OptionValue], seed: UInt64 = 1) throws -> SwitchTop1 {
        var rng = RNG(seed: seed)
        return try SwitchTop1(d: d, hidden: h, options: MethodOptions(method: "switch", values), rng: &rng)
    }

    /// Tokens near `4·e_c` for the given choices, and a router `W_r = I` (3 experts), so that
    /// token `t` picks `choices[t]` with a wide margin.
    func tokens(_ choices: [Int], experts E: Int, _ layer: SwitchTop1) -> Tensor {
        for i in 0..<(d * E) { layer.router.data[i] = i / E == i % E ? 1 : 0 }
        var rng = RNG(seed: 5)
        var xs = [Float]()
        for c in choices { for k in 0..<d { xs.append((k == c ? 4 : 0) + rng.uniform(-0.3, 0.3)) } }
        return Tensor(shape: [choices.count, d], scalars: xs)
    }

    func testCapacityDropsInTrainingButNotInEvaluation() throws {
        let choices = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0]
        // Training: C = max(4, floor(10 · 1.0 / 3)) = 4 -> tokens 6, 7, 9 of expert 0 dropped.
        let layer = try make(["experts": .int(3), "capacity_factor_train": .double(1.0)])
        let x = tokens(choices, experts: 3, layer)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 10])
        let out = layer.forward(x, layer: 2, context: &ctx)
        XCTAssertEqual(out.stats.layer, 2)
        XCTAssertEqual(out.stats.dropped, 3)
        XCTAssertEqual(out.stats.assignedPerUnit, [7, 3, 0])
        XCTAssertEqual(out.stats.routed, 10)
        XCTAssertEqual(out.stats.chosenHistogram, [0, 10, 0, 0])
        XCTAssertEqual(out.stats.droppedFraction, 0.3, accuracy: 1e-12)

        let p = softmaxRows(x, layer.router)
        let xs = x.scalars
        for t in 0..<10 {
            let row = Array(out.y.scalars[(t * d)..<(t * d + d)])
            if [6, 7, 9].contains(t) {
                XCTAssertEqual(row, [0, 0, 0], "dropped token \(t)")
            } else {
                let e = choices[t]
                let expected = expertOutput(layer.expertWeights, expert: e, Array(xs[(t * d)..<(t * d + d)]))
                    .map { Float($0 * p[t][e]) }
                assertClose(row, expected, atol: 1e-5, "token \(t)")
            }
        }
        // Balance loss alpha · E · sum f_i P_i with f = (.7, .3, 0).
        let P = (0..<3).map { e in p.reduce(0.0) { $0 + $1[e] } / 10 }
        let balance = 0.01 * 3 * (0.7 * P[0] + 0.3 * P[1])
        XCTAssertEqual(out.stats.aux["balance"]!, balance, accuracy: 1e-7)
        XCTAssertEqual(Double(out.auxLoss!.item), balance, accuracy: 1e-7)
        // Gate entropy: mean over tokens of the router distribution's entropy.
        let entropy = p.reduce(0.0) { acc, row in acc - row.reduce(0.0) { $0 + $1 * log($1) } } / 10
        XCTAssertEqual(out.stats.gateEntropy, entropy, accuracy: 1e-5)

        // Evaluation: C = max(4, floor(10 · 2.0 / 3)) = 6: token 9 (slot 6) is still dropped.
        ctx.training = false
        XCTAssertEqual(layer.forward(x, layer: 0, context: &ctx).stats.dropped, 1)
        XCTAssertEqual(layer.capacity(tokens: 10, training: false), 6)
        XCTAssertEqual(layer.capacity(tokens: 10, training: true), 4)
        let dropless = try make(["experts": .int(3), "dropless": .bool(true)])
        XCTAssertNil(dropless.capacity(tokens: 10, training: true))
    }

    func testZLossAndMinimumCapacityOptions() throws {
        let layer = try make(["experts": .int(3), "z_loss": .bool(true), "z_beta": .double(0.5),
                              "min_capacity": .int(1), "capacity_factor_train": .double(0.5)])
        let choices = [0, 1, 2, 2, 1, 0]
        let x = tokens(choices, experts: 3, layer)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 6])
        let out = layer.forward(x, layer: 0, context: &ctx)
        // C = max(1, floor(6 · 0.5 / 3)) = 1: the second token of each expert is dropped.
        XCTAssertEqual(out.stats.dropped, 3)
        let xs = x.scalars, wr = layer.router.scalars
        var z = 0.0
        for t in 0..<6 {
            var s = 0.0
            for e in 0..<3 {
                var l = 0.0
                for k in 0..<3 { l += Double(xs[t * 3 + k]) * Double(wr[k * 3 + e]) }
                s += exp(l)
            }
            z += log(s) * log(s)
        }
        XCTAssertEqual(out.stats.aux["z"]!, 0.5 * z / 6, accuracy: 1e-4 * z)
        XCTAssertEqual(Double(out.auxLoss!.item), out.stats.aux["z"]! + out.stats.aux["balance"]!, accuracy: 1e-5)
    }

    func testJitterOnlyInTrainingAndOnlyOnTheRouter() throws {
        let plain = try make(["experts": .int(3)], seed: 4)
        let jittered = try make(["experts": .int(3), "jitter": .bool(true), "jitter_eps": .double(0.2)], seed: 4)
        var rng = RNG(seed: 2)
        let x = randomTensor([12, d], &rng)
        var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, 12])
        let a = plain.forward(x, layer: 0, context: &ctx).y.scalars
        XCTAssertEqual(jittered.forward(x, layer: 0, context: &ctx).y.scalars, a, "no jitter in evaluation")
        XCTAssertEqual(ctx.rng, RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: []).rng)
        ctx.training = true
        let b = jittered.forward(x, layer: 0, context: &ctx).y.scalars
        XCTAssertNotEqual(b, plain.forward(x, layer: 0, context: &ctx).y.scalars, "jitter changes the gates")
        XCTAssertNotEqual(ctx.rng, RNG(seed: 1), "jitter draws from the context's generator")
        // With one expert the gate is 1 whatever the router reads: the experts read the clean x.
        let one = try make(["experts": .int(1), "jitter": .bool(true), "jitter_eps": .double(0.2)], seed: 4)
        let plainOne = try make(["experts": .int(1)], seed: 4)
        assertClose(one.forward(x, layer: 0, context: &ctx).y.scalars,
                    plainOne.forward(x, layer: 0, context: &ctx).y.scalars, atol: 0)
    }

    func testGradientsThroughRouterAndExperts() throws {
        let layer = try make(["experts": .int(3), "capacity_factor_train": .double(1.0)])
        let x = tokens([0, 1, 2, 0, 0, 0, 0, 1], experts: 3, layer)  // expert 0 overflows (C = 4)
        var rng = RNG(seed: 8)
        for i in 0..<(d * 3) { layer.router.data[i] += rng.uniform(-0.2, 0.2) }
        let params = [x, layer.router, layer.w1, layer.b1, layer.w2, layer.b2]
        checkGradients(params, step: 1e-2, atol: 3e-3) { _ in
            var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 8])
            return layer.forward(x, layer: 0, context: &ctx).y
        }
        checkGradients([layer.router], step: 1e-2) { _ in
            var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 8])
            return layer.forward(x, layer: 0, context: &ctx).auxLoss!
        }
    }

    func testLossFallsOnARegressionTask() throws {
        var rng = RNG(seed: 3)
        let layer = try SwitchTop1(d: 6, hidden: 16, options: MethodOptions(method: "switch", ["experts": .int(4),
                                   "z_loss": .bool(true), "jitter": .bool(true)]), rng: &rng)
        let (first, last) = trainRegression(layer, d: 6)
        XCTAssertLessThan(last, 0.3 * first, "task loss \(first) -> \(last)")
    }

    func testAnalyticFlopsMatchTheEngine() throws {
        for values: [String: OptionValue] in [["experts": .int(4)], ["experts": .int(4), "z_loss": .bool(true)],
                                              ["experts": .int(2), "capacity_factor_eval": .double(0.5)]] {
            let options = MethodOptions(method: "switch", values)
            var rng = RNG(seed: 1)
            let layer = try SwitchTop1(d: 16, hidden: 32, options: options, rng: &rng)
            try checkAnalyticFlops(layer, SwitchTop1.self, d: 16, hidden: 32, options: options)
        }
        let nominal = try SwitchTop1.forwardFlopsPerToken(d: 16, hidden: 32, options: MethodOptions(method: "switch"),
                                                          meanExperts: nil)
        XCTAssertEqual(nominal.expert, Double(4 * 16 * 32 + 2 * 32 + 3 * 16))
        XCTAssertEqual(nominal.router, Double(2 * 16 * 8 + Router.softmaxFlops(width: 8) + 8))
    }

    func testOptionValidation() {
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try SwitchTop1(d: 4, hidden: 8, options: MethodOptions(method: "switch", ["expert": .int(2)]), rng: &rng)) {
            XCTAssertEqual(($0 as? OptionError)?.key, "expert")
        }
        for (key, value) in [("experts", OptionValue.int(0)), ("capacity_factor_train", .double(0)),
                             ("jitter_eps", .double(1.5)), ("z_loss", .string("yes")), ("balance_alpha", .double(-1))] {
            XCTAssertThrowsError(try SwitchTop1(d: 4, hidden: 8, options: MethodOptions(method: "switch", [key: value]), rng: &rng)) {
                XCTAssertEqual(($0 as? OptionError)?.key, key)
            }
        }
    }
}
