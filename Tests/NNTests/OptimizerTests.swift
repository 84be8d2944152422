import Foundation
import NN
import TestSupport
import XCTest

/// Every case: one parameter p0 = [1, -2], gradient g1 = [0.5, -1] at the first step and
/// g2 = [0.25, 2] at the second, lr = 0.1. Expected values are worked out by hand below.
final class OptimizerTests: XCTestCase {
    let g1: [Float] = [0.5, -1]
    let g2: [Float] = [0.25, 2]

    func parameter() -> Tensor { Tensor(shape: [2], scalars: [1, -2], requiresGrad: true) }

    /// Sets `p`'s gradient to `g` and steps.
    func step(_ opt: Optimizer, _ p: Tensor, _ g: [Float]) {
        opt.zeroGrad()
        let gp = p.gradPointer()
        for i in 0..<g.count { gp[i] = g[i] }
        opt.step()
    }

    func testSGDPlainWithWeightDecay() {
        // d = g + 0.5·p; p -= 0.1·d.
        // step 1: d = [0.5 + 0.5, -1 - 1] = [1, -2]        -> p = [0.9, -1.8]
        // step 2: d = [0.25 + 0.45, 2 - 0.9] = [0.7, 1.1]  -> p = [0.83, -1.91]
        let p = parameter()
        let opt = SGD([p], lr: 0.1, weightDecay: 0.5)
        step(opt, p, g1)
        assertClose(p, [0.9, -1.8], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.83, -1.91], atol: 1e-6)
        XCTAssertEqual(opt.stateTensors().count, 0)
    }

    func testSGDMomentum() {
        // momentum 0.9 (PyTorch: the first buffer is the gradient itself).
        // step 1: buf = g1 = [0.5, -1]; p = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
        // step 2: buf = 0.9·[0.5, -1] + [0.25, 2] = [0.7, 1.1]; p = [0.95 - 0.07, -1.9 - 0.11] = [0.88, -2.01]
        let p = parameter()
        let opt = SGD([p], lr: 0.1, momentum: 0.9)
        step(opt, p, g1)
        assertClose(p, [0.95, -1.9], atol: 1e-6)
        assertClose(opt.stateTensors()[0].1, [0.5, -1], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.88, -2.01], atol: 1e-6)
        assertClose(opt.stateTensors()[0].1, [0.7, 1.1], atol: 1e-6)
        XCTAssertEqual(opt.stateTensors()[0].0, "momentum_buffer.0")
    }

    func testSGDNesterovWithWeightDecay() {
        // momentum 0.9, Nesterov, weight decay 0.5.
        // step 1: d = g1 + 0.5·p0 = [1, -2]; buf = [1, -2]; d = d + 0.9·buf = [1.9, -3.8]
        //         p = [1 - 0.19, -2 + 0.38] = [0.81, -1.62]
        // step 2: d = g2 + 0.5·p1 = [0.25 + 0.405, 2 - 0.81] = [0.655, 1.19]
        //         buf = 0.9·[1, -2] + d = [1.555, -0.61]
        //         d = d + 0.9·buf = [0.655 + 1.3995, 1.19 - 0.549] = [2.0545, 0.641]
        //         p = [0.81 - 0.20545, -1.62 - 0.0641] = [0.60455, -1.6841]
        let p = parameter()
        let opt = SGD([p], lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.5)
        step(opt, p, g1)
        assertClose(p, [0.81, -1.62], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.60455, -1.6841], atol: 1e-6)
    }

    func testSGDDampening() {
        // momentum 0.9, dampening 0.5: buf2 = 0.9·g1 + 0.5·g2 = [0.45 + 0.125, -0.9 + 1] = [0.575, 0.1]
        // p1 = [0.95, -1.9] (first buffer is g1, undampened); p2 = [0.95 - 0.0575, -1.9 - 0.01] = [0.8925, -1.91]
        let p = parameter()
        let opt = SGD([p], lr: 0.1, momentum: 0.9, dampening: 0.5)
        step(opt, p, g1)
        step(opt, p, g2)
        assertClose(p, [0.8925, -1.91], atol: 1e-6)
    }

    func testAdam() {
        // β1 = 0.9, β2 = 0.999, eps = 1e-8.
        // step 1: m = 0.1·g1 = [0.05, -0.1]; v = 0.001·g1² = [0.00025, 0.001]
        //         m̂ = m / (1 - 0.9) = g1; sqrt(v̂) = sqrt(v / (1 - 0.999)) = |g1|
        //         p = p0 - 0.1·g1/(|g1| + 1e-8) = [0.9, -1.9] (to 1e-9)
        // step 2: m = 0.9·[0.05, -0.1] + 0.1·[0.25, 2] = [0.07, 0.11]
        //         v = 0.999·[0.00025, 0.001] + 0.001·[0.0625, 4] = [0.00031225, 0.004999]
        //         1 - 0.9² = 0.19, 1 - 0.999² = 0.001999
        //         m̂ = [0.368421, 0.578947]; sqrt(v̂) = [sqrt(0.156203), sqrt(2.500750)] = [0.395225, 1.581376]
        //         p = [0.9 - 0.1·0.368421/0.395225, -1.9 - 0.1·0.578947/1.581376]
        //           = [0.9 - 0.0932180, -1.9 - 0.0366103] = [0.806782, -1.936610]
        let p = parameter()
        let opt = Adam([p], lr: 0.1)
        step(opt, p, g1)
        assertClose(p, [0.9, -1.9], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.806782, -1.936610], atol: 2e-6)
        let state = opt.stateTensors()
        XCTAssertEqual(state.map { $0.0 }, ["exp_avg.0", "exp_avg_sq.0"])
        assertClose(state[0].1, [0.07, 0.11], atol: 1e-7)
        // 1 − β2 is computed from the float32 β2 (0.99900001), which is 1.3e-5 off relative.
        assertClose(state[1].1, [0.00031225, 0.004999], atol: 1e-9, rtol: 3e-5)
        XCTAssertEqual(opt.state.paramSteps, [2])
    }

    func testAdamCoupledWeightDecay() {
        // L2 weight decay 0.5 enters the gradient: d = g + 0.5·p.
        // step 1: d = [1, -2]; m̂ = d, sqrt(v̂) = |d|      -> p = [0.9, -1.9]
        // step 2: d = [0.25 + 0.45, 2 - 0.95] = [0.7, 1.05]
        //         m = 0.9·[0.1, -0.2] + 0.1·[0.7, 1.05] = [0.16, -0.075]
        //         v = 0.999·[0.001, 0.004] + 0.001·[0.49, 1.1025] = [0.001489, 0.0050985]
        //         m̂ = m/0.19 = [0.842105, -0.394737]; sqrt(v̂) = sqrt(v/0.001999) = [0.863060, 1.597036]
        //         p = [0.9 - 0.0975720, -1.9 + 0.0247168] = [0.802428, -1.875283]
        let p = parameter()
        let opt = Adam([p], lr: 0.1, weightDecay: 0.5)
        step(opt, p, g1)
        assertClose(p, [0.9, -1.9], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.802428, -1.875283], atol: 2e-6)
    }

    func testAdamWDecoupledWeightDecay() {
        // Decay first, p *= 1 - 0.1·0.5 = 0.95, then Adam on the raw gradient.
        // step 1: p = [0.95, -1.9]; Adam moves by -0.1·sign(g1) -> [0.85, -1.8]
        // step 2: p = 0.95·[0.85, -1.8] = [0.8075, -1.71]; the Adam step is that of plain
        //         Adam, [-0.0932180, -0.0366103]               -> [0.714282, -1.746610]
        let p = parameter()
        let opt = AdamW([p], lr: 0.1, weightDecay: 0.5)
        step(opt, p, g1)
        assertClose(p, [0.85, -1.8], atol: 1e-6)
        step(opt, p, g2)
        assertClose(p, [0.714282, -1.746610], atol: 2e-6)
        XCTAssertEqual(AdamW([parameter()]).weightDecay, 0.01)   // PyTorch's default
    }

    func testLearningRateSetPerStep() {
        // SGD without momentum: step 1 at lr 0.1, step 2 at lr 1.
        // p1 = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]; p2 = [0.95 - 0.25, -1.9 - 2] = [0.7, -3.9]
        let p = parameter()
        let opt = SGD([p], lr: 0.1)
        step(opt, p, g1)
        opt.lr = 1
        step(opt, p, g2)
        assertClose(p, [0.7, -3.9], atol: 1e-6)
    }

    func testParametersWithoutGradientAreSkipped() {
        // The second parameter gets a gradient only at step 2, so that is its first Adam
        // step (bias correction at t = 1): it moves by exactly -lr·sign(g).
        let a = parameter(), b = parameter()
        let opt = Adam([a, b], lr: 0.1)
        a.gradPointer()[0] = 1
        opt.step()
        assertClose(b, [1, -2], atol: 0)
        XCTAssertEqual(opt.state.paramSteps, [1, 0])
        opt.zeroGrad()
        a.gradPointer()[0] = 1
        let gb = b.gradPointer()
        gb[0] = 0.5; gb[1] = -1
        opt.step()
        assertClose(b, [0.9, -1.9], atol: 1e-6)
        XCTAssertEqual(opt.state.paramSteps, [2, 1])
        XCTAssertEqual(opt.stepCount, 2)
    }

    func testGradientsAreNotModified() {
        let p = parameter()
        let opt = AdamW([p], lr: 0.1)
        step(opt, p, g1)
        XCTAssertEqual(p.grad!.scalars, g1)
    }

    func testStateSaveAndRestoreContinuesIdentically() throws {
        // Run A: four steps. Run B: two steps, state copied into a fresh optimizer over a
        // copy of the parameter, then two more steps. Both end bit-identical.
        let grads: [[Float]] = [g1, g2, [-0.3, 0.7], [1.5, -0.2]]
        let pa = parameter()
        let a = Adam([pa], lr: 0.05, weightDecay: 0.1)
        for g in grads { step(a, pa, g) }

        let pb = parameter()
        let b = Adam([pb], lr: 0.05, weightDecay: 0.1)
        for g in grads[0..<2] { step(b, pb, g) }
        let pc = Tensor(shape: [2], scalars: pb.scalars, requiresGrad: true)
        let c = Adam([pc], lr: 0.05, weightDecay: 0.1)
        try c.load(state: b.state)
        for ((_, dst), (_, src)) in zip(c.stateTensors(), b.stateTensors()) {
            dst.data.update(from: src.data, count: src.count)
        }
        for g in grads[2...] { step(c, pc, g) }
        XCTAssertEqual(pc.scalars, pa.scalars)
        XCTAssertEqual(c.stepCount, 4)

        // Mismatched counters are rejected.
        XCTAssertThrowsError(try SGD([pc], lr: 0.1).load(state: b.state))
        XCTAssertThrowsError(try Adam([pc, parameter()]).load(state: b.state))
        var bad = b.state
        bad.paramSteps = [7]
        XCTAssertThrowsError(try Adam([pc]).load(state: bad))
    }
}

