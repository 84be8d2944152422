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

    /// Outputs and gradients (x, gates, w1, b1, w2, b2) of `dispatchExperts` and of
    /// `dispatchReference` for the same random output gradient.
    func fusedAndReference(_ x: Tensor, _ plan: RoutingPlan, _ gates: Tensor, _ w: ExpertWeights) -> [[[Float]]] {
        let inputs = [x, gates] + w.all
        var results: [[[Float]]] = []
        for useReference in [false, true] {
            for t in inputs { t.requiresGrad = true; t.zeroGrad() }
            let y = useReference ? dispatchReference(x, plan: plan, gates: gates, weights: w)
                                 : dispatchExperts(x, plan: plan, gates: gates, weights: w)
            var rng = RNG(seed: 9)
            y.backward(seed: randomTensor(y.shape, &rng))
            results.append([y.scalars] + inputs.map { $0.grad!.scalars })
        }
        return results
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

    func testExpertSchedule() {
        // Loads 10, 0, 30, 20 (offsets 0, 10, 10, 40, 60): busiest first, empty experts
        // skipped; 30 rows of 60 on 2 threads is within the 1.25 x 30 share: concurrent.
        let s = ExpertSchedule(offsets: [0, 10, 10, 40, 60], threads: 2)
        XCTAssertEqual(s.order, [2, 3, 0])
        XCTAssertTrue(s.concurrent)
        // Ties keep expert order.
        XCTAssertEqual(ExpertSchedule(offsets: [0, 5, 10, 15], threads: 2).order, [0, 1, 2])
        // 38 of 60 rows > 37.5: one after the other, each GEMM split across the threads.
        XCTAssertFalse(ExpertSchedule(offsets: [0, 38, 60], threads: 2).concurrent)
        XCTAssertTrue(ExpertSchedule(offsets: [0, 37, 60], threads: 2).concurrent)
        // One thread, or a single expert with rows: never concurrent.
        XCTAssertFalse(ExpertSchedule(offsets: [0, 10, 20], threads: 1).concurrent)
        XCTAssertFalse(ExpertSchedule(offsets: [0, 0, 20, 20], threads: 2).concurrent)
        XCTAssertEqual(ExpertSchedule(offsets: [0, 0, 0], threads: 2).order, [])
    }

    func testConcurrentAndSequentialSchedulesMatchTheReference() {
        // Two threads: a balanced plan runs whole experts concurrently, a plan with one
        // expert holding most rows runs them one after the other with split GEMMs; both
        // give the loop-over-experts reference's outputs and gradients.
        EngineThreads.set(2)
        var rng = RNG(seed: 11)
        let T = 300, d = 16, h = 40, E = 4
        let w = ExpertWeights.initialised(experts: E, d: d, hidden: h, rng: &rng)
        let x = randomTensor([T, d], &rng)
        for skewed in [false, true] {
            let probs = (0..<(T * E)).map { i in skewed && i % E == 0 ? rng.uniform(2, 3) : rng.uniform(0.05, 1) }
            let plan = skewed ? Gating.top1(probs: probs, tokens: T, experts: E, capacity: T)
                              : Gating.top2(probs: probs, tokens: T, experts: E, capacity: T)
            var offsets = [Int](repeating: 0, count: E + 1)
            for a in plan.assignments where a.kept { offsets[a.expert + 1] += 1 }
            for e in 0..<E { offsets[e + 1] += offsets[e] }
            XCTAssertEqual(ExpertSchedule(offsets: offsets).concurrent, !skewed, "skewed \(skewed)")
            let gates = Tensor(shape: [plan.assignments.count], scalars: plan.assignments.map { _ in rng.uniform(0.1, 1) })
            let results = fusedAndReference(x, plan, gates, w)
            for (i, name) in ["y", "x", "gates", "w1", "b1", "w2", "b2"].enumerated() {
                assertClose(results[0][i], results[1][i], atol: 5e-5, rtol: 1e-4, "\(name) skewed \(skewed)")
            }
        }
    }

    func testFreshWeightGradientsZeroTheExpertsWithoutRows() {
        // Expert 2 never wins, so it has no rows. The weight gradients are assigned into fresh
        // buffers, which may be recycled blocks. Blocks of exactly their size are freed
        // full of NaN first, so a slice that is not written shows up as NaN rather than
        // zero. A second call into the same buffers adds to them.
        let T = 90, d = 64, h = 260, E = 4
        var rng = RNG(seed: 21)
        let w = ExpertWeights.initialised(experts: E, d: d, hidden: h, rng: &rng)
        let x = randomTensor([T, d], &rng)
        let probs = (0..<(T * E)).map { i in i % E == 2 ? Float(0.01) : rng.uniform(0.1, 1) }
        let plan = Gating.top2(probs: probs, tokens: T, experts: E, capacity: T)
        XCTAssertFalse(plan.assignments.contains { $0.kept && $0.expert == 2 })
        let gates = Tensor(shape: [plan.assignments.count], scalars: plan.assignments.map { _ in rng.uniform(0.1, 1) })
        for _ in 0..<2 { _ = Tensor(shape: [E, d, h], scalars: [Float](repeating: .nan, count: E * d * h)) }
        let results = fusedAndReference(x, plan, gates, w)
        for (i, name) in ["y", "x", "gates", "w1", "b1", "w2", "b2"].enumerated() {
            assertClose(results[0][i], results[1][i], atol: 5e-5, rtol: 1e-4, name)
        }
        for t in [w.w1, w.w2] {
            t.zeroGrad()
            for _ in 0..<2 { _ = Tensor(shape: [E, d, h], scalars: [Float](repeating: .nan, count: E * d * h)) }
        }
        var seedRng = RNG(seed: 9)
        let seed = randomTensor([T, d], &seedRng)
        dispatchExperts(x, plan: plan, gates: gates, weights: w).backward(seed: seed)
        let once = [w.w1.grad!.scalars, w.w2.grad!.scalars]
        for g in once {
            XCTAssertEqual(g[(2 * d * h)..<(3 * d * h)].filter { $0 != 0 }.count, 0, "expert 2's slice is zero")
            XCTAssertFalse(g.contains { !$0.isFinite })
        }
        dispatchExperts(x, plan: plan, gates: gates, weights: w).backward(seed: seed)
        for (g, g1) in zip([w.w1.grad!.scalars, w.w2.grad!.scalars], once) {
            assertClose(g, g1.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "second call accumulates")
        }
    }

    func testExpApproximation() {
        var worstExp = 0.0
        var v: Float = -9
        while v <= 0 {
            let e = exp(Double(v))
            worstExp = max(worstExp, abs(Double(expNonPositive(v)) - e) / e)
            v += 0.001
        }
        XCTAssertLessThan(worstExp, 4e-7)
        XCTAssertEqual(expNonPositive(0), 1)
        XCTAssertLessThan(expNonPositive(-1000), 1e-37)
    }

    func testNormalCDFAndGaussianAndTheFusedBiasGELU() {
        // Against float64 over [-9, 9]: Φ within 3e-7 absolute, the Gaussian e^(-x²/2)
        // within 1e-5 relative (x²/2 up to 40 rounded in float32); GELU and its derivative
        // (bias added first) within 5e-7 absolute.
        var worstCDF = 0.0, worstGauss = 0.0, worstGELU = 0.0, worstDeriv = 0.0
        var xs: [Float] = []
        var v: Float = -9
        while v <= 9 { xs.append(v); v += 0.001 }
        for x in xs {
            let (cdf, gauss) = normalCDFAndGaussian(x)
            let d = Double(x), g = exp(-d * d / 2)
            worstCDF = max(worstCDF, abs(Double(cdf) - 0.5 * erfc(-d / 2.0.squareRoot())))
            worstGauss = max(worstGauss, abs(Double(gauss) - g) / g)
        }
        let bias = xs.indices.map { Float($0 % 7) * 0.25 - 0.75 }
        let z0 = zip(xs, bias).map { $0 - $1 }
        var z = z0
        var act = [Float](repeating: 0, count: xs.count), actOnly = act
        z0.withUnsafeBufferPointer { biasGELU($0.baseAddress!, bias, &actOnly, xs.count) }
        z.withUnsafeMutableBufferPointer { biasGELUKeepingDerivative($0.baseAddress!, bias, &act, xs.count) }
        for i in xs.indices {
            let x = Double(z0[i] + bias[i])   // the value the kernels see
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            worstGELU = max(worstGELU, abs(Double(act[i]) - x * cdf))
            worstDeriv = max(worstDeriv, abs(Double(z[i]) - (cdf + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot())))
            XCTAssertEqual(act[i].bitPattern, actOnly[i].bitPattern)
        }
        XCTAssertLessThan(worstCDF, 3e-7)
        XCTAssertLessThan(worstGauss, 1e-5)
        XCTAssertLessThan(worstGELU, 5e-7)
        XCTAssertLessThan(worstDeriv, 5e-7)
        XCTAssertEqual(normalCDFAndGaussian(0).cdf, 0.5, accuracy: 1e-7)
        XCTAssertLessThan(normalCDFAndGaussian(-40).cdf, 1e-37)
        XCTAssertEqual(normalCDFAndGaussian(40).cdf, 1)
    }

    func testFusedPathEqualsLoopOverExpertsReference() {
        let (x, plan, gates, w) = makeCase(T: 40, d: 6, h: 12, E: 5, seed: 6)
        XCTAssertGreaterThan(plan.droppedCount, 0)
        let results = fusedAndReference(x, plan, gates, w)
        let names = ["y", "x", "gates", "w1", "b1", "w2", "b2"]
        for i in 0..<names.count {
            assertClose(results[0][i], results[1][i], atol: 2e-5, rtol: 1e-4, names[i])
        }
    }
}

