/// The gating variants of the survey "Improving Deep Learning Performance with MoE and
/// Sparse Activation" (2025), one module with a `variant` option. No capacity limit.
///
/// - `soft` (Jacobs et al. 1991): every expert, weights `p = softmax(x W_r)`.
/// - `noisy_topk` (Shazeer et al. 2017): `H = x W_r + N(0, 1) ⊙ softplus(x W_noise)` in
///   training (`H = x W_r` in evaluation), the `k` largest `H` per token, weights the
///   softmax over the kept `H` (Shazeer's `softmax(KeepTopK(H, k))`). `W_noise` starts at 0.
/// - `hierarchical`: a group gate `q = softmax(x W_g)` over `G = groups` groups picks
///   `g = argmax q`; an expert gate picks `e = argmax` inside group `g` of
///   `r = softmax` over each group's `E / G` experts of `x W_r`; weight `q_g · r_e`.
/// - `hard`: top-1 of `p` with the weight fixed to 1 in the forward pass, straight-through
///   in the backward pass (`w = 1 + p_e - stopgrad(p_e)`, so `dL/dp_e = dL/dw`).
///
/// The gate distribution `G` of a token: `p` (soft, hard), the kept softmax over `k`
/// (noisy_topk), the joint `q_g(e) · r_e` over all `E` experts (hierarchical). Regularisers
/// (`regularizer`, weight `reg_weight`): `entropy` `reg_weight · mean_t(-sum_i G_ti log G_ti)`;
/// `variance` `reg_weight · sum_i (C_i / N - 1 / E)^2` with `C_i` the gate mass expert `i`
/// receives (`varianceBalanceLoss`); `none`. `LayerStats.gateEntropy` is the mean entropy of `G`.
///
/// Options (defaults): `variant` soft, `experts` 8, `k` 2 (noisy_topk), `groups` 2
/// (hierarchical; must divide `experts`), `regularizer` none, `reg_weight` 0.01.
///
/// Parameters: `router [d, E]`, `noiseWeight [d, E]` (noisy_topk), `groupRouter [d, G]`
/// (hierarchical), experts `w1 [E, d, h]`, `b1 [E, h]`, `w2 [E, h, d]`, `b2 [E, d]`.
public final class SurveyMoE: Module, FFNLayer, FFNFlopsModel {
    public enum Variant: String, CaseIterable, Sendable {
        case soft, noisyTopK = "noisy_topk", hierarchical, hard
    }

    public enum Regularizer: String, CaseIterable, Sendable {
        case none, entropy, variance
    }

    public static let optionKeys: Set<String> = ["variant", "experts", "k", "groups", "regularizer", "reg_weight"]

    public let router: Tensor
    public let noiseWeight: Tensor?
    public let groupRouter: Tensor?
    public let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

    public let variant: Variant
    public let experts: Int
    public let k: Int
    public let groups: Int
    public let regularizer: Regularizer
    public let regWeight: Float

    struct Config {
        var variant: Variant, experts: Int, k: Int, groups: Int, regularizer: Regularizer, regWeight: Float
    }

    static func config(_ options: MethodOptions) throws -> Config {
        try options.validate(allowed: optionKeys)
        let v = try options.string("variant", default: "soft", allowed: Variant.allCases.map(\.rawValue))
        let r = try options.string("regularizer", default: "none", allowed: Regularizer.allCases.map(\.rawValue))
        let c = Config(variant: Variant(rawValue: v)!, experts: try options.int("experts", default: 8),
                       k: try options.int("k", default: 2), groups: try options.int("groups", default: 2),
                       regularizer: Regularizer(rawValue: r)!,
                       regWeight: Float(try options.double("reg_weight", default: 0.01)))
        try requireOption(c.experts >= 1, options, "experts", "must be at least 1, got \(c.experts)")
        if c.variant == .noisyTopK {
            try requireOption(c.k >= 1 && c.k <= c.experts, options, "k", "must be in 1...\(c.experts), got \(c.k)")
        }
        if c.variant == .hierarchical {
            try requireOption(c.groups >= 1 && c.experts % c.groups == 0, options, "groups",
                              "must be at least 1 and divide experts (\(c.experts)), got \(c.groups)")
        }
        try requireOption(c.regWeight >= 0, options, "reg_weight", "must be non-negative")
        return c
    }

    public init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws {
        let c = try SurveyMoE.config(options)
        (variant, experts, k, groups, regularizer, regWeight) = (c.variant, c.experts, c.k, c.groups, c.regularizer, c.regWeight)
        router = Router.weight(d: d, experts: experts, rng: &rng)
        noiseWeight = variant == .noisyTopK ? Init.zeros([d, experts]) : nil
        groupRouter = variant == .hierarchical ? Router.weight(d: d, experts: groups, rng: &rng) : nil
        let w = ExpertWeights.initialised(experts: experts, d: d, hidden: hidden, rng: &rng)
        (w1, b1, w2, b2) = (w.w1, w.b1, w.w2, w.b2)
        super.init()
    }

