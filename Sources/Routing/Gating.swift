import Foundation

/// Routing decisions on router probabilities: which token goes to which expert, at which
/// capacity slot, with which gate, and whether it is kept.
///
/// These functions are pure (plain arrays in, a `RoutingPlan` out) and take no part in
/// autograd: the gate values they report are the forward values; the methods rebuild the
/// same gates as differentiable tensors with `gatherEntries` on the router probabilities.
///
/// Conventions shared by every function:
/// - `probs` is a row-major `[T, E]` array (token `t`, expert `i` at `t·E + i`).
/// - `argmax` ties go to the lower expert index; sorts are stable (ties keep the lower
///   index first).
/// - A token's capacity slot is the exclusive running count of earlier assignments to the
///   same expert (token order; for top-2, every first choice before any second choice); an
///   assignment whose slot is `>= capacity` is dropped (`kept == false`, gate 0).
/// - Assignments are listed token-major, choice rank ascending inside a token.

/// One routing decision: token `token` sends its rank-`rank` choice to expert `expert`.
public struct Assignment: Equatable, Sendable {
    public var token: Int
    public var expert: Int
    /// Position in the expert's buffer; kept iff `slot < capacity` (always kept when dropless).
    public var slot: Int
    /// Weight of the expert's output for this token (0 when dropped).
    public var gate: Float
    public var kept: Bool
    /// 0 for the token's first choice, 1 for its second, …
    public var rank: Int

    public init(token: Int, expert: Int, slot: Int, gate: Float, kept: Bool, rank: Int) {
        self.token = token
        self.expert = expert
        self.slot = slot
        self.gate = gate
        self.kept = kept
        self.rank = rank
    }
}

/// All routing decisions of one layer for one batch of `tokenCount` tokens.
public struct RoutingPlan: Equatable, Sendable {
    public var tokenCount: Int
    public var expertCount: Int
    /// Slots per expert; nil when dropless.
    public var capacity: Int?
    /// Token-major, rank ascending within a token.
    public var assignments: [Assignment]
    /// The assignments of token `t` are `assignments[tokenOffsets[t] ..< tokenOffsets[t + 1]]`.
    public var tokenOffsets: [Int]
    /// Each token's top-1 expert (argmax of its probabilities), used by the balance loss.
    public var top1: [Int]

    public init(tokenCount: Int, expertCount: Int, capacity: Int?, assignments: [Assignment],
                tokenOffsets: [Int], top1: [Int]) {
        precondition(tokenOffsets.count == tokenCount + 1 && tokenOffsets.last == assignments.count,
                     "token offsets do not cover the assignments")
        self.tokenCount = tokenCount
        self.expertCount = expertCount
        self.capacity = capacity
        self.assignments = assignments
        self.tokenOffsets = tokenOffsets
        self.top1 = top1
    }

    /// Assignments that are processed by an expert.
    public var keptCount: Int { assignments.reduce(0) { $0 + ($1.kept ? 1 : 0) } }
    /// Assignments dropped by the capacity limit.
    public var droppedCount: Int { assignments.count - keptCount }
    /// Assignments (dropped ones included) per expert.
    public var assignedPerExpert: [Int] {
        var c = [Int](repeating: 0, count: expertCount)
        for a in assignments { c[a.expert] += 1 }
        return c
    }
    /// Kept assignments per expert.
    public var keptPerExpert: [Int] {
        var c = [Int](repeating: 0, count: expertCount)
        for a in assignments where a.kept { c[a.expert] += 1 }
        return c
    }
    /// `h[c]` = number of tokens that chose `c` experts (before any capacity drop);
    /// `h.count == E + 1`.
    public var chosenHistogram: [Int] {
        var h = [Int](repeating: 0, count: expertCount + 1)
        for t in 0..<tokenCount { h[tokenOffsets[t + 1] - tokenOffsets[t]] += 1 }
        return h
    }
    /// `f_i`: the fraction of tokens whose top-1 expert is `i`.
    public var top1Fractions: [Float] {
        var f = [Float](repeating: 0, count: expertCount)
        guard tokenCount > 0 else { return f }
        for e in top1 { f[e] += 1 }
        let inv = 1 / Float(tokenCount)
        for i in 0..<expertCount { f[i] *= inv }
        return f
    }
    /// Flat indices `token·E + expert` of every assignment into the `[T, E]` probabilities.
    public var flatIndices: [Int] { assignments.map { $0.token * expertCount + $0.expert } }
}