// MARK: Helpers shared by the method tests.

/// `W2_e gelu(W1_e x + b1_e) + b2_e` for one token in float64 from a module's stacked
/// expert weights.
func expertOutput(_ w: ExpertWeights, expert e: Int, _ x: [Float]) -> [Double] {
    let d = w.d, h = w.hidden
    let w1 = w.w1.scalars, b1 = w.b1.scalars, w2 = w.w2.scalars, b2 = w.b2.scalars
    var act = [Double](repeating: 0, count: h)
    for j in 0..<h {
        var z = Double(b1[e * h + j])
        for k in 0..<d { z += Double(x[k]) * Double(w1[(e * d + k) * h + j]) }
        act[j] = 0.5 * z * (1 + erf(z / 2.0.squareRoot()))
    }
    return (0..<d).map { k in
        var y = Double(b2[e * d + k])
        for j in 0..<h { y += act[j] * Double(w2[(e * h + j) * d + k]) }
        return y
    }
}

/// Row-wise softmax in float64 of `x · W` for `x: [T, d]`, `W: [d, E]`.
func softmaxRows(_ x: Tensor, _ w: Tensor) -> [[Double]] {
    let T = x.shape[0], d = x.shape[1], E = w.shape[1]
    let xs = x.scalars, ws = w.scalars
    return (0..<T).map { t in
        let l = (0..<E).map { e in (0..<d).reduce(0.0) { $0 + Double(xs[t * d + $1]) * Double(ws[$1 * E + e]) } }
        let m = l.max()!
        let z = l.map { exp($0 - m) }
        let s = z.reduce(0, +)
        return z.map { $0 / s }
    }
}

