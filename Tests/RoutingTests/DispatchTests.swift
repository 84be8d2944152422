import Foundation
import Routing
import TestSupport
import XCTest

/// The fused dispatch/combine path against a plain per-assignment loop in float64 and
/// against finite differences.
final class DispatchTests: XCTestCase {
    /// `y_t = sum_{kept a of t} gate_a · (W2_e gelu(W1_e x_t + b1_e) + b2_e)` in float64.
    func naive(_ x: Tensor, _ plan: RoutingPlan, _ gates: [Float], _ w: ExpertWeights) -> [Float] {
        let T = x.shape[0], d = w.d, h = w.hidden
        var out = [Double](repeating: 0, count: T * d)
        let x_ = x.scalars, w1 = w.w1.scalars, b1 = w.b1.scalars, w2 = w.w2.scalars, b2 = w.b2.scalars
        for (i, a) in plan.assignments.enumerated() where a.kept {
            let e = a.expert
            var act = [Double](repeating: 0, count: h)
            for j in 0..<h {
                var z = Double(b1[e * h + j])
                for k in 0..<d { z += Double(x_[a.token * d + k]) * Double(w1[(e * d + k) * h + j]) }
                act[j] = 0.5 * z * (1 + erf(z / 2.0.squareRoot()))
            }
            for k in 0..<d {
                var y = Double(b2[e * d + k])
                for j in 0..<h { y += act[j] * Double(w2[(e * h + j) * d + k]) }
                out[a.token * d + k] += Double(gates[i]) * y
            }
        }
        return out.map { Float($0) }
    }

    func makeCase(T: Int, d: Int, h: Int, E: Int, seed: UInt64) -> (Tensor, RoutingPlan, Tensor, ExpertWeights) {
        var rng = RNG(seed: seed)
        let x = randomTensor([T, d], &rng)
        let w = ExpertWeights.initialised(experts: E, d: d, hidden: h, rng: &rng)
        // Top-2 with a small capacity so that some assignments are dropped.
        let probs = (0..<(T * E)).map { _ in rng.uniform(0.05, 1) }
        let plan = Gating.top2(probs: probs, tokens: T, experts: E, capacity: max(1, T / E))
        let gates = Tensor(shape: [plan.assignments.count], scalars: plan.assignments.map { _ in rng.uniform(0.1, 1) })
        return (x, plan, gates, w)
    }

    func testForwardMatchesPerAssignmentLoop() {
        let (x, plan, gates, w) = makeCase(T: 13, d: 6, h: 10, E: 4, seed: 1)
        XCTAssertGreaterThan(plan.droppedCount, 0)
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: w)
        XCTAssertEqual(y.shape, [13, 6])
        assertClose(y.scalars, naive(x, plan, gates.scalars, w), atol: 1e-5)
        // Tokens with every assignment dropped get zeros.
        for t in 0..<13 where !plan.assignments[plan.tokenOffsets[t]..<plan.tokenOffsets[t + 1]].contains(where: \.kept) {
            XCTAssertEqual(Array(y.scalars[(t * 6)..<(t * 6 + 6)]), [Float](repeating: 0, count: 6))
        }
    }

    func testGradientsToInputsExpertsAndGates() {
        let (x, plan, gates, w) = makeCase(T: 7, d: 3, h: 5, E: 3, seed: 2)
        checkGradients([x, gates, w.w1, w.b1, w.w2, w.b2], step: 1e-2) { t in
            dispatchExperts(t[0], plan: plan, gates: t[1],
                            weights: ExpertWeights(w1: t[2], b1: t[3], w2: t[4], b2: t[5]))
        }
    }

    func testGradientsWithFrozenExperts() {
        let (x, plan, gates, w) = makeCase(T: 6, d: 3, h: 4, E: 2, seed: 3)
        for t in w.all { t.requiresGrad = false }
        checkGradients([x, gates]) { t in dispatchExperts(t[0], plan: plan, gates: t[1], weights: w) }
        for t in w.all { XCTAssertNil(t.gradStorage) }
    }

    func testFlopCount() {
        let (x, plan, gates, w) = makeCase(T: 9, d: 4, h: 8, E: 3, seed: 4)
        x.requiresGrad = true
        gates.requiresGrad = true
        let counter = FlopCounter()
        let y = Flops.counting(into: counter) { dispatchExperts(x, plan: plan, gates: gates, weights: w) }
        XCTAssertEqual(counter.forward(.expert), plan.keptCount * (4 * 4 * 8 + 2 * 8 + 3 * 4))
        XCTAssertEqual(counter.forwardTotal, counter.forward(.expert))
        Flops.counting(into: counter) { y.backward() }
        // GEMMs 8·N·d·h; biases N·(h + d), GELU' N·h, gate scaling N·d, gate dots 2·N·d, scatter N·d.
        let n = plan.keptCount
        XCTAssertEqual(counter.backward(.expert), n * (8 * 4 * 8 + 8 + 4 + 8 + 4 + 2 * 4 + 4))
    }

    func testLargeBatchTakesTheParallelPathsAndMatches() {
        // Enough rows for the multi-threaded gather, GELU and combine loops.
        let (x, plan, gates, w) = makeCase(T: 700, d: 8, h: 24, E: 4, seed: 5)
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: w)
        assertClose(y.scalars, naive(x, plan, gates.scalars, w), atol: 2e-5)
    }

    func testErfAndExpApproximations() {
        var worstErf = 0.0, worstExp = 0.0
        var v: Float = -9
        while v <= 9 {
            worstErf = max(worstErf, abs(Double(erfApprox(v)) - erf(Double(v))))
            if v <= 0 {
                let e = exp(Double(v))
                worstExp = max(worstExp, abs(Double(expNonPositive(v)) - e) / e)
            }
            v += 0.001
        }
        XCTAssertLessThan(worstErf, 6e-7)
        XCTAssertLessThan(worstExp, 4e-7)
        XCTAssertEqual(expNonPositive(0), 1)
        XCTAssertLessThan(expNonPositive(-1000), 1e-37)
    }
}
