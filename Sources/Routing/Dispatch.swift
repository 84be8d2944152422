import Foundation

/// The shared dispatch/combine path of every FFN-slot routing method.
///
/// Routing is a counting sort (MegaBlocks / torchtitan): kept assignments are grouped by
/// expert with a per-expert histogram and its prefix sum, the token rows are gathered into
/// one contiguous `[N, d]` buffer in that order, each expert runs one GEMM pair on its
/// contiguous slice of rows, and the outputs are scatter-added back to `[T, d]` weighted by
/// their gates. Forward and backward are written directly on `sgemm`.

/// The stacked weights of `E` expert FFNs `y = W2_e gelu(W1_e x + b1_e) + b2_e`:
/// `w1: [E, d, h]`, `b1: [E, h]`, `w2: [E, h, d]`, `b2: [E, d]` (row-major, so expert `e`'s
/// matrices are contiguous slices).
public struct ExpertWeights {
    public var w1: Tensor
    public var b1: Tensor
    public var w2: Tensor
    public var b2: Tensor

    public init(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) {
        precondition(w1.rank == 3 && w2.rank == 3, "expert weights must be [E, d, h] and [E, h, d]")
        let e = w1.shape[0], d = w1.shape[1], h = w1.shape[2]
        precondition(w2.shape == [e, h, d] && b1.shape == [e, h] && b2.shape == [e, d],
                     "expert weight shapes disagree: w1 \(w1.shape), b1 \(b1.shape), w2 \(w2.shape), b2 \(b2.shape)")
        self.w1 = w1
        self.b1 = b1
        self.w2 = w2
        self.b2 = b2
    }

    public var experts: Int { w1.shape[0] }
    public var d: Int { w1.shape[1] }
    public var hidden: Int { w1.shape[2] }
    public var all: [Tensor] { [w1, b1, w2, b2] }

    /// PyTorch `nn.Linear` initialisation per expert: weights and biases
    /// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (fan_in `d` for the first layer, `h` for the second).
    public static func initialised(experts: Int, d: Int, hidden: Int, rng: inout RNG) -> ExpertWeights {
        let a1 = 1 / Float(d).squareRoot(), a2 = 1 / Float(hidden).squareRoot()
        let w = ExpertWeights(w1: Tensor.uniform([experts, d, hidden], -a1, a1, rng: &rng),
                              b1: Tensor.uniform([experts, hidden], -a1, a1, rng: &rng),
                              w2: Tensor.uniform([experts, hidden, d], -a2, a2, rng: &rng),
                              b2: Tensor.uniform([experts, d], -a2, a2, rng: &rng))
        for t in w.all { t.requiresGrad = true }
        return w
    }
}

/// Forward FLOPs of the expert FFNs per kept assignment: the two GEMMs (`4·d·h`), the
/// biases (`h + d`), GELU (`h`) and the weighted combine (`2·d`).
@inline(__always)
public func expertFlopsPerAssignment(d: Int, hidden h: Int) -> Int { 4 * d * h + 2 * h + 3 * d }

/// Runs the experts on the kept assignments of `plan` and combines their outputs:
/// `y_t = sum_{a kept, token(a) = t} gates_a · (W2_e gelu(W1_e x_t + b1_e) + b2_e)`, `e = expert(a)`.
///
/// - `x: [T, d]`, `gates: [A]` aligned with `plan.assignments` (dropped entries are
///   ignored and get no gradient), weights as in `ExpertWeights`. Returns `[T, d]`; tokens
///   with no kept assignment get zeros.
/// - Gradients flow to `x`, `gates` and every expert weight.
/// - FLOPs (category `.expert`): forward `N·(4dh + 2h + 3d)` for `N` kept assignments;
///   backward `8·N·d·h` for the GEMMs (less when `x` or weights need no gradient) plus
///   `N·(3h + 5d)` for biases, GELU', gate scaling, gate dot products and the scatter.
public func dispatchExperts(_ x: Tensor, plan: RoutingPlan, gates: Tensor, weights: ExpertWeights) -> Tensor {
    Flops.withCategory(.expert) { dispatchKernel(x, plan, gates, weights) }
}

/// GELU, erf form: `gelu(z) = z·Φ(z)`, `Φ(z) = (1 + erf(z/√2)) / 2`.
@inline(__always) func geluForward(_ z: Float) -> Float { 0.5 * z * (1 + erff(z * 0.70710678118654752)) }
/// `gelu'(z) = Φ(z) + z·φ(z)`, `φ(z) = exp(-z²/2)/√(2π)`.
@inline(__always) func geluDerivative(_ z: Float) -> Float {
    0.5 * (1 + erff(z * 0.70710678118654752)) + z * 0.39894228040143268 * expf(-0.5 * z * z)
}

