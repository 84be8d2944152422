import Foundation

/// Auxiliary routing losses, each a fused engine op with its gradient. All return shape
/// `[]` and are already multiplied by their weight. FLOPs are counted in the category that
/// is active at the call (the methods call them under `.router`).

/// Load-balance loss (Switch / GShard): `alpha · E · sum_i f_i · P_i` with
/// `P_i = mean_t probs_ti` (differentiable) and `f_i` the fraction of tokens whose top-1
/// expert is `i` (a constant, e.g. `RoutingPlan.top1Fractions`).
///
/// `probs: [T, E]`. Gradient `d/dprobs_ti = alpha · E · f_i / T`.
/// FLOPs: forward `T·E + 2·E`, backward `T·E`.
public func balanceLoss(probs: Tensor, fractions f: [Float], alpha: Float) -> Tensor {
    precondition(probs.rank == 2 && probs.shape[1] == f.count, "balanceLoss: probs \(probs.shape) vs \(f.count) fractions")
    let T = probs.shape[0], E = probs.shape[1]
    let p = probs.data
    var colSum = [Double](repeating: 0, count: E)
    for t in 0..<T { let row = p + t * E; for i in 0..<E { colSum[i] += Double(row[i]) } }
    var s = 0.0
    if T > 0 { for i in 0..<E { s += Double(f[i]) * colSum[i] / Double(T) } }
    let out = Tensor(scalar: Float(Double(alpha) * Double(E) * s))
    Flops.add(T * E + 2 * E)
    if Autograd.needsGrad(probs), T > 0 {
        Autograd.record(out) {
            let g = out.gradStorage!.base[0], gp = probs.gradPointer()
            let scale = g * alpha * Float(E) / Float(T)
            for t in 0..<T { let row = gp + t * E; for i in 0..<E { row[i] += scale * f[i] } }
            Flops.add(T * E)
        }
    }
    return out
}

/// Router z-loss (ST-MoE): `beta · mean_t (logsumexp_i logits_ti)^2`, `logits: [T, E]`.
/// Gradient `d/dlogits_ti = beta · 2 · lse_t · softmax(logits_t)_i / T`.
/// FLOPs: forward `T·(3E + 3)`, backward `3·T·E`.
public func zLoss(logits: Tensor, beta: Float) -> Tensor {
    precondition(logits.rank == 2, "zLoss: logits must be [T, E], got \(logits.shape)")
    let T = logits.shape[0], E = logits.shape[1]
    let l = logits.data
    var lse = [Float](repeating: 0, count: T)
    var s = 0.0
    for t in 0..<T {
        let row = l + t * E
        var m = -Float.infinity
        for i in 0..<E { m = max(m, row[i]) }
        var z: Float = 0
        for i in 0..<E { z += expf(row[i] - m) }
        lse[t] = m + logf(z)
        s += Double(lse[t]) * Double(lse[t])
    }
    let out = Tensor(scalar: T > 0 ? Float(Double(beta) * s / Double(T)) : 0)
    Flops.add(T * (3 * E + 3))
    if Autograd.needsGrad(logits), T > 0 {
        Autograd.record(out) {
            let g = out.gradStorage!.base[0], gl = logits.gradPointer()
            let c = g * beta * 2 / Float(T)
            for t in 0..<T {
                let row = l + t * E, grow = gl + t * E, k = c * lse[t]
                for i in 0..<E { grow[i] += k * expf(row[i] - lse[t]) }
            }
            Flops.add(3 * T * E)
        }
    }
    return out
}

/// Entropy loss: `beta · mean_t ( - sum_i p_ti log p_ti )` over the rows of `p: [..., K]`
/// (each row a distribution; `0 log 0 = 0`). Gradient `-beta · (log p_ti + 1) / rows`
/// (with `log` of `max(p, 1e-30)` so that zero entries get a finite gradient).
/// FLOPs: forward `3·rows·K`, backward `2·rows·K`.
public func entropyLoss(_ p: Tensor, beta: Float) -> Tensor {
    precondition(p.rank >= 1, "entropyLoss needs at least one dimension")
    let K = p.shape[p.rank - 1], rows = K == 0 ? 0 : p.count / K
    let out = Tensor(scalar: beta * meanEntropy(p.data, rows: rows, width: K))
    Flops.add(3 * rows * K)
    if Autograd.needsGrad(p), rows > 0 {
        Autograd.record(out) {
            let g = out.gradStorage!.base[0], gp = p.gradPointer(), pp = p.data
            let c = -g * beta / Float(rows)
            for i in 0..<(rows * K) { gp[i] += c * (logf(max(pp[i], 1e-30)) + 1) }
            Flops.add(2 * rows * K)
        }
    }
    return out
}

/// Mean over `rows` rows of `-sum_i p_i log p_i` (nats), accumulated in float64.
public func meanEntropy(_ p: UnsafePointer<Float>, rows: Int, width: Int) -> Float {
    guard rows > 0 else { return 0 }
    var s = 0.0
    for i in 0..<(rows * width) where p[i] > 0 { s -= Double(p[i]) * Foundation.log(Double(p[i])) }
    return Float(s / Double(rows))
}

/// Variance balance (the survey's regulariser): `weight · sum_i (C_i / N - 1 / K)^2` with
/// the soft counts `C_i = sum_{a: experts[a] = i} gates_a` (the gate mass each of the `K`
/// experts receives; with gates fixed to 1 these are the assignment counts) and
/// `N = sum_i C_i`. `gates: [A]`, `experts: [A]` expert ids in `0..<K`.
/// Gradient `d/dgates_a = (2·weight / N) · ((S_j - 1/K) - sum_i (S_i - 1/K) S_i)`,
/// `S = C / N`, `j = experts[a]`. FLOPs: forward `A + 4·K`, backward `A + 3·K`.
public func varianceBalanceLoss(gates: Tensor, experts: [Int], expertCount K: Int, weight: Float) -> Tensor {
    precondition(gates.count == experts.count, "varianceBalanceLoss: \(gates.count) gates for \(experts.count) experts")
    let A = experts.count
    var c = [Double](repeating: 0, count: K)
    for a in 0..<A { c[experts[a]] += Double(gates.data[a]) }
    let n = c.reduce(0, +)
    var s = [Double](repeating: 0, count: K)
    var loss = 0.0
    if n > 0 {
        for i in 0..<K { s[i] = c[i] / n; let u = s[i] - 1 / Double(K); loss += u * u }
    }
    let out = Tensor(scalar: Float(Double(weight) * loss))
    Flops.add(A + 4 * K)
    if Autograd.needsGrad(gates), n > 0 {
        Autograd.record(out) {
            let g = Double(out.gradStorage!.base[0]), gg = gates.gradPointer()
            var cross = 0.0
            for i in 0..<K { cross += (s[i] - 1 / Double(K)) * s[i] }
            var dc = [Float](repeating: 0, count: K)
            for i in 0..<K { dc[i] = Float(g * 2 * Double(weight) / n * ((s[i] - 1 / Double(K)) - cross)) }
            for a in 0..<A { gg[a] += dc[experts[a]] }
            Flops.add(A + 3 * K)
        }
    }
    return out
}