/// Parameter groups: a learning rate and weight decay per group, found by name.
final class ParameterGroupTests: XCTestCase {
    func setGrad(_ p: Tensor, _ g: [Float]) {
        let gp = p.gradPointer()
        for i in 0..<g.count { gp[i] = g[i] }
    }

    func testAdamWStepWithTwoGroups() {
        // AdamW, beta1 0.9, beta2 0.999, eps 1e-8, first step: m = 0.1·g, v = 0.001·g²,
        // m̂ = g, v̂ = g², so the Adam step is lr · g / (|g| + 1e-8) = lr · sign(g)
        // (to 2e-8 relative for these gradients); decoupled decay first: p · (1 − lr·wd).
        //
        // "gate.weight" is in group "gate" (lr 0.1, wd 0.1): decay 1 − 0.01 = 0.99
        //   p = [1, -2], g = [0.5, -0.25] -> [0.99 − 0.1, -1.98 + 0.1] = [0.89, -1.88]
        // "encoder.w" is in the default group (lr 0.01, wd 0.01): decay 1 − 1e-4 = 0.9999
        //   p = [2], g = [1] -> 1.9998 − 0.01 = 1.9898
        let gate = Tensor(shape: [2], scalars: [1, -2], requiresGrad: true)
        let enc = Tensor(shape: [1], scalars: [2], requiresGrad: true)
        let opt = AdamW([enc, gate], lr: 0.01, weightDecay: 0.01)
        opt.setGroups([ParameterGroup(name: "gate", prefixes: ["gate."], lr: 0.1, weightDecay: 0.1)],
                      names: ["encoder.w", "gate.weight"])
        XCTAssertEqual(opt.groupOfParam, [nil, 0])
        setGrad(gate, [0.5, -0.25]); setGrad(enc, [1])
        opt.step()
        assertClose(gate, [0.89, -1.88], atol: 1e-6)
        assertClose(enc, [1.9898], atol: 1e-6)
    }

