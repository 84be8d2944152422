import Foundation
import Routing
import TestSupport
import XCTest

/// Dynamic confidence top-p as a module: the chosen sets, raw gates, losses, the chosen-count
/// statistics, gradients, learning and FLOPs.
final class TopPTests: XCTestCase {
    let d = 4, h = 6

    func make(_ values: [String: OptionValue], seed: UInt64 = 1) throws -> DynamicTopP {
        var rng = RNG(seed: seed)
        return try DynamicTopP(d: d, hidden: h, options: MethodOptions(method: "top_p", values), rng: &rng)
    }

    func testChosenSetsRawGatesAndLosses() throws {
        let layer = try make(["experts": .int(4), "tau": .double(0.5), "entropy_beta": .double(0.1)])
        var rng = RNG(seed: 2)
        let x = randomTensor([20, d], &rng, -3, 3)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 20])
        let out = layer.forward(x, layer: 0, context: &ctx)
        let p = softmaxRows(x, layer.router)
        let xs = x.scalars
        var histogram = [Int](repeating: 0, count: 5)
        for t in 0..<20 {
            let order = (0..<4).sorted { p[t][$0] > p[t][$1] || (p[t][$0] == p[t][$1] && $0 < $1) }
            var keep = 0, c = 0.0
            repeat { c += p[t][order[keep]]; keep += 1 } while c <= 0.5 && keep < 4
            histogram[keep] += 1
            let row = Array(xs[(t * d)..<(t * d + d)])
            var expected = [Double](repeating: 0, count: d)
            for e in order.prefix(keep) {
                let y = expertOutput(layer.expertWeights, expert: e, row)
                for k in 0..<d { expected[k] += p[t][e] * y[k] }  // raw probabilities
            }
            assertClose(Array(out.y.scalars[(t * d)..<(t * d + d)]), expected.map { Float($0) }, atol: 1e-5, "token \(t)")
        }
        XCTAssertEqual(out.stats.chosenHistogram, histogram)
        XCTAssertGreaterThan(histogram[1], 0)
        XCTAssertGreaterThan(histogram[2] + histogram[3], 0)
        XCTAssertEqual(out.stats.dropped, 0)
        let entropy = p.reduce(0.0) { acc, row in acc - row.reduce(0.0) { $0 + $1 * log($1) } } / 20
        XCTAssertEqual(out.stats.gateEntropy, entropy, accuracy: 1e-5)
        XCTAssertEqual(out.stats.aux["entropy"]!, 0.1 * entropy, accuracy: 1e-6)
        XCTAssertEqual(Double(out.auxLoss!.item), out.stats.aux["entropy"]! + out.stats.aux["balance"]!, accuracy: 1e-6)
        XCTAssertEqual(out.stats.meanChosen, Double((0..<5).reduce(0) { $0 + $1 * histogram[$1] }) / 20, accuracy: 1e-12)
    }

    func testCapAndThresholdExtremes() throws {
        var rng = RNG(seed: 3)
        let x = randomTensor([30, d], &rng)
        var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, 30])
        // tau = 1: no prefix exceeds it (up to rounding): all experts, then the cap of 2.
        let all = try make(["experts": .int(4), "tau": .double(1.0)], seed: 4)
        XCTAssertGreaterThan(all.forward(x, layer: 0, context: &ctx).stats.chosenHistogram[4], 25)
        let capped = try make(["experts": .int(4), "tau": .double(1.0), "k_max": .int(2)], seed: 4)
        XCTAssertEqual(capped.forward(x, layer: 0, context: &ctx).stats.chosenHistogram, [0, 0, 30, 0, 0])
        // tau = 0: the first expert always crosses it.
        let one = try make(["experts": .int(4), "tau": .double(0)], seed: 4)
        XCTAssertEqual(one.forward(x, layer: 0, context: &ctx).stats.chosenHistogram, [0, 30, 0, 0, 0])
        let none = try make(["experts": .int(4), "k_max": .string("none")], seed: 4)
        XCTAssertNil(none.kMax)
    }

    func testGradientsThroughRouterAndExperts() throws {
        let layer = try make(["experts": .int(3), "tau": .double(0.5), "entropy_beta": .double(0.3)])
        var rng = RNG(seed: 5)
        for i in 0..<(d * 3) { layer.router.data[i] = (i % 3 == i / 3 ? 2.5 : 0) + rng.uniform(-0.2, 0.2) }
        let x = Tensor(shape: [4, d], scalars: [1, 0, 0, 0.2, 0, 1, 0.3, 0, 0.4, 0.2, 1, 0, 0.9, 0.9, 0, 0.1])
        var probe = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 4])
        let hist = layer.forward(x, layer: 0, context: &probe).stats.chosenHistogram
        XCTAssertGreaterThan(hist[1], 0)
        XCTAssertGreaterThan(hist[2] + hist[3], 0)
        checkGradients([x, layer.router, layer.w1, layer.b1, layer.w2, layer.b2], step: 1e-2, atol: 3e-3) { _ in
            var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 4])
            return layer.forward(x, layer: 0, context: &ctx).y
        }
        checkGradients([layer.router], step: 1e-2) { _ in
            var ctx = RoutingContext(training: true, rng: RNG(seed: 1), sequenceOffsets: [0, 4])
            return layer.forward(x, layer: 0, context: &ctx).auxLoss!
        }
    }

    func testLossFallsOnARegressionTask() throws {
        var rng = RNG(seed: 6)
        let layer = try DynamicTopP(d: 6, hidden: 16, options: MethodOptions(method: "top_p", ["experts": .int(4)]), rng: &rng)
        let (first, last) = trainRegression(layer, d: 6)
        XCTAssertLessThan(last, 0.3 * first, "task loss \(first) -> \(last)")
    }

    func testAnalyticFlopsMatchTheEngine() throws {
        for values: [String: OptionValue] in [["experts": .int(4)], ["experts": .int(8), "tau": .double(0.7), "k_max": .int(3)]] {
            let options = MethodOptions(method: "top_p", values)
            var rng = RNG(seed: 1)
            let layer = try DynamicTopP(d: 16, hidden: 32, options: options, rng: &rng)
            try checkAnalyticFlops(layer, DynamicTopP.self, d: 16, hidden: 32, options: options)
        }
        XCTAssertThrowsError(try DynamicTopP.forwardFlopsPerToken(d: 16, hidden: 32, options: MethodOptions(method: "top_p"),
                                                                  meanExperts: nil))
        let f = try DynamicTopP.forwardFlopsPerToken(d: 16, hidden: 32, options: MethodOptions(method: "top_p"), meanExperts: 1.76)
        XCTAssertEqual(f.expert, 1.76 * Double(4 * 16 * 32 + 2 * 32 + 3 * 16), accuracy: 1e-9)
    }

    func testOptionValidation() {
        var rng = RNG(seed: 1)
        for (key, value) in [("tau", OptionValue.double(1.5)), ("k_max", .int(0)), ("k_max", .string("two")),
                             ("entropy_beta", .double(-1)), ("capacity_factor_train", .double(1))] {
            XCTAssertThrowsError(try DynamicTopP(d: 4, hidden: 8, options: MethodOptions(method: "top_p", [key: value]), rng: &rng)) {
                XCTAssertEqual(($0 as? OptionError)?.key, key)
            }
        }
    }
}