/// The gates of `plan` renormalised over each token's chosen experts, with the denominator
/// held constant in the backward pass: `g_a = p_a / sg(Σ_{b ∈ S_t} p_b)` for assignment `a`
/// of token `t` (`gates[a] = p_a`, `S_t` the token's assignments, dropped ones included).
///
/// Why: sparse upcycling (Komatsuzaki et al., ICLR 2023, "Sparse Upcycling: Training
/// Mixture-of-Experts from Dense Checkpoints") starts every expert as a copy of the
/// pretrained FFN. With raw probabilities as gates the upcycled layer outputs
/// `(Σ_S p) · FFN(x)`, about `FFN(x) / 8` for Switch with a fresh router over 8 experts:
/// the pretrained function is lost at step 0. With gates that sum to 1 over the chosen
/// experts, as GShard's top-2 normalisation does, the layer outputs exactly `FFN(x)` while
/// the experts are still copies (up to float rounding; a dropped assignment still drops).
///
/// The stop-gradient on the denominator keeps a router gradient where plain renormalisation
/// has none: for Switch (one expert) `p_e / p_e` is the constant 1, whose gradient is zero,
/// so the router would learn only from its auxiliary losses. `p_e / sg(p_e)` has the value 1
/// and the gradient of `log p_e` (`∂/∂logits = onehot(e) − p`), the straight-through form of
/// the survey's hard MoE with a gradient that does not shrink with `p_e`. For several
/// experts the gradient is that of `p_a` scaled by `1 / Σ_S p`.
///
/// FLOPs (`.router` when called there): one addition per assignment for the sums and one
/// division per assignment.
public func renormalizedGates(_ gates: Tensor, plan: RoutingPlan) -> Tensor {
    let A = plan.assignments.count
    precondition(gates.count == A, "renormalizedGates: \(gates.count) gates for \(A) assignments")
    var denom = [Float](repeating: 1, count: A)
    let g = gates.data
    for t in 0..<plan.tokenCount {
        let r = plan.tokenOffsets[t] ..< plan.tokenOffsets[t + 1]
        var s: Float = 0
        for a in r { s += g[a] }
        if s > 0 { for a in r { denom[a] = s } }
    }
    Flops.add(A)
    return gates / Tensor(shape: gates.shape, scalars: denom)
}

/// A random policy for the second expert of top-2 (GShard): dispatch `e2` with probability
/// `min(1, g2 / threshold)` (`g2` the renormalised second gate).
public struct RandomSecondPolicy {
    public var threshold: Float
    public var rng: RNG
    public init(threshold: Float = 0.2, rng: RNG) {
        self.threshold = threshold
        self.rng = rng
    }
}

public enum Gating {
    /// Expert capacity `max(minimum, floor(choices · T · factor / E))`.
    public static func capacity(tokens: Int, experts: Int, factor: Double, minimum: Int = 4,
                                choices: Int = 1) -> Int {
        precondition(experts > 0 && tokens >= 0 && factor >= 0, "bad capacity arguments")
        let c = Int((Double(choices * tokens) * factor / Double(experts)).rounded(.down))
        return max(minimum, c)
    }

    /// The index of the largest of `n` values at `p` (lowest index on ties), skipping `skip`.
    @inline(__always)
    static func argmax(_ p: UnsafePointer<Float>, _ n: Int, skip: Int = -1) -> Int {
        var best = -1
        var bv = -Float.infinity
        for i in 0..<n where i != skip {
            if best < 0 || p[i] > bv { best = i; bv = p[i] }
        }
        return best
    }

    static func top1Experts(_ probs: UnsafePointer<Float>, tokens: Int, experts: Int) -> [Int] {
        (0..<tokens).map { argmax(probs + $0 * experts, experts) }
    }

    /// Switch top-1: `e = argmax p_t`, gate `p_te` (not renormalised), slot = exclusive
    /// running count per expert in token order, dropped when `slot >= capacity`
    /// (`capacity == nil`: dropless).
    public static func top1(probs: UnsafePointer<Float>, tokens: Int, experts: Int,
                            capacity: Int?) -> RoutingPlan {
        var fill = [Int](repeating: 0, count: experts)
        var out = [Assignment]()
        out.reserveCapacity(tokens)
        let top = top1Experts(probs, tokens: tokens, experts: experts)
        for t in 0..<tokens {
            let e = top[t]
            let slot = fill[e]
            fill[e] += 1
            let kept = capacity.map { slot < $0 } ?? true
            out.append(Assignment(token: t, expert: e, slot: slot, gate: kept ? probs[t * experts + e] : 0,
                                  kept: kept, rank: 0))
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: capacity, assignments: out,
                           tokenOffsets: Array(0...tokens), top1: top)
    }

