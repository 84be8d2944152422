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
///   `N·(2h + 5d)` for the biases, GELU', gate scaling, gate dot products and the scatter.
public func dispatchExperts(_ x: Tensor, plan: RoutingPlan, gates: Tensor, weights: ExpertWeights) -> Tensor {
    Flops.withCategory(.expert) { dispatchKernel(x, plan, gates, weights) }
}

/// Bias and GELU in one pass: `act[i] = gelu(z_i + b_i)`, erf form `v·Φ(v)`, over `n` values
/// (16 at a time, then one by one; the same bits either way).
@inline(__always) public func biasGELU(_ z: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                       _ act: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let v = load16(z + i) + load16(b + i)
        store16(v * normalCDFAndGaussian(v).cdf, act + i)
        i += 16
    }
    while i < n { let v = z[i] + b[i]; act[i] = v * normalCDFAndGaussian(v).cdf; i += 1 }
}

/// Bias, GELU and its derivative in one pass: `act[i] = gelu(v)`, `v = z_i + b_i`, then
/// `z[i]` is overwritten with `gelu'(v) = Φ(v) + v·φ(v)`, `φ(v) = e^(−v²/2)/√(2π)` (one
/// exponential for both, `normalCDFAndGaussian`).
@inline(__always) public func biasGELUKeepingDerivative(_ z: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>,
                                                        _ act: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let v = load16(z + i) + load16(b + i)
        let (cdf, gauss) = normalCDFAndGaussian(v)
        store16(v * cdf, act + i)
        store16(cdf + v * 0.39894228040143268 * gauss, z + i)
        i += 16
    }
    while i < n {
        let v = z[i] + b[i]
        let (cdf, gauss) = normalCDFAndGaussian(v)
        act[i] = v * cdf
        z[i] = cdf + v * 0.39894228040143268 * gauss
        i += 1
    }
}

/// How the experts of one dispatch share the engine's threads: whole experts run
/// concurrently, each on one thread with single-threaded GEMMs and its elementwise passes
/// on its own rows (no synchronisation between the GEMMs of an expert, its buffers stay in
/// cache), when there are at least two experts with rows and the busiest does not hold more
/// than its share (`rows / threads`, with 25% slack); otherwise the experts run one after
/// the other, each GEMM and pass split across the threads.
public struct ExpertSchedule {
    /// Experts with rows, busiest first (longest-processing-time order).
    public let order: [Int]
    public let concurrent: Bool
    public let threads: Int

    public init(offsets: [Int], threads: Int = EngineThreads.current) {
        let E = offsets.count - 1, N = offsets[E]
        order = (0..<E).filter { offsets[$0 + 1] > offsets[$0] }
            .sorted { (offsets[$0 + 1] - offsets[$0], $1) > (offsets[$1 + 1] - offsets[$1], $0) }
        let busiest = order.first.map { offsets[$0 + 1] - offsets[$0] } ?? 0
        concurrent = threads > 1 && order.count >= 2 && 4 * busiest * threads <= 5 * N
        self.threads = threads
    }

    /// Runs `body(expert, threads available to it)` for every expert with rows.
    public func run(_ body: (Int, Int) -> Void) {
        if concurrent {
            WorkerPool.shared.run(count: order.count, threads: threads) { i in body(order[i], 1) }
        } else {
            for e in order { body(e, threads) }
        }
    }
}

