/// Switch top-1 routing (Fedus et al. 2022; mesh-tensorflow `_switch_gating`).
///
/// - `p = softmax(x W_r)`, `e = argmax p`, output `p_e · Expert_e(x)` (gate not renormalised).
/// - Capacity `C = max(min_capacity, floor(T · cf / E))`, `cf = capacity_factor_train` in
///   training and `capacity_factor_eval` in evaluation; slot = exclusive running count of
///   earlier tokens sent to the same expert; `slot >= C` is dropped (output 0, only the
///   residual carries the token). `dropless`: no capacity limit (MegaBlocks).
/// - Loss `balance_alpha · E · sum_i f_i P_i`, plus the router z-loss
///   `z_beta · mean_t (logsumexp logits_t)^2` when `z_loss` is on.
/// - `jitter`: the router reads `x ⊙ U(1 - jitter_eps, 1 + jitter_eps)` in training.
/// - `renormalize` (for sparse upcycling): the gate is `p_e / sg(p_e)`, value exactly 1,
///   gradient that of `log p_e` (`renormalizedGates`): with every expert a copy of one FFN
///   the layer computes that FFN, and the router still learns from the task loss.
///
/// Options (defaults): `experts` 8, `capacity_factor_train` 1.25, `capacity_factor_eval`
/// 2.0, `min_capacity` 4, `balance_alpha` 0.01, `z_loss` false, `z_beta` 1e-3, `jitter`
/// false, `jitter_eps` 0.01, `dropless` false, `renormalize` false.
///
/// Parameters: `router [d, E]`, experts `w1 [E, d, h]`, `b1 [E, h]`, `w2 [E, h, d]`, `b2 [E, d]`.
public final class SwitchTop1: Module, FFNLayer, FFNFlopsModel {
    public static let optionKeys: Set<String> = [
        "experts", "capacity_factor_train", "capacity_factor_eval", "min_capacity", "balance_alpha",
        "z_loss", "z_beta", "jitter", "jitter_eps", "dropless", "renormalize",
    ]

    public let router: Tensor
    public let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

    public let experts: Int
    public let capacityFactorTrain: Double
    public let capacityFactorEval: Double
    public let minCapacity: Int
    public let balanceAlpha: Float
    /// The z-loss weight, nil when the z-loss is off.
    public let zBeta: Float?
    /// The jitter half-width, nil when jitter is off.
    public let jitterEps: Float?
    public let dropless: Bool
    /// Gates renormalised over the chosen expert with a stop-gradient denominator.
    public let renormalize: Bool

    public init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: SwitchTop1.optionKeys)
        experts = try options.int("experts", default: 8)
        capacityFactorTrain = try options.double("capacity_factor_train", default: 1.25)
        capacityFactorEval = try options.double("capacity_factor_eval", default: 2.0)
        minCapacity = try options.int("min_capacity", default: 4)
        balanceAlpha = Float(try options.double("balance_alpha", default: 0.01))
        let z = try options.bool("z_loss", default: false)
        let zb = try options.double("z_beta", default: 1e-3)
        let j = try options.bool("jitter", default: false)
        let je = try options.double("jitter_eps", default: 0.01)
        dropless = try options.bool("dropless", default: false)
        renormalize = try options.bool("renormalize", default: false)
        try requireOption(experts >= 1, options, "experts", "must be at least 1, got \(experts)")
        try requireOption(capacityFactorTrain > 0, options, "capacity_factor_train", "must be positive")
        try requireOption(capacityFactorEval > 0, options, "capacity_factor_eval", "must be positive")
        try requireOption(minCapacity >= 0, options, "min_capacity", "must be non-negative")
        try requireOption(balanceAlpha >= 0, options, "balance_alpha", "must be non-negative")
        try requireOption(zb >= 0, options, "z_beta", "must be non-negative")
        try requireOption(je >= 0 && je < 1, options, "jitter_eps", "must be in [0, 1)")
        zBeta = z ? Float(zb) : nil
        jitterEps = j ? Float(je) : nil
        router = Router.weight(d: d, experts: experts, rng: &rng)
        let w = ExpertWeights.initialised(experts: experts, d: d, hidden: hidden, rng: &rng)
        (w1, b1, w2, b2) = (w.w1, w.b1, w.w2, w.b2)
        super.init()
    }

    public var expertWeights: ExpertWeights { ExpertWeights(w1: w1, b1: b1, w2: w2, b2: b2) }

    /// The capacity for `tokens` tokens (nil when dropless).
    public func capacity(tokens: Int, training: Bool) -> Int? {
        dropless ? nil : Gating.capacity(tokens: tokens, experts: experts,
                                         factor: training ? capacityFactorTrain : capacityFactorEval,
                                         minimum: minCapacity)
    }

    public func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput {
        let T = x.shape[0]
        let jitter = context.training ? jitterEps : nil
        var rng = jitter == nil ? RNG(seed: 0) : RNG(seed: context.rng.next())
        let (logits, probs) = Router.route(x, weight: router, jitter: jitter, rng: &rng)
        let plan = Gating.top1(probs: probs.data, tokens: T, experts: experts,
                               capacity: capacity(tokens: T, training: context.training))
        var aux: [(String, Tensor)] = []
        let gates = Flops.withCategory(.router) { () -> Tensor in
            aux.append(("balance", balanceLoss(probs: probs, fractions: plan.top1Fractions, alpha: balanceAlpha)))
            if let zBeta { aux.append(("z", zLoss(logits: logits, beta: zBeta))) }
            let g = gatherEntries(probs, plan.flatIndices)
            return renormalize ? renormalizedGates(g, plan: plan) : g
        }
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: expertWeights)
        let stats = LayerStats.routed(layer: layer, plan: plan,
                                      gateEntropy: meanEntropy(probs.data, rows: T, width: experts), aux: aux)
        return RoutingOutput(y: y, auxLoss: sumAuxLosses(aux), stats: stats)
    }

    /// Router: `2·d·E + softmax(E) + E` (the balance loss's column sums) `+ 3E + 3` with the
    /// z-loss, `+ 2` with `renormalize`. Experts: `meanExperts · (4dh + 2h + 3d)`, `meanExperts` = kept assignments per
    /// token (nominal 1: no drops). Evaluation mode (no jitter).
    public static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions,
                                            meanExperts: Double?) throws -> FFNFlops {
        try options.validate(allowed: optionKeys)
        let E = try options.int("experts", default: 8)
        var router = 2 * d * E + Router.softmaxFlops(width: E) + E
        if try options.bool("z_loss", default: false) { router += 3 * E + 3 }
        if try options.bool("renormalize", default: false) { router += 2 }
        return FFNFlops(router: Double(router),
                        expert: (meanExperts ?? 1) * Double(expertFlopsPerAssignment(d: d, hidden: hidden)))
    }
}