    /// GShard top-2: `e1 = argmax p`, `e2 = argmax p` with `e1` masked, gates
    /// `g_k = p_ek / (p_e1 + p_e2 + 1e-9)`. First choices take slots in token order; second
    /// choices are offset by the number of first choices kept by the expert
    /// (`min(count1_e, capacity)`), then take slots in token order. Overflow is dropped
    /// with its gate zeroed (the other gate is not renormalised again). With `random`, the
    /// second choice is dispatched only when `u < g2 / threshold`, `u ~ U[0, 1)` drawn per
    /// token in token order; a token that does not dispatch it chose one expert.
    public static func top2(probs: UnsafePointer<Float>, tokens: Int, experts: Int, capacity: Int?,
                            random: RandomSecondPolicy? = nil) -> RoutingPlan {
        precondition(experts >= 2, "top-2 routing needs at least 2 experts")
        var e1 = [Int](repeating: 0, count: tokens), e2 = e1
        var g1 = [Float](repeating: 0, count: tokens), g2 = g1
        var useSecond = [Bool](repeating: true, count: tokens)
        var policy = random
        for t in 0..<tokens {
            let p = probs + t * experts
            e1[t] = argmax(p, experts)
            e2[t] = argmax(p, experts, skip: e1[t])
            let denom = p[e1[t]] + p[e2[t]] + 1e-9
            g1[t] = p[e1[t]] / denom
            g2[t] = p[e2[t]] / denom
            if policy != nil {
                let u = policy!.rng.uniform()
                useSecond[t] = u < g2[t] / max(policy!.threshold, 1e-9)
            }
        }
        // Slots: first choices, then second choices offset by the kept first-choice counts.
        var slot1 = [Int](repeating: 0, count: tokens), slot2 = slot1
        var fill = [Int](repeating: 0, count: experts)
        for t in 0..<tokens { slot1[t] = fill[e1[t]]; fill[e1[t]] += 1 }
        if let c = capacity { for e in 0..<experts { fill[e] = min(fill[e], c) } }
        for t in 0..<tokens where useSecond[t] { slot2[t] = fill[e2[t]]; fill[e2[t]] += 1 }

        var out = [Assignment]()
        out.reserveCapacity(2 * tokens)
        var offsets = [0]
        offsets.reserveCapacity(tokens + 1)
        for t in 0..<tokens {
            let k1 = capacity.map { slot1[t] < $0 } ?? true
            out.append(Assignment(token: t, expert: e1[t], slot: slot1[t], gate: k1 ? g1[t] : 0, kept: k1, rank: 0))
            if useSecond[t] {
                let k2 = capacity.map { slot2[t] < $0 } ?? true
                out.append(Assignment(token: t, expert: e2[t], slot: slot2[t], gate: k2 ? g2[t] : 0, kept: k2, rank: 1))
            }
            offsets.append(out.count)
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: capacity, assignments: out,
                           tokenOffsets: offsets, top1: e1)
    }

    /// Dynamic confidence top-p (Huang et al. 2024): sort `p_t` descending (stable),
    /// cumulative sum `c` in float32; keep the shortest prefix with `c_j > tau` (the expert
    /// that crosses `tau` is kept; at least one is kept; when no prefix exceeds `tau`, all
    /// are kept), then at most `kMax`. Gates are the raw probabilities; no capacity limit.
    public static func topP(probs: UnsafePointer<Float>, tokens: Int, experts: Int, tau: Float,
                            kMax: Int? = nil) -> RoutingPlan {
        var fill = [Int](repeating: 0, count: experts)
        var out = [Assignment]()
        out.reserveCapacity(2 * tokens)
        var offsets = [0]
        offsets.reserveCapacity(tokens + 1)
        var order = [Int](repeating: 0, count: experts)
        let top = top1Experts(probs, tokens: tokens, experts: experts)
        for t in 0..<tokens {
            let p = probs + t * experts
            sortDescending(p, experts, &order)
            var keep = experts
            var c: Float = 0
            for j in 0..<experts {
                c += p[order[j]]
                if c > tau { keep = j + 1; break }
            }
            if let k = kMax { keep = min(keep, max(k, 1)) }
            for j in 0..<keep {
                let e = order[j]
                out.append(Assignment(token: t, expert: e, slot: fill[e], gate: p[e], kept: true, rank: j))
                fill[e] += 1
            }
            offsets.append(out.count)
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: nil, assignments: out,
                           tokenOffsets: offsets, top1: top)
    }