private func dispatchKernel(_ x: Tensor, _ plan: RoutingPlan, _ gates: Tensor, _ w: ExpertWeights) -> Tensor {
    precondition(x.rank == 2, "dispatch input must be [T, d], got \(x.shape)")
    let T = x.shape[0], d = x.shape[1], E = w.experts, h = w.hidden
    precondition(w.d == d, "dispatch: input width \(d) vs expert width \(w.d)")
    precondition(plan.tokenCount == T && plan.expertCount == E,
                 "dispatch: plan for \(plan.tokenCount) tokens × \(plan.expertCount) experts, input \(T) × \(E)")
    precondition(gates.count == plan.assignments.count, "dispatch: \(gates.count) gates for \(plan.assignments.count) assignments")

    // Counting sort of the kept assignments by expert: histogram, prefix sum, placement
    // (stable, so token order within an expert). Row r of the expert-ordered buffers holds
    // assignment rowAssign[r] of token rowToken[r]; assignment a sits at row assignRow[a]
    // (-1 when dropped).
    var offsets = [Int](repeating: 0, count: E + 1)
    for a in plan.assignments where a.kept { offsets[a.expert + 1] += 1 }
    for e in 0..<E { offsets[e + 1] += offsets[e] }
    let N = offsets[E], A = plan.assignments.count
    var rowToken = [Int](repeating: 0, count: N)
    var rowAssign = [Int](repeating: 0, count: N)
    var assignRow = [Int](repeating: -1, count: A)
    var cursor = offsets
    for (i, a) in plan.assignments.enumerated() where a.kept {
        let r = cursor[a.expert]
        cursor[a.expert] += 1
        rowToken[r] = a.token
        rowAssign[r] = i
        assignRow[i] = r
    }
    let tokenOffsets = plan.tokenOffsets
    let schedule = ExpertSchedule(offsets: offsets)

    let needsGrad = Autograd.needsGrad([x, gates] + w.all)
    let innerGrad = Autograd.needsGrad([x] + w.all)
    // Buffers, one row per kept assignment in expert order:
    let xs = TensorStorage(count: N * d, zeroed: false)    // [N, d] gathered inputs
    let z = TensorStorage(count: N * h, zeroed: false)     // [N, h] x W1, then gelu'(x W1 + b1) when training
    let act = TensorStorage(count: N * h, zeroed: false)   // [N, h] gelu(x W1 + b1)
    let y = TensorStorage(count: N * d, zeroed: false)     // [N, d] expert outputs (before the gate)
    let out = Tensor(uninitialized: [T, d])

    let px = x.data, pxs = xs.base, pz = z.base, pa = act.base, py = y.base, pg = gates.data
    let pb1 = w.b1.data, pb2 = w.b2.data, pw1 = w.w1.data, pw2 = w.w2.data, po = out.data
    // Each expert: gather its rows, x W1, bias and GELU (and GELU' for the backward pass),
    // then W2 (the second bias is added in the combine).
    rowToken.withUnsafeBufferPointer { tok in
        schedule.run { e, threads in
            let o = offsets[e], n = offsets[e + 1] - o
            parallelRanges(n, grain: 256, threads: threads) { lo, hi in
                for r in (o + lo)..<(o + hi) { (pxs + r * d).update(from: px + tok[r] * d, count: d) }
            }
            sgemm(transA: false, transB: false, m: n, n: h, k: d, a: pxs + o * d, lda: d,
                  b: pw1 + e * d * h, ldb: h, beta: 0, c: pz + o * h, ldc: h, threads: threads)
            let b = pb1 + e * h
            parallelRanges(n, grain: 16, threads: threads) { lo, hi in
                for r in (o + lo)..<(o + hi) {
                    let zr = pz + r * h, ar = pa + r * h
                    if innerGrad { biasGELUKeepingDerivative(zr, b, ar, h) } else { biasGELU(zr, b, ar, h) }
                }
            }
            sgemm(transA: false, transB: false, m: n, n: d, k: h, a: pa + o * h, lda: h,
                  b: pw2 + e * h * d, ldb: d, beta: 0, c: py + o * d, ldc: d, threads: threads)
        }
    }
    // Second bias and the weighted combine, token by token (no write conflicts).
    plan.assignments.withUnsafeBufferPointer { asg in
        assignRow.withUnsafeBufferPointer { arow in
            parallelRanges(T, grain: 64) { lo, hi in
                for t in lo..<hi {
                    let dst = po + t * d
                    for j in 0..<d { dst[j] = 0 }
                    for a in tokenOffsets[t]..<tokenOffsets[t + 1] {
                        let r = arow[a]
                        if r < 0 { continue }
                        let g = pg[a], yr = py + r * d, b = pb2 + asg[a].expert * d
                        for j in 0..<d { let v = yr[j] + b[j]; yr[j] = v; dst[j] += g * v }
                    }
                }
            }
        }
    }
    Flops.add(N * expertFlopsPerAssignment(d: d, hidden: h))

    guard needsGrad else { return out }
    Autograd.record(out) {
        // Reading the buffers through their storages keeps them alive with the tape entry.
        let gOut = out.gradStorage!.base
        let pxs = xs.base, pz = z.base, pa = act.base, py = y.base, pg = gates.data
        // Gradient buffers are created here, before any concurrent use.
        let gg: UnsafeMutablePointer<Float>? = gates.requiresGrad ? gates.gradPointer() : nil
        // The weight gradients are written by GEMMs: into fresh buffers with beta 0 (the
        // slices of experts without rows zero-filled), or added with beta 1.
        let gw1 = innerGrad && w.w1.requiresGrad ? w.w1.gradForWrite() : nil
        let gb1: UnsafeMutablePointer<Float>? = w.b1.requiresGrad ? w.b1.gradPointer() : nil
        let gw2 = innerGrad && w.w2.requiresGrad ? w.w2.gradForWrite() : nil
        let gb2: UnsafeMutablePointer<Float>? = w.b2.requiresGrad ? w.b2.gradPointer() : nil
        let gx: UnsafeMutablePointer<Float>? = x.requiresGrad ? x.gradPointer() : nil
        // gy: [N, d] gate · dL/dout_t, later dL/dxs; ga: [N, h] dL/d(x W1 + b1).
        let gy = innerGrad ? TensorStorage(count: N * d, zeroed: false) : nil
        let ga = innerGrad ? TensorStorage(count: N * h, zeroed: false) : nil
        let pgy = gy?.base, pga = ga?.base
        for e in 0..<E where offsets[e + 1] == offsets[e] {
            if let gw1, !gw1.accumulate { (gw1.base + e * d * h).update(repeating: 0, count: d * h) }
            if let gw2, !gw2.accumulate { (gw2.base + e * h * d).update(repeating: 0, count: h * d) }
        }
        rowToken.withUnsafeBufferPointer { tok in
            rowAssign.withUnsafeBufferPointer { ras in
                schedule.run { e, threads in
                    let o = offsets[e], n = offsets[e + 1] - o
                    // d gate_a = <dL/dout_t, expert output of a>, and gy = gate · dL/dout_t.
                    // On one thread the b2 sums (in row order, as `columnSums`) ride along.
                    let gb2Here = threads == 1 && innerGrad ? gb2.map { $0 + e * d } : nil
                    parallelRanges(n, grain: 256, threads: threads) { lo, hi in
                        for r in (o + lo)..<(o + hi) {
                            let gt = gOut + tok[r] * d
                            if let gg {
                                let src = py + r * d
                                var s: Float = 0
                                for j in 0..<d { s += gt[j] * src[j] }
                                gg[ras[r]] += s
                            }
                            if let pgy {
                                let g = pg[ras[r]], dst = pgy + r * d
                                if let sums = gb2Here {
                                    for j in 0..<d { let v = g * gt[j]; dst[j] = v; sums[j] += v }
                                } else {
                                    for j in 0..<d { dst[j] = g * gt[j] }
                                }
                            }
                        }
                    }
                    guard let pgy, let pga else { return }
                    let gyr = pgy + o * d, gar = pga + o * h, zr = pz + o * h
                    if let gw2 {
                        sgemm(transA: true, transB: false, m: h, n: d, k: n, a: pa + o * h, lda: h, b: gyr, ldb: d,
                              beta: gw2.accumulate ? 1 : 0, c: gw2.base + e * h * d, ldc: d, threads: threads)
                    }
                    if let gb2, gb2Here == nil { columnSums(gyr, rows: n, cols: d, into: gb2 + e * d, threads: threads) }
                    sgemm(transA: false, transB: true, m: n, n: h, k: d, a: gyr, lda: d, b: pw2 + e * h * d, ldb: d,
                          beta: 0, c: gar, ldc: h, threads: threads)
                    // gar *= gelu', with the b1 sums in the same pass.
                    scaleColumnSums(gar, by: zr, rows: n, cols: h, into: gb1.map { $0 + e * h }, threads: threads)
                    if let gw1 {
                        sgemm(transA: true, transB: false, m: d, n: h, k: n, a: pxs + o * d, lda: d, b: gar, ldb: h,
                              beta: gw1.accumulate ? 1 : 0, c: gw1.base + e * d * h, ldc: h, threads: threads)
                    }
                    if gx != nil {
                        // dL/dxs for this expert's rows, written over its (consumed) gy rows.
                        sgemm(transA: false, transB: true, m: n, n: d, k: h, a: gar, lda: h, b: pw1 + e * d * h, ldb: h,
                              beta: 0, c: gyr, ldc: d, threads: threads)
                    }
                }
            }
        }
        // FLOPs, as the passes above: the gate dot products, the gate scaling, then per row
        // the GEMMs that ran (2dh each), the bias sums, GELU'.
        var flops = gg != nil ? 2 * N * d : 0
        if innerGrad {
            flops += N * d + 2 * N * h * d + N * h
            if gw2 != nil { flops += 2 * N * h * d }
            if gb2 != nil { flops += N * d }
            if gw1 != nil { flops += 2 * N * d * h }
            if gb1 != nil { flops += N * h }
            if gx != nil { flops += 2 * N * d * h }
        }
        if let gx, let pgy {
            assignRow.withUnsafeBufferPointer { arow in
                parallelRanges(T, grain: 64) { lo, hi in
                    for t in lo..<hi {
                        let dst = gx + t * d
                        for a in tokenOffsets[t]..<tokenOffsets[t + 1] where arow[a] >= 0 {
                            let src = pgy + arow[a] * d
                            for j in 0..<d { dst[j] += src[j] }
                        }
                    }
                }
            }
            flops += N * d
        }
        Flops.add(flops)
    }
    return out
}