    func testScheduleScalesGroupLearningRates() {
        // The schedule halves the optimizer's lr (0.01 -> 0.005): the group's lr halves too,
        // 0.1 -> 0.05, with wd 0.1: decay 1 − 0.005 = 0.995; p = [1], g = [3]
        //   -> 0.995 − 0.05 = 0.945. The default group: lr 0.005, wd 0.01, p = [2], g = [-1]
        //   -> 2·(1 − 5e-5) + 0.005 = 2.0049.
        let gate = Tensor(shape: [1], scalars: [1], requiresGrad: true)
        let enc = Tensor(shape: [1], scalars: [2], requiresGrad: true)
        let opt = AdamW([gate, enc], lr: 0.01, weightDecay: 0.01)
        opt.setGroups([ParameterGroup(name: "gate", contains: ["gate"], lr: 0.1, weightDecay: 0.1)],
                      names: ["layers.0.gate.weight", "layers.0.w"])
        opt.lr = 0.005
        XCTAssertEqual(opt.lr(for: 0), 0.05, accuracy: 1e-9)
        setGrad(gate, [3]); setGrad(enc, [-1])
        opt.step()
        assertClose(gate, [0.945], atol: 1e-6)
        assertClose(enc, [2.0049], atol: 1e-6)
    }

    func testFirstMatchingGroupWinsAndWeightDecayAlone() {
        let groups = [ParameterGroup(name: "router", contains: ["router"], lr: 1e-3),
                      ParameterGroup(name: "experts", prefixes: ["layers."], lr: 1e-4, weightDecay: 0)]
        XCTAssertEqual(ParameterGroup.assign(groups, names: ["layers.1.router.weight", "layers.1.experts.w1", "head.weight"]),
                       [0, 1, nil])
        // A group setting only the weight decay keeps the optimizer's lr.
        let p = Tensor(shape: [1], scalars: [1], requiresGrad: true)
        let opt = SGD([p], lr: 0.1, weightDecay: 0.5)
        opt.setGroups([ParameterGroup(name: "nodecay", prefixes: ["p"], weightDecay: 0)], names: ["p"])
        setGrad(p, [1])
        opt.step()
        assertClose(p, [0.9], atol: 1e-7)   // 1 − 0.1·1, no decay
    }

