/// Dynamic confidence top-p routing (Huang et al., ACL 2024, "Harder Tasks Need More
/// Experts"; reference code ZhenweiAn/Dynamic_MoE `top_p_sampling_batched_all_sequence`).
///
/// - `p = softmax(x W_r)`; sort descending; keep the shortest prefix whose cumulative sum
///   is strictly greater than `tau` (the expert that crosses `tau` is kept; at least one;
///   all when no prefix exceeds `tau`), at most `k_max` when set.
/// - Output `sum_{i in S} p_i E_i(x)` with the raw probabilities; no capacity limit. With
///   `renormalize` (for sparse upcycling) the gates are `p_i / sg(Σ_{j ∈ S} p_j)`
///   (`renormalizedGates`): they sum to 1, so with every expert a copy of one FFN the layer
///   computes that FFN, and the router keeps the gradient of `p_i` (scaled), also when
///   `|S| = 1`.
/// - Losses: `balance_alpha · E · sum_i f_i P_i` plus the dynamic loss
///   `entropy_beta · mean_t(-sum_i p_ti log p_ti)`.
/// - The number of experts chosen per token is recorded in `LayerStats.chosenHistogram`.
///
/// Options (defaults): `experts` 8, `tau` 0.4, `k_max` none, `balance_alpha` 0.01,
/// `entropy_beta` 1e-4, `renormalize` false.
///
/// Parameters: `router [d, E]`, experts `w1 [E, d, h]`, `b1 [E, h]`, `w2 [E, h, d]`, `b2 [E, d]`.
public final class DynamicTopP: Module, FFNLayer, FFNFlopsModel {
    public static let optionKeys: Set<String> = ["experts", "tau", "k_max", "balance_alpha", "entropy_beta", "renormalize"]

    public let router: Tensor
    public let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

    public let experts: Int
    public let tau: Float
    public let kMax: Int?
    public let balanceAlpha: Float
    public let entropyBeta: Float
    /// Gates renormalised over the chosen experts with a stop-gradient denominator.
    public let renormalize: Bool

    public init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: DynamicTopP.optionKeys)
        experts = try options.int("experts", default: 8)
        let t = try options.double("tau", default: 0.4)
        kMax = try options.optionalInt("k_max")
        balanceAlpha = Float(try options.double("balance_alpha", default: 0.01))
        entropyBeta = Float(try options.double("entropy_beta", default: 1e-4))
        renormalize = try options.bool("renormalize", default: false)
        try requireOption(experts >= 1, options, "experts", "must be at least 1, got \(experts)")
        try requireOption(t >= 0 && t <= 1, options, "tau", "must be in [0, 1], got \(t)")
        if let k = kMax { try requireOption(k >= 1, options, "k_max", "must be at least 1 or 'none', got \(k)") }
        try requireOption(balanceAlpha >= 0, options, "balance_alpha", "must be non-negative")
        try requireOption(entropyBeta >= 0, options, "entropy_beta", "must be non-negative")
        tau = Float(t)
        router = Router.weight(d: d, experts: experts, rng: &rng)
        let w = ExpertWeights.initialised(experts: experts, d: d, hidden: hidden, rng: &rng)
        (w1, b1, w2, b2) = (w.w1, w.b1, w.w2, w.b2)
        super.init()
    }

    public var expertWeights: ExpertWeights { ExpertWeights(w1: w1, b1: b1, w2: w2, b2: b2) }

    public func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput {
        let T = x.shape[0]
        var noRNG = RNG(seed: 0)
        let (_, probs) = Router.route(x, weight: router, rng: &noRNG)
        let plan = Gating.topP(probs: probs.data, tokens: T, experts: experts, tau: tau, kMax: kMax)
        var aux: [(String, Tensor)] = []
        let gates = Flops.withCategory(.router) { () -> Tensor in
            aux.append(("balance", balanceLoss(probs: probs, fractions: plan.top1Fractions, alpha: balanceAlpha)))
            aux.append(("entropy", entropyLoss(probs, beta: entropyBeta)))
            let g = gatherEntries(probs, plan.flatIndices)
            return renormalize ? renormalizedGates(g, plan: plan) : g
        }
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: expertWeights)
        let stats = LayerStats.routed(layer: layer, plan: plan,
                                      gateEntropy: meanEntropy(probs.data, rows: T, width: experts), aux: aux)
        return RoutingOutput(y: y, auxLoss: sumAuxLosses(aux), stats: stats)
    }

    /// Router: `2·d·E + softmax(E) + E` (balance) `+ 3E` (entropy), `+ 2·meanExperts` with
    /// `renormalize`. Experts:
    /// `meanExperts · (4dh + 2h + 3d)`; `meanExperts` is the measured mean number of experts
    /// per token and is required (the count depends on the data).
    public static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions,
                                            meanExperts: Double?) throws -> FFNFlops {
        try options.validate(allowed: optionKeys)
        let E = try options.int("experts", default: 8)
        guard let k = meanExperts else {
            throw OptionError(method: options.method, key: "tau",
                              message: "top-p FLOPs depend on the data: pass the measured mean number of experts")
        }
        let renorm = try options.bool("renormalize", default: false) ? 2 * k : 0
        return FFNFlops(router: Double(2 * d * E + Router.softmaxFlops(width: E) + 4 * E) + renorm,
                        expert: k * Double(expertFlopsPerAssignment(d: d, hidden: hidden)))
    }
}
