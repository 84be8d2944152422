/// The dense FFN, the reference for every ratio: `FFN(x) = W2 gelu(W1 x + b1) + b2`,
/// `W1: [d, h]`, `W2: [h, d]`, `h = hidden · hidden_scale`.
///
/// Options: `hidden_scale` (integer >= 1, default 1): `2` gives the dense baseline with the
/// same active FLOPs as top-2 (`h = 2 × 4d` for the standard `hidden = 4d`).
///
/// Built from the engine's own ops (`linear`, `gelu`), independently of the expert dispatch
/// path, so that "one expert, k = 1, no capacity limit equals the dense FFN" is a real test.
/// FLOPs per token (category `.expert`): `4·d·h + 2·h + d`.
public final class Dense: Module, FFNLayer, FFNFlopsModel {
    public static let optionKeys: Set<String> = ["hidden_scale"]

    /// `x W1 + b1`: weight `[d, h]`, bias `[h]`.
    public let fc1: Linear
    /// `· W2 + b2`: weight `[h, d]`, bias `[d]`.
    public let fc2: Linear

    public init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: Dense.optionKeys)
        let scale = try options.int("hidden_scale", default: 1)
        try requireOption(scale >= 1, options, "hidden_scale", "must be at least 1, got \(scale)")
        fc1 = Linear(d, hidden * scale, rng: &rng)
        fc2 = Linear(hidden * scale, d, rng: &rng)
        super.init()
    }

    /// A dense FFN over given layers (tests, weight sharing).
    public init(fc1: Linear, fc2: Linear) {
        precondition(fc1.outFeatures == fc2.inFeatures && fc1.inFeatures == fc2.outFeatures,
                     "Dense: layer shapes \(fc1.weight.shape), \(fc2.weight.shape) do not chain")
        self.fc1 = fc1
        self.fc2 = fc2
        super.init()
    }

    public func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput {
        let T = x.shape[0]
        let y = Flops.withCategory(.expert) { fc2(fc1(x).gelu()) }
        let stats = LayerStats(layer: layer, assignedPerUnit: [T], routed: T, chosenHistogram: [0, T],
                               gateEntropy: 0)
        return RoutingOutput(y: y, auxLoss: nil, stats: stats)
    }

    public static func forwardFlopsPerToken(d: Int, hidden: Int, options: MethodOptions,
                                            meanExperts: Double?) throws -> FFNFlops {
        try options.validate(allowed: optionKeys)
        let h = hidden * (try options.int("hidden_scale", default: 1))
        return FFNFlops(router: 0, expert: Double(4 * d * h + 2 * h + d))
    }
}