    /// Top-k on scores (e.g. noisy logits): the `k` largest scores of each token in
    /// descending order (stable), no capacity limit. The reported gates are
    /// `softmax` over the kept scores; `top1` is the argmax of `probs` when given, of the
    /// scores otherwise.
    public static func topK(scores: UnsafePointer<Float>, tokens: Int, experts: Int, k: Int,
                            probs: UnsafePointer<Float>? = nil) -> RoutingPlan {
        precondition(k >= 1 && k <= experts, "top-k needs 1 <= k <= E")
        var fill = [Int](repeating: 0, count: experts)
        var out = [Assignment]()
        out.reserveCapacity(k * tokens)
        var order = [Int](repeating: 0, count: experts)
        let top = top1Experts(probs ?? scores, tokens: tokens, experts: experts)
        for t in 0..<tokens {
            let s = scores + t * experts
            sortDescending(s, experts, &order)
            let m = s[order[0]]
            var z: Float = 0
            for j in 0..<k { z += expf(s[order[j]] - m) }
            for j in 0..<k {
                let e = order[j]
                out.append(Assignment(token: t, expert: e, slot: fill[e], gate: expf(s[e] - m) / z,
                                      kept: true, rank: j))
                fill[e] += 1
            }
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: nil, assignments: out,
                           tokenOffsets: (0...tokens).map { $0 * k }, top1: top)
    }

    /// Every token to every expert (soft MoE), gate `p_ti`, no capacity limit.
    public static func all(probs: UnsafePointer<Float>, tokens: Int, experts: Int) -> RoutingPlan {
        var out = [Assignment]()
        out.reserveCapacity(experts * tokens)
        for t in 0..<tokens {
            for e in 0..<experts {
                out.append(Assignment(token: t, expert: e, slot: t, gate: probs[t * experts + e], kept: true, rank: e))
            }
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: nil, assignments: out,
                           tokenOffsets: (0...tokens).map { $0 * experts },
                           top1: top1Experts(probs, tokens: tokens, experts: experts))
    }

    /// Hierarchical top-1: the group gate picks `g = argmax q_t` (`groupProbs: [T, G]`), the
    /// expert gate picks `e = argmax` of the within-group probabilities `r_t` (`[T, E]`,
    /// each group's `E / G` consecutive experts normalised on their own). Gate `q_tg · r_te`;
    /// no capacity limit. `top1` is the chosen expert.
    public static func hierarchical(groupProbs q: UnsafePointer<Float>, expertProbs r: UnsafePointer<Float>,
                                    tokens: Int, groups: Int, experts: Int) -> RoutingPlan {
        precondition(groups >= 1 && experts % groups == 0, "experts must be a multiple of groups")
        let per = experts / groups
        var fill = [Int](repeating: 0, count: experts)
        var out = [Assignment]()
        out.reserveCapacity(tokens)
        var top = [Int](repeating: 0, count: tokens)
        for t in 0..<tokens {
            let g = argmax(q + t * groups, groups)
            let base = t * experts + g * per
            let e = g * per + argmax(r + base, per)
            top[t] = e
            out.append(Assignment(token: t, expert: e, slot: fill[e], gate: q[t * groups + g] * r[t * experts + e],
                                  kept: true, rank: 0))
            fill[e] += 1
        }
        return RoutingPlan(tokenCount: tokens, expertCount: experts, capacity: nil, assignments: out,
                           tokenOffsets: Array(0...tokens), top1: top)
    }

    /// Stable descending order of `n` values (insertion sort: `n` is the expert count).
    @inline(__always)
    static func sortDescending(_ p: UnsafePointer<Float>, _ n: Int, _ order: inout [Int]) {
        for i in 0..<n {
            let v = p[i]
            var j = i
            while j > 0 && p[order[j - 1]] < v { order[j] = order[j - 1]; j -= 1 }
            order[j] = i
        }
    }
}

// Array conveniences (tests, tools).
extension Gating {
    public static func top1(probs: [Float], tokens: Int, experts: Int, capacity: Int?) -> RoutingPlan {
        precondition(probs.count == tokens * experts, "probs must be [T, E]")
        return probs.withUnsafeBufferPointer { top1(probs: $0.baseAddress!, tokens: tokens, experts: experts, capacity: capacity) }
    }

