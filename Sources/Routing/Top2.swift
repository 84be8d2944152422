/// Top-2 routing (GShard; mesh-tensorflow `_top_2_gating`).
///
/// - `p = softmax(x W_r)`, `e1 = argmax p`, `e2 = argmax p` with `e1` masked; gates
///   `g_k = p_ek / (p_e1 + p_e2 + 1e-9)`; output `g1 E_e1(x) + g2 E_e2(x)`.
/// - Capacity `C = max(min_capacity, floor(2 · T · cf / E))`; all first choices are placed
///   before any second choice (second-choice slots start after the expert's kept first
///   choices); overflow is dropped with its gate zeroed. `dropless`: no limit.
/// - `renormalize` (default true, GShard): the gates above. With `renormalize: false` the
///   gates are the raw probabilities `p_e1`, `p_e2` (top-p's convention). With every expert
///   a copy of one FFN the renormalised layer computes that FFN (the gates sum to
///   `1 − 1e-9 / (p_e1 + p_e2)`), the property sparse upcycling needs.
/// - Loss `balance_alpha · E · sum_i f_i P_i` with `f` from the top-1 assignment only.
/// - `random_second` (training only): `e2` is dispatched with probability
///   `min(1, g2 / second_threshold)`.
///
/// Options (defaults): `experts` 8, `capacity_factor_train` 1.25, `capacity_factor_eval`
/// 2.0, `min_capacity` 4, `balance_alpha` 0.01, `random_second` false, `second_threshold`
/// 0.2, `dropless` false, `renormalize` true.
///
/// Parameters: `router [d, E]`, experts `w1 [E, d, h]`, `b1 [E, h]`, `w2 [E, h, d]`, `b2 [E, d]`.
public final class Top2: Module, FFNLayer, FFNFlopsModel {
    public static let optionKeys: Set<String> = [
        "experts", "capacity_factor_train", "capacity_factor_eval", "min_capacity", "balance_alpha",
        "random_second", "second_threshold", "dropless", "renormalize",
    ]

    public let router: Tensor
    public let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor

    public let experts: Int
    public let capacityFactorTrain: Double
    public let capacityFactorEval: Double
    public let minCapacity: Int
    public let balanceAlpha: Float
    /// The random second-expert policy's threshold, nil when the policy is off.
    public let secondThreshold: Float?
    public let dropless: Bool
    /// GShard's renormalised gates (true) or the raw probabilities.
    public let renormalize: Bool

    public init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: Top2.optionKeys)
        experts = try options.int("experts", default: 8)
        capacityFactorTrain = try options.double("capacity_factor_train", default: 1.25)
        capacityFactorEval = try options.double("capacity_factor_eval", default: 2.0)
        minCapacity = try options.int("min_capacity", default: 4)
        balanceAlpha = Float(try options.double("balance_alpha", default: 0.01))
        let random = try options.bool("random_second", default: false)
        let threshold = try options.double("second_threshold", default: 0.2)
        dropless = try options.bool("dropless", default: false)
        renormalize = try options.bool("renormalize", default: true)
        try requireOption(experts >= 2, options, "experts", "top-2 needs at least 2 experts, got \(experts)")
        try requireOption(capacityFactorTrain > 0, options, "capacity_factor_train", "must be positive")
        try requireOption(capacityFactorEval > 0, options, "capacity_factor_eval", "must be positive")
        try requireOption(minCapacity >= 0, options, "min_capacity", "must be non-negative")
        try requireOption(balanceAlpha >= 0, options, "balance_alpha", "must be non-negative")
        try requireOption(threshold > 0, options, "second_threshold", "must be positive")
        secondThreshold = random ? Float(threshold) : nil
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
                                         minimum: minCapacity, choices: 2)
    }

    public func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput {
        let T = x.shape[0], E = experts
        var noRNG = RNG(seed: 0)
        let (_, probs) = Router.route(x, weight: router, rng: &noRNG)
        var policy: RandomSecondPolicy? = nil
        if context.training, let threshold = secondThreshold {
            policy = RandomSecondPolicy(threshold: threshold, rng: RNG(seed: context.rng.next()))
        }
        let plan = Gating.top2(probs: probs.data, tokens: T, experts: E,
                               capacity: capacity(tokens: T, training: context.training), random: policy)
        var aux: [(String, Tensor)] = []
        let gates = Flops.withCategory(.router) { () -> Tensor in
            aux.append(("balance", balanceLoss(probs: probs, fractions: plan.top1Fractions, alpha: balanceAlpha)))
            if !renormalize { return gatherEntries(probs, plan.flatIndices) }
            // g_k = p_ek / (p_e1 + p_e2 + 1e-9), the denominator per token, gathered per assignment.
            var first = [Int](repeating: 0, count: T), second = first
            for t in 0..<T {
                let a = plan.tokenOffsets[t]
                first[t] = t * E + plan.assignments[a].expert
                // Without a dispatched second choice the denominator still holds p_e2.
                second[t] = t * E + Gating.argmax(probs.data + t * E, E, skip: plan.assignments[a].expert)
            }
            let denom = gatherEntries(probs, first) + gatherEntries(probs, second) + 1e-9
            return gatherEntries(probs, plan.flatIndices) / gatherEntries(denom, plan.assignments.map(\.token))
        }
        let y = dispatchExperts(x, plan: plan, gates: gates, weights: expertWeights)
        let stats = LayerStats.routed(layer: layer, plan: plan,
                                      gateEntropy: meanEntropy(probs.data, rows: T, width: E), aux: aux)
        return RoutingOutput(y: y, auxLoss: sumAuxLosses(aux), stats: stats)
    }

    /// Router: `2·d·E + softmax(E) + E` (balance) `+ 2 + 2 + meanAssigned` (denominator sum
    /// and epsilon, one division per assignment; nominal 2 assignments per token; none of
    /// these without `renormalize`). Experts:
    /// `meanExperts · (4dh + 2h + 3d)` (nominal 2). Evaluation mode.
    public static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions,
                                            meanExperts: Double?) throws -> FFNFlops {
        try options.validate(allowed: optionKeys)
        let E = try options.int("experts", default: 8)
        var router = Double(2 * d * E + Router.softmaxFlops(width: E) + E)
        if try options.bool("renormalize", default: true) { router += 2 + 2 }
        return FFNFlops(router: router,
                        expert: (meanExperts ?? 2) * Double(expertFlopsPerAssignment(d: d, hidden: hidden)))
    }
}