/// Trains `layer` on a small fixed regression task (`y* = tanh(x A) B`, `x: [T, d]`) with
/// Adam, minimising MSE plus the layer's auxiliary loss. Returns the task loss before
/// training and the mean over the last 10 steps.
func trainRegression(_ layer: Module & FFNLayer, d: Int, tokens T: Int = 64, steps: Int = 200,
                     lr: Float = 0.01, seed: UInt64 = 7) -> (first: Float, last: Float) {
    var rng = RNG(seed: seed)
    let x = randomTensor([T, d], &rng)
    let a = randomTensor([d, d], &rng, -2, 2), b = randomTensor([d, d], &rng)
    let target = Autograd.noGrad { () -> Tensor in
        let ha = matmul(x, a)
        let th = Tensor(shape: ha.shape, scalars: ha.scalars.map { tanhf($0) })
        return matmul(th, b)
    }
    let opt = Adam(layer.parameters(), lr: lr)
    var ctx = RoutingContext(training: true, rng: RNG(seed: seed), sequenceOffsets: [0, T])
    var first: Float = 0, tail: [Float] = []
    for step in 0..<steps {
        opt.zeroGrad()
        let out = layer.forward(x, layer: 0, context: &ctx)
        let task = mseLoss(out.y, target)
        let loss = out.auxLoss.map { task + $0 } ?? task
        loss.backward()
        opt.step()
        if step == 0 { first = task.item }
        if step >= steps - 10 { tail.append(task.item) }
    }
    return (first, tail.reduce(0, +) / Float(tail.count))
}

/// Runs one forward pass in evaluation mode under a FLOP counter and checks the router and
/// expert lines of the analytic count (per token, times T) within 1%.
func checkAnalyticFlops(_ layer: FFNLayer, _ type: FFNFlopsModel.Type, d: Int, hidden: Int,
                        options: MethodOptions, tokens T: Int = 48, seed: UInt64 = 3,
                        file: StaticString = #filePath, line: UInt = #line) throws {
    var rng = RNG(seed: seed)
    let x = randomTensor([T, d], &rng)
    let counter = FlopCounter()
    var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [0, T])
    let out = Flops.counting(into: counter) { Autograd.noGrad { layer.forward(x, layer: 0, context: &ctx) } }
    let kept = out.stats.assignedPerUnit.reduce(0, +) - out.stats.dropped
    let analytic = try type.forwardFlopsPerToken(d: d, hidden: hidden, options: options,
                                                 meanExperts: Double(kept) / Double(T))
    let router = Double(counter.forward(.router)), expert = Double(counter.forward(.expert))
    XCTAssertEqual(router, analytic.router * Double(T), accuracy: 0.01 * router, "router line", file: file, line: line)
    XCTAssertEqual(expert, analytic.expert * Double(T), accuracy: 0.01 * max(expert, 1), "expert line", file: file, line: line)
    XCTAssertEqual(Double(counter.forwardTotal), router + expert, "only router and expert FLOPs", file: file, line: line)
}