/// The plain loop-over-experts reference of `dispatchExperts`, built from the engine's
/// generic ops (`indexSelect`, `split`, `linear`, `gelu`, `scatterAdd`): for each expert,
/// gather its kept tokens, run its FFN, scatter-add the gate-weighted outputs. Same
/// result and gradients as `dispatchExperts`, slower; kept for tests.
public func dispatchReference(_ x: Tensor, plan: RoutingPlan, gates: Tensor, weights w: ExpertWeights) -> Tensor {
    let E = w.experts, d = w.d, h = w.hidden, T = x.shape[0]
    let ones = [Int](repeating: 1, count: E)
    let w1 = w.w1.split(ones, axis: 0), b1 = w.b1.split(ones, axis: 0)
    let w2 = w.w2.split(ones, axis: 0), b2 = w.b2.split(ones, axis: 0)
    var out: Tensor? = nil
    for e in 0..<E {
        let idx = plan.assignments.indices.filter { plan.assignments[$0].kept && plan.assignments[$0].expert == e }
        if idx.isEmpty { continue }
        let rows = idx.map { plan.assignments[$0].token }
        let hidden = linear(x.indexSelect(rows: rows), w1[e].reshaped([d, h]), b1[e].reshaped([h])).gelu()
        let y = linear(hidden, w2[e].reshaped([h, d]), b2[e].reshaped([d]))
        let part = scatterAdd(y, rows: rows, count: T, weights: gatherEntries(gates, idx))
        out = out.map { $0 + part } ?? part
    }
    return out ?? Tensor(zeros: [T, d])
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

extension LayerStats {
    /// Statistics of one routed FFN layer from its plan: assignments per expert (dropped
    /// included), dropped assignments, tokens, the chosen-count histogram, the mean gate
    /// entropy (nats) and the weighted auxiliary loss values.
    public static func routed(layer: Int, plan: RoutingPlan, gateEntropy: Float,
                              aux: [(String, Tensor)]) -> LayerStats {
        var values: [String: Double] = [:]
        for (k, v) in aux { values[k] = Double(v.item) }
        RoutingTrace.recorder?.note(layer: layer, experts: plan.expertCount, top1: plan.top1)
        return LayerStats(layer: layer, assignedPerUnit: plan.assignedPerExpert, dropped: plan.droppedCount,
                          routed: plan.tokenCount, chosenHistogram: plan.chosenHistogram,
                          gateEntropy: Double(gateEntropy), aux: values)
    }
}

/// Per-token top-1 experts of the routed FFN layers of the forward passes run under
/// `RoutingTrace.$recorder.withValue(...)` (the evaluation's specialization measure). Every
/// layer built on a `RoutingPlan` notes its plan's `top1` (the argmax of the router
/// probabilities: Switch's expert, top-2's first choice, soft MoE's largest gate weight,
/// the hierarchical gate's chosen expert, noisy top-k's largest clean logit) in token order
/// (real tokens only, as the FFN sees them). Block mixers (MoLEx, DLR) note nothing.
public enum RoutingTrace {
    public final class Recorder: @unchecked Sendable {
        /// One entry per noted layer call, in call order.
        public private(set) var layers: [(layer: Int, experts: Int, top1: [Int])] = []
        public init() {}
        public func note(layer: Int, experts: Int, top1: [Int]) { layers.append((layer, experts, top1)) }
    }

    @TaskLocal public static var recorder: Recorder?
}

/// The sum of the weighted auxiliary losses (shape `[]`), nil when there are none.
/// Counted under `.router` (one FLOP per addition).
public func sumAuxLosses(_ terms: [(String, Tensor)]) -> Tensor? {
    guard var total = terms.first?.1 else { return nil }
    Flops.withCategory(.router) { for (_, t) in terms.dropFirst() { total = total + t } }
    return total
}

/// Option checks shared by the methods: throws `OptionError` naming the key when `ok` is false.
@inline(__always)
func requireOption(_ ok: Bool, _ options: MethodOptions, _ key: String, _ message: String) throws {
    if !ok { throw OptionError(method: options.method, key: key, message: message) }
}