private func dispatchKernel(_ x: Tensor, _ plan: RoutingPlan, _ gates: Tensor, _ w: ExpertWeights) -> Tensor {
    precondition(x.rank == 2, "dispatch input must be [T, d], got \(x.shape)")
    let T = x.shape[0], d = x.shape[1], E = w.experts, h = w.hidden
    precondition(w.d == d, "dispatch: input width \(d) vs expert width \(w.d)")
    precondition(plan.tokenCount == T && plan.expertCount == E,
                 "dispatch: plan for \(plan.tokenCount) tokens × \(plan.expertCount) experts, input \(T) × \(E)")
    precondition(gates.count == plan.assignments.count, "dispatch: \(gates.count) gates for \(plan.assignments.count) assignments")

    // Counting sort of the kept assignments by expert (stable: token-major order within an expert).
    var offsets = [Int](repeating: 0, count: E + 1)
    for a in plan.assignments where a.kept { offsets[a.expert + 1] += 1 }
    for e in 0..<E { offsets[e + 1] += offsets[e] }
    let N = offsets[E]
    var rowToken = [Int](repeating: 0, count: N)
    var rowAssign = [Int](repeating: 0, count: N)
    var cursor = offsets
    for (i, a) in plan.assignments.enumerated() where a.kept {
        let r = cursor[a.expert]
        cursor[a.expert] += 1
        rowToken[r] = a.token
        rowAssign[r] = i
    }

    let needsGrad = Autograd.needsGrad([x, gates] + w.all)
    let innerGrad = Autograd.needsGrad([x] + w.all)
    // Buffers, one row per kept assignment in expert order:
    let xs = TensorStorage(count: N * d, zeroed: false)    // [N, d] gathered inputs
    let z = TensorStorage(count: N * h, zeroed: false)     // [N, h] pre-activations, then gelu'(z)
    let act = TensorStorage(count: N * h, zeroed: false)   // [N, h] gelu(z)
    let y = TensorStorage(count: N * d, zeroed: false)     // [N, d] expert outputs (before the gate)
    let out = Tensor(zeros: [T, d])

    let px = x.data, pxs = xs.base, pz = z.base, pa = act.base, py = y.base, pg = gates.data
    rowToken.withUnsafeBufferPointer { tok in
        for r in 0..<N { (pxs + r * d).update(from: px + tok[r] * d, count: d) }
    }
    for e in 0..<E {
        let o = offsets[e], n = offsets[e + 1] - o
        if n == 0 { continue }
        let zr = pz + o * h, ar = pa + o * h, yr = py + o * d
        let b1 = w.b1.data + e * h, b2 = w.b2.data + e * d
        for r in 0..<n { (zr + r * h).update(from: b1, count: h) }
        sgemm(transA: false, transB: false, m: n, n: h, k: d, a: pxs + o * d, lda: d,
              b: w.w1.data + e * d * h, ldb: h, beta: 1, c: zr, ldc: h)
        if innerGrad {
            for i in 0..<(n * h) { let v = zr[i]; ar[i] = geluForward(v); zr[i] = geluDerivative(v) }
        } else {
            for i in 0..<(n * h) { ar[i] = geluForward(zr[i]) }
        }
        for r in 0..<n { (yr + r * d).update(from: b2, count: d) }
        sgemm(transA: false, transB: false, m: n, n: d, k: h, a: ar, lda: h,
              b: w.w2.data + e * h * d, ldb: d, beta: 1, c: yr, ldc: d)
    }
    let po = out.data
    rowToken.withUnsafeBufferPointer { tok in
        rowAssign.withUnsafeBufferPointer { asg in
            for r in 0..<N {
                let g = pg[asg[r]], src = py + r * d, dst = po + tok[r] * d
                for j in 0..<d { dst[j] += g * src[j] }
            }
        }
    }
    Flops.add(N * expertFlopsPerAssignment(d: d, hidden: h))

    guard needsGrad else { return out }
    Autograd.record(out) {
        // Reading the buffers through their storages keeps them alive with the tape entry.
        let gOut = out.gradStorage!.base
        let pxs = xs.base, pz = z.base, pa = act.base, py = y.base, pg = gates.data
        var flops = 0
        // d gate_a = <dL/dy_t, expert output>
        if gates.requiresGrad {
            let gg = gates.gradPointer()
            for r in 0..<N {
                let src = py + r * d, gt = gOut + rowToken[r] * d
                var s: Float = 0
                for j in 0..<d { s += gt[j] * src[j] }
                gg[rowAssign[r]] += s
            }
            flops += 2 * N * d
        }
        guard innerGrad else { Flops.add(flops); return }
        // gy = gate · dL/dy_t   [N, d]; reused below for d xs.
        let gy = TensorStorage(count: N * d, zeroed: false)
        let ga = TensorStorage(count: N * h, zeroed: false)  // [N, h]
        let pgy = gy.base, pga = ga.base
        for r in 0..<N {
            let g = pg[rowAssign[r]], src = gOut + rowToken[r] * d, dst = pgy + r * d
            for j in 0..<d { dst[j] = g * src[j] }
        }
        flops += N * d
        let gw1: UnsafeMutablePointer<Float>? = w.w1.requiresGrad ? w.w1.gradPointer() : nil
        let gb1: UnsafeMutablePointer<Float>? = w.b1.requiresGrad ? w.b1.gradPointer() : nil
        let gw2: UnsafeMutablePointer<Float>? = w.w2.requiresGrad ? w.w2.gradPointer() : nil
        let gb2: UnsafeMutablePointer<Float>? = w.b2.requiresGrad ? w.b2.gradPointer() : nil
        for e in 0..<E {
            let o = offsets[e], n = offsets[e + 1] - o
            if n == 0 { continue }
            let gyr = pgy + o * d, gar = pga + o * h, zr = pz + o * h
            if let gw2 {
                sgemm(transA: true, transB: false, m: h, n: d, k: n, a: pa + o * h, lda: h, b: gyr, ldb: d,
                      beta: 1, c: gw2 + e * h * d, ldc: d)
                flops += 2 * n * h * d
            }
            if let gb2 {
                let gb = gb2 + e * d
                for r in 0..<n { let row = gyr + r * d; for j in 0..<d { gb[j] += row[j] } }
                flops += n * d
            }
            sgemm(transA: false, transB: true, m: n, n: h, k: d, a: gyr, lda: d, b: w.w2.data + e * h * d, ldb: d,
                  beta: 0, c: gar, ldc: h)
            for i in 0..<(n * h) { gar[i] *= zr[i] }
            flops += 2 * n * h * d + n * h
            if let gw1 {
                sgemm(transA: true, transB: false, m: d, n: h, k: n, a: pxs + o * d, lda: d, b: gar, ldb: h,
                      beta: 1, c: gw1 + e * d * h, ldc: h)
                flops += 2 * n * d * h
            }
            if let gb1 {
                let gb = gb1 + e * h
                for r in 0..<n { let row = gar + r * h; for j in 0..<h { gb[j] += row[j] } }
                flops += n * h
            }
            if x.requiresGrad {
                // d xs for this expert's rows, written over its (consumed) gy rows.
                sgemm(transA: false, transB: true, m: n, n: d, k: h, a: gar, lda: h, b: w.w1.data + e * d * h, ldb: h,
                      beta: 0, c: gyr, ldc: d)
                flops += 2 * n * d * h
            }
        }
        if x.requiresGrad {
            let gx = x.gradPointer()
            for r in 0..<N {
                let src = pgy + r * d, dst = gx + rowToken[r] * d
                for j in 0..<d { dst[j] += src[j] }
            }
            flops += N * d
        }
        Flops.add(flops)
    }
    return out
}

/// Forward FLOPs per token of an FFN-slot method, the router on its own line.
public struct FFNFlops: Equatable, Sendable, Codable {
    /// Router projection, softmax, gate arithmetic and auxiliary losses.
    public var router: Double
    /// Expert FFNs (or the dense FFN), combine included.
    public var expert: Double
    public var total: Double { router + expert }

    public init(router: Double, expert: Double) {
        self.router = router
        self.expert = expert
    }
}

/// An FFN-slot method with an analytic forward FLOP count.
public protocol FFNFlopsModel {
    /// Forward FLOPs per token for width `d`, expert hidden width `hidden` and the method's
    /// options. `meanExperts` is the measured mean number of experts processing each token
    /// (kept assignments / tokens) for data-dependent methods; nil uses the nominal value
    /// (no drops; for top-p, its nominal value is required).
    static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions, meanExperts: Double?) throws -> FFNFlops
}