    /// Without groups (or with groups no parameter matches) every update is bit-identical
    /// to the optimizer's own.
    func testNoGroupsIsBitIdentical() {
        for kind in ["sgd", "adam", "adamw"] {
            func make(_ ps: [Tensor]) -> Optimizer {
                switch kind {
                case "sgd": return SGD(ps, lr: 0.03, momentum: 0.9, weightDecay: 0.01)
                case "adam": return Adam(ps, lr: 0.003, weightDecay: 0.01)
                default: return AdamW(ps, lr: 0.003, weightDecay: 0.05)
                }
            }
            var rng = RNG(seed: 7)
            let init0 = (0..<3).map { _ in (0..<5).map { _ in rng.uniform(-1, 1) } }
            let a = init0.map { Tensor(shape: [5], scalars: $0, requiresGrad: true) }
            let b = init0.map { Tensor(shape: [5], scalars: $0, requiresGrad: true) }
            let c = init0.map { Tensor(shape: [5], scalars: $0, requiresGrad: true) }
            let oa = make(a), ob = make(b), oc = make(c)
            oc.setGroups([ParameterGroup(name: "none", prefixes: ["nothing."], lr: 1, weightDecay: 1)],
                         names: ["x", "y", "z"])
            for s in 0..<4 {
                let lr = Float(s + 1) * 0.001
                for o in [oa, ob, oc] { o.lr = lr }
                for k in 0..<3 {
                    let g = (0..<5).map { _ in rng.uniform(-0.5, 0.5) }
                    setGrad(a[k], g); setGrad(b[k], g); setGrad(c[k], g)
                }
                oa.step(); ob.step(); oc.step()
                for o in [oa, ob, oc] { o.zeroGrad() }
            }
            if kind == "adamw" {
                // The update as written before groups existed, operation for operation.
                var rr = RNG(seed: 7)
                var p = (0..<3).map { _ in (0..<5).map { _ in rr.uniform(-1, 1) } }
                var m = p.map { $0.map { _ in Float(0) } }, v = m
                for s in 0..<4 {
                    let lr = Float(s + 1) * 0.001, wd: Float = 0.05, b1: Float = 0.9, b2: Float = 0.999
                    let bc1 = 1 - Foundation.pow(Double(b1), Double(s + 1)), bc2 = 1 - Foundation.pow(Double(b2), Double(s + 1))
                    let stepSize = Float(Double(lr) / bc1), bc2Sqrt = Float(bc2.squareRoot())
                    for k in 0..<3 {
                        let g = (0..<5).map { _ in rr.uniform(-0.5, 0.5) }
                        for j in 0..<5 {
                            p[k][j] *= 1 - lr * wd
                            m[k][j] += (1 - b1) * (g[j] - m[k][j])
                            v[k][j] = b2 * v[k][j] + (1 - b2) * g[j] * g[j]
                            p[k][j] -= stepSize * (m[k][j] / (v[k][j].squareRoot() / bc2Sqrt + 1e-8))
                        }
                    }
                }
                for k in 0..<3 {
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: c[k].data, count: 5)).map(\.bitPattern), p[k].map(\.bitPattern))
                }
            }
            for k in 0..<3 {
                let va = Array(UnsafeBufferPointer(start: a[k].data, count: 5))
                XCTAssertEqual(va.map(\.bitPattern), Array(UnsafeBufferPointer(start: b[k].data, count: 5)).map(\.bitPattern), kind)
                XCTAssertEqual(va.map(\.bitPattern), Array(UnsafeBufferPointer(start: c[k].data, count: 5)).map(\.bitPattern), kind)
            }
        }
    }
}