    public var expertWeights: ExpertWeights { ExpertWeights(w1: w1, b1: b1, w2: w2, b2: b2) }

    public func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput {
        let T = x.shape[0], E = experts
        // plan, gates [A] aligned with the plan, and the gate distribution G [T, width].
        let (plan, gates, dist) = Flops.withCategory(.router) { () -> (RoutingPlan, Tensor, Tensor) in
            switch variant {
            case .soft:
                let p = linear(x, router).softmax(axis: -1)
                let plan = Gating.all(probs: p.data, tokens: T, experts: E)
                return (plan, p.reshaped([T * E]), p)
            case .hard:
                let p = linear(x, router).softmax(axis: -1)
                let plan = Gating.top1(probs: p.data, tokens: T, experts: E, capacity: nil)
                let chosen = gatherEntries(p, plan.flatIndices)
                return (plan, chosen - chosen.detached() + 1, p)
            case .noisyTopK:
                var h = linear(x, router)
                let clean = h
                if context.training {
                    var rng = RNG(seed: context.rng.next())
                    let eps = Tensor.randn([T, E], rng: &rng)
                    h = h + eps * linear(x, noiseWeight!).softplus()
                }
                let plan = Gating.topK(scores: h.data, tokens: T, experts: E, k: k, probs: clean.data)
                let g = gatherEntries(h, plan.flatIndices).reshaped([T, k]).softmax(axis: -1)
                return (plan, g.reshaped([T * k]), g)
            case .hierarchical:
                let G = groups, per = E / G
                let q = linear(x, groupRouter!).softmax(axis: -1)                               // [T, G]
                let r = linear(x, router).reshaped([T, G, per]).softmax(axis: -1)              // [T, G, E/G]
                let plan = Gating.hierarchical(groupProbs: q.data, expertProbs: r.data, tokens: T, groups: G, experts: E)
                let rFlat = r.reshaped([T, E])
                let gates = gatherEntries(q, plan.assignments.map { $0.token * G + $0.expert / per })
                    * gatherEntries(rFlat, plan.flatIndices)
                let joint = (q.reshaped([T, G, 1]) * r).reshaped([T, E])
                return (plan, gates, joint)
            }
        }
        var aux: [(String, Tensor)] = []
        Flops.withCategory(.router) {
            switch regularizer {
            case .none: break
            case .entropy: aux.append(("entropy", entropyLoss(dist, beta: regWeight)))
            case .variance:
                aux.append(("variance", varianceBalanceLoss(gates: gates, experts: plan.assignments.map(\.expert),
                                                            expertCount: E, weight: regWeight)))
            }
        }
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: expertWeights)
        let width = dist.shape[dist.rank - 1]
        let stats = LayerStats.routed(layer: layer, plan: plan,
                                      gateEntropy: meanEntropy(dist.data, rows: T, width: width), aux: aux)
        return RoutingOutput(y: y, auxLoss: sumAuxLosses(aux), stats: stats)
    }

    /// Evaluation-mode forward FLOPs per token.
    /// Router: soft and hard `2dE + softmax(E)` (hard `+ 2` for the straight-through
    /// gate); noisy_topk `2dE + softmax(k)`; hierarchical `2dG + softmax(G) + 2dE +
    /// softmax(E) + 1` (gate product) `+ E` (the joint distribution); the entropy
    /// regulariser adds `3·width(G)`, the variance regulariser `meanExperts`.
    /// Experts: `meanExperts · (4dh + 2h + 3d)`, nominal `E` (soft), `k` (noisy_topk), 1.
    public static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions,
                                            meanExperts: Double?) throws -> FFNFlops {
        let c = try config(options)
        let E = c.experts
        let nominal: Int
        var router: Int
        var width = E
        switch c.variant {
        case .soft: nominal = E; router = 2 * d * E + Router.softmaxFlops(width: E)
        case .hard: nominal = 1; router = 2 * d * E + Router.softmaxFlops(width: E) + 2
        case .noisyTopK:
            nominal = c.k; width = c.k
            router = 2 * d * E + Router.softmaxFlops(width: c.k)
        case .hierarchical:
            nominal = 1
            router = 2 * d * c.groups + Router.softmaxFlops(width: c.groups) + 2 * d * E
                + c.groups * Router.softmaxFlops(width: E / c.groups) + 1 + E
        }
        let k = meanExperts ?? Double(nominal)
        var r = Double(router)
        switch c.regularizer {
        case .none: break
        case .entropy: r += Double(3 * width)
        case .variance: r += k
        }
        return FFNFlops(router: r, expert: k * Double(expertFlopsPerAssignment(d: d, hidden: hidden)))
    }
}
