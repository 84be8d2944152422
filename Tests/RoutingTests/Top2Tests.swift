import Foundation
import Routing
import TestSupport
import XCTest

/// Top-2 as a module: renormalised gates, capacity with first choices first, the random
/// second-expert policy, gradients, learning and FLOPs.
final class Top2Tests: XCTestCase {
    let d = 3, h = 5

    func make(_ values: [String: OptionValue], seed: UInt64 = 1) throws -> Top2 {
        var rng = RNG(seed: seed)
        return try Top2(d: d, hidden: h, options: MethodOptions(method: "top2", values), rng: &rng)
    }

    func testOutputIsTheRenormalisedPairOfExperts() throws {
        let layer = try make(["experts": .int(3), "dropless": .bool(true)])
        var rng = RNG(seed: 2)
        let x = randomTensor([7, d], &rng, -2, 2)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 7])
        let out = layer.forward(x, layer: 0, context: &ctx)
        XCTAssertEqual(out.stats.chosenHistogram, [0, 0, 7, 0])
        XCTAssertEqual(out.stats.dropped, 0)
        let p = softmaxRows(x, layer.router)
        let xs = x.scalars
        for t in 0..<7 {
            let order = (0..<3).sorted { p[t][$0] > p[t][$1] || (p[t][$0] == p[t][$1] && $0 < $1) }
            let (e1, e2) = (order[0], order[1])
            let denom = p[t][e1] + p[t][e2] + 1e-9
            let row = Array(xs[(t * d)..<(t * d + d)])
            let y1 = expertOutput(layer.expertWeights, expert: e1, row)
            let y2 = expertOutput(layer.expertWeights, expert: e2, row)
            let expected = (0..<d).map { Float((p[t][e1] * y1[$0] + p[t][e2] * y2[$0]) / denom) }
            assertClose(Array(out.y.scalars[(t * d)..<(t * d + d)]), expected, atol: 1e-5, "token \(t)")
        }
        // Balance loss from the top-1 assignment only.
        var f = [Double](repeating: 0, count: 3)
        for t in 0..<7 { f[(0..<3).max { p[t][$0] < p[t][$1] }!] += 1.0 / 7 }
        let P = (0..<3).map { e in p.reduce(0.0) { $0 + $1[e] } / 7 }
        XCTAssertEqual(out.stats.aux["balance"]!, 0.01 * 3 * (0..<3).reduce(0.0) { $0 + f[$1] * P[$1] }, accuracy: 1e-7)
    }

    func testCapacityPlacesFirstChoicesFirstAndZeroesOverflow() throws {
        // Router W_r = I: tokens near 4·e_a + 2·e_b choose (a, b).
        let layer = try make(["experts": .int(3), "capacity_factor_train": .double(0.5), "min_capacity": .int(2)])
        for i in 0..<9 { layer.router.data[i] = i / 3 == i % 3 ? 1 : 0 }
        let pairs = [(0, 1), (1, 0), (0, 2), (0, 1), (2, 1)]
        var xs = [Float]()
        for (a, b) in pairs { for k in 0..<3 { xs.append(k == a ? 4 : k == b ? 2 : 0) } }
        let x = Tensor(shape: [5, 3], scalars: xs)
        // C = max(2, floor(2 · 5 · 0.5 / 3)) = 2. Expert 0: first choices t0, t2 (t3 dropped),
        // second choice t1 dropped (after 2 kept first choices). Expert 1: first t1, second t0
        // (slot 1), t3 and t4 dropped. Expert 2: first t4, second t2.
        XCTAssertEqual(layer.capacity(tokens: 5, training: true), 2)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 5])
        let out = layer.forward(x, layer: 0, context: &ctx)
        XCTAssertEqual(out.stats.dropped, 4)
        XCTAssertEqual(out.stats.assignedPerUnit, [4, 4, 2])
        // Token 3 lost both experts: zero output.
        XCTAssertEqual(Array(out.y.scalars[9..<12]), [0, 0, 0])
        // Token 1 keeps only its first expert, with the gate normalised over both.
        let p = softmaxRows(x, layer.router)
        let y1 = expertOutput(layer.expertWeights, expert: 1, Array(xs[3..<6]))
        let g = p[1][1] / (p[1][1] + p[1][0] + 1e-9)
        assertClose(Array(out.y.scalars[3..<6]), y1.map { Float(g * $0) }, atol: 1e-5)
    }

    func testRandomSecondPolicyOnlyInTraining() throws {
        let layer = try make(["experts": .int(4), "random_second": .bool(true), "second_threshold": .double(0.9),
                              "dropless": .bool(true)])
        var rng = RNG(seed: 3)
        let x = randomTensor([200, d], &rng)
        var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, 200])
        XCTAssertEqual(layer.forward(x, layer: 0, context: &ctx).stats.chosenHistogram, [0, 0, 200, 0, 0])
        ctx.training = true
        let hist = layer.forward(x, layer: 0, context: &ctx).stats.chosenHistogram
        // g2 <= 0.5 < 0.9: each second choice is kept with probability g2 / 0.9 < 1.
        XCTAssertGreaterThan(hist[1], 0)
        XCTAssertGreaterThan(hist[2], 0)
        XCTAssertEqual(hist[1] + hist[2], 200)
    }

    func testGradientsThroughRouterAndExperts() throws {
        let layer = try make(["experts": .int(3), "capacity_factor_train": .double(0.6), "min_capacity": .int(1)])
        var rng = RNG(seed: 4)
        // Well separated probabilities so that finite steps do not change the choices.
        for i in 0..<9 { layer.router.data[i] = (i / 3 == i % 3 ? 3 : 0) + rng.uniform(-0.3, 0.3) }
        let raw: [[Float]] = [[2, 1, 0], [0, 2, 1], [1, 0, 2], [2, 0, 1], [0, 1, 2], [2, 1, 0]]
        let x = Tensor(shape: [6, 3], scalars: raw.flatMap { $0 }.map { $0 * 0.8 })
        var probe = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 6])
        XCTAssertGreaterThan(layer.forward(x, layer: 0, context: &probe).stats.dropped, 0)
        checkGradients([x, layer.router, layer.w1, layer.b1, layer.w2, layer.b2], step: 1e-2, atol: 3e-3) { _ in
            var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 6])
            return layer.forward(x, layer: 0, context: &ctx).y
        }
    }

    func testLossFallsOnARegressionTask() throws {
        var rng = RNG(seed: 5)
        let layer = try Top2(d: 6, hidden: 16, options: MethodOptions(method: "top2", ["experts": .int(4)]), rng: &rng)
        let (first, last) = trainRegression(layer, d: 6)
        XCTAssertLessThan(last, 0.3 * first, "task loss \(first) -> \(last)")
    }

    func testAnalyticFlopsMatchTheEngine() throws {
        for values: [String: OptionValue] in [["experts": .int(4)], ["experts": .int(8), "dropless": .bool(true)],
                                              ["experts": .int(2), "capacity_factor_eval": .double(0.3)]] {
            let options = MethodOptions(method: "top2", values)
            var rng = RNG(seed: 1)
            let layer = try Top2(d: 16, hidden: 32, options: options, rng: &rng)
            try checkAnalyticFlops(layer, Top2.self, d: 16, hidden: 32, options: options)
        }
    }

    func testOptionValidation() {
        var rng = RNG(seed: 1)
        for (key, value) in [("experts", OptionValue.int(1)), ("second_threshold", .double(0)),
                             ("random_second", .int(1)), ("z_loss", .bool(true))] {
            XCTAssertThrowsError(try Top2(d: 4, hidden: 8, options: MethodOptions(method: "top2", [key: value]), rng: &rng)) {
                XCTAssertEqual(($0 as? OptionError)?.key, key)
            }
        }
    }
}