    public static func top2(probs: [Float], tokens: Int, experts: Int, capacity: Int?,
                            random: RandomSecondPolicy? = nil) -> RoutingPlan {
        precondition(probs.count == tokens * experts, "probs must be [T, E]")
        return probs.withUnsafeBufferPointer {
            top2(probs: $0.baseAddress!, tokens: tokens, experts: experts, capacity: capacity, random: random)
        }
    }

    public static func topP(probs: [Float], tokens: Int, experts: Int, tau: Float, kMax: Int? = nil) -> RoutingPlan {
        precondition(probs.count == tokens * experts, "probs must be [T, E]")
        return probs.withUnsafeBufferPointer { topP(probs: $0.baseAddress!, tokens: tokens, experts: experts, tau: tau, kMax: kMax) }
    }

    public static func topK(scores: [Float], tokens: Int, experts: Int, k: Int) -> RoutingPlan {
        precondition(scores.count == tokens * experts, "scores must be [T, E]")
        return scores.withUnsafeBufferPointer { topK(scores: $0.baseAddress!, tokens: tokens, experts: experts, k: k) }
    }

    public static func all(probs: [Float], tokens: Int, experts: Int) -> RoutingPlan {
        precondition(probs.count == tokens * experts, "probs must be [T, E]")
        return probs.withUnsafeBufferPointer { all(probs: $0.baseAddress!, tokens: tokens, experts: experts) }
    }

    public static func hierarchical(groupProbs: [Float], expertProbs: [Float], tokens: Int, groups: Int,
                                    experts: Int) -> RoutingPlan {
        precondition(groupProbs.count == tokens * groups && expertProbs.count == tokens * experts, "bad shapes")
        return groupProbs.withUnsafeBufferPointer { q in
            expertProbs.withUnsafeBufferPointer { r in
                hierarchical(groupProbs: q.baseAddress!, expertProbs: r.baseAddress!, tokens: tokens,
                             groups: groups, experts: experts)
            }
        }
    }
}

/// Selected entries of a tensor as a differentiable vector: `out[a] = x.flat[indices[a]]`,
/// shape `[indices.count]`; the backward pass adds `dL/dout[a]` into `dL/dx.flat[indices[a]]`
/// (repeated indices accumulate). Used to turn router probabilities into the gates of a
/// `RoutingPlan` (`plan.flatIndices`). Data movement only: no FLOPs.
public func gatherEntries(_ x: Tensor, _ indices: [Int]) -> Tensor {
    let n = indices.count
    let out = Tensor(uninitialized: [n])
    let px = x.data, po = out.data
    for a in 0..<n {
        precondition(indices[a] >= 0 && indices[a] < x.count, "gatherEntries: index \(indices[a]) out of range \(x.count)")
        po[a] = px[indices[a]]
    }
    if Autograd.needsGrad(x) {
        Autograd.record(out) {
            let g = out.gradStorage!.base, gx = x.gradPointer()
            for a in 0..<n { gx[indices[a]] += g[a] }
        }
    }
    return out
}

/// The router of the FFN-slot methods: `logits = x_r · W_r` (`W_r: [d, E]`, no bias,
/// float32) and `probs = softmax(logits)` over the experts, where `x_r = x` or, with
/// multiplicative jitter (Switch, training only), `x_r = x ⊙ U(1 - eps, 1 + eps)` drawn
/// per element from `rng`; the experts always read the un-jittered `x`.
///
/// Counted under `.router`. FLOPs per token: `2·d·E` for the projection, the softmax's
/// `softmaxFlops(width: E)`, and `d` for the jitter multiply when used.
public enum Router {
    /// `W_r: [d, E]`, PyTorch `nn.Linear(d, E, bias=False)` initialisation `U(±1/sqrt(d))`.
    public static func weight(d: Int, experts: Int, rng: inout RNG) -> Tensor {
        Init.linearDefault([d, experts], fanIn: d, rng: &rng)
    }

    /// Router logits and probabilities for `x: [T, d]` (`jitter` nil: no jitter).
    public static func route(_ x: Tensor, weight: Tensor, jitter: Float? = nil,
                             rng: inout RNG) -> (logits: Tensor, probs: Tensor) {
        Flops.withCategory(.router) {
            var input = x
            if let eps = jitter {
                input = x * Tensor.uniform(x.shape, 1 - eps, 1 + eps, rng: &rng)
            }
            let logits = linear(input, weight)
            return (logits, logits.softmax(axis: -1))
        }
    }

    /// FLOPs per row of the engine's softmax over `width` values (see `Tensor.softmax`).
    public static func softmaxFlops(width: Int) -> Int { 5 * width }
}
