/// Analytic forward FLOPs and parameter counts of a model + method, and the engine-counted
/// FLOPs of the same forward pass.
///
/// Convention: one multiply-add = 2 FLOPs (MACs = FLOPs / 2). The analytic count is a sum
/// of closed-form lines, one per category, built from the shapes and the per-op counts the
/// engine documents (`OpFlops`). Data-dependent methods (top-p's experts per token,
/// capacity drops, MoLEx's and DLR's chosen blocks) enter through the statistics measured
/// on the same pass, as the suite reports them. Block evaluations of the mixers follow
/// `1 + |chosen blocks other than i|` per sequence and block (about 2x dense for MoLEx,
/// `1 + |S|` minus the reuse when `i ∈ S` for DLR).
///
/// Lines (forward, evaluation mode, per batch, then divided by `B` for "per example"):
/// - embedding: the front end (see `TextFrontEnd`, `ImageFrontEnd`, `SpeechFrontEnd`);
/// - attention: per block evaluation `4·(2·B·T·d² + B·T·d) + 4·B·T²·d + 5·B·heads·T²`;
/// - expert: FFN layers' expert line (`FFNFlopsModel`, per real token) and the mixers'
///   combine;
/// - router: FFN layers' router line, the mixers' gates and losses, and the sum of the
///   layers' auxiliary losses;
/// - other: layer norms, residual additions, the FFN token scatter when a batch has
///   padding, the final norm and the head.

/// Forward FLOPs of the engine ops, as documented where each op is defined.
public enum OpFlops {
    /// `linear(x [rows, in], w [in, out], bias)`: `2·rows·in·out (+ rows·out)`.
    public static func linear(rows: Int, in i: Int, out o: Int, bias: Bool = true) -> Double {
        Double(2 * rows * i * o + (bias ? rows * o : 0))
    }
    /// Softmax of one row of `width` values.
    public static func softmax(width: Int) -> Double { Double(5 * width) }
    /// Layer norm, per element.
    public static let layerNormPerElement: Double = 8
    /// GELU, per element.
    public static let geluPerElement: Double = 1
    /// `scatterAdd`, per source element: 2 with weights (a multiply-add); 0 without (data movement, as the engine counts it).
    public static func scatterAddPerElement(weighted: Bool) -> Double { weighted ? 2 : 0 }
    /// The fused multi-head attention kernel (`attention`): `4·N·dh + 5·N`, `N = B·heads·T²`.
    public static func attention(batch B: Int, length T: Int, d: Int, heads: Int) -> Double {
        let n = Double(B * heads * T * T)
        return 4 * n * Double(d / heads) + 5 * n
    }
    /// A convolution as a GEMM: `2·outputs·Cout·(Cin·K) + outputs·Cout` (with bias), where
    /// `outputs` counts output positions over the batch.
    public static func conv(outputs: Int, outChannels: Int, patch: Int, bias: Bool = true) -> Double {
        Double(2 * outputs * outChannels * patch + (bias ? outputs * outChannels : 0))
    }
}

/// FLOPs by category.
public struct FlopsBreakdown: Codable, Equatable, Sendable {
    public var attention: Double = 0
    public var expert: Double = 0
    public var router: Double = 0
    public var embedding: Double = 0
    public var other: Double = 0

    public init(attention: Double = 0, expert: Double = 0, router: Double = 0, embedding: Double = 0, other: Double = 0) {
        self.attention = attention
        self.expert = expert
        self.router = router
        self.embedding = embedding
        self.other = other
    }

    /// The engine's forward counts.
    public init(counter: FlopCounter) {
        attention = Double(counter.forward(.attention))
        expert = Double(counter.forward(.expert))
        router = Double(counter.forward(.router))
        embedding = Double(counter.forward(.embedding))
        other = Double(counter.forward(.other))
    }

    public var total: Double { attention + expert + router + embedding + other }

    public func scaled(_ s: Double) -> FlopsBreakdown {
        FlopsBreakdown(attention: attention * s, expert: expert * s, router: router * s, embedding: embedding * s, other: other * s)
    }
}

/// Analytic and counted forward FLOPs per example, parameters, and the measured routing.
public struct FlopsReport: Codable, Equatable, Sendable {
    public var method: String
    public var analytic: FlopsBreakdown
    public var counted: FlopsBreakdown
    public var totalParams: Int
    public var activeParams: Int
    /// Parameters of the router / gates / task embeddings (mixers: the whole mixer).
    public var routerParams: Int
    /// Mean experts per token over the routed FFN layers, or mean block evaluations per
    /// sequence and block for mixers.
    public var meanUnits: Double

    /// `|analytic - counted| / counted` of the totals.
    public var relativeDifference: Double {
        counted.total == 0 ? 0 : abs(analytic.total - counted.total) / counted.total
    }
}

public enum FlopsModel {
    /// Analytic forward FLOPs of `model` on `input` (per batch), given the statistics the
    /// same forward pass produced.
    public static func analytic(model: Model, input: ModelInput, stats: [LayerStats]) throws -> FlopsBreakdown {
        let cfg = model.config, bc = cfg.backbone, d = bc.d
        var f = FlopsBreakdown()

        // Front end.
        let batch: PaddedBatch
        switch input {
        case .text(let tokens, _):
            batch = PaddedBatch(lengths: tokens.map(\.count))
            f.embedding += Double(2 * batch.batchSize * batch.length * d)
        case .image(let x):
            let B = x.shape[0], P = (x.shape[2] / cfg.patchSize) * (x.shape[3] / cfg.patchSize)
            batch = PaddedBatch(lengths: [Int](repeating: P + 1, count: B))
            f.embedding += OpFlops.conv(outputs: B * P, outChannels: d, patch: cfg.channels * cfg.patchSize * cfg.patchSize)
                + Double(B * d + B * (P + 1) * d)
        case .speech(let x, let lengths):
            let B = x.shape[0], F = x.shape[1], F1 = strideTwoLength(F), F2 = strideTwoLength(F1)
            batch = PaddedBatch(lengths: lengths.map(subsampledLength), length: F2)
            f.embedding += OpFlops.conv(outputs: B * F1, outChannels: d, patch: cfg.melBins * 3)
                + Double(B * F1 * d) * OpFlops.geluPerElement
                + (lengths.contains { $0 < F } ? Double(B * F1 * d) : 0)
                + OpFlops.conv(outputs: B * F2, outChannels: d, patch: d * 3)
                + Double(B * F2 * d) * OpFlops.geluPerElement + Double(B * F2 * d)
        }

        // Backbone.
        let entry = try MethodRegistry.method(model.method)
        let dense = try Dense.forwardFlopsPerToken(d: d, hidden: bc.ffnHidden, options: MethodOptions(method: "dense"),
                                                   meanExperts: nil)
        var auxTerms = 0
        if let mixer = model.backbone.mixer as? RegisteredMixer {
            precondition(stats.count == bc.depth, "FlopsModel: \(stats.count) statistics for \(bc.depth) mixing steps")
            for (i, s) in stats.enumerated() {
                block(&f, batch, bc, ffn: dense)
                var groups: [Int: [Int]] = [:]
                for (b, chosen) in (s.chosenBlocks ?? []).enumerated() {
                    for j in Set(chosen) where j != i { groups[j, default: []].append(b) }
                }
                for (_, seqs) in groups { block(&f, batch.subset(seqs), bc, ffn: dense) }
                let m = mixer.mixingFlops(d: d, batch: batch, stats: s)
                f.router += m.router
                f.expert += m.combine
                if !s.aux.isEmpty { auxTerms += 1 }
            }
        } else {
            guard case .ffnSlot(_, let methodFlops) = entry.kind else { preconditionFailure("FlopsModel: no mixer for \(model.method)") }
            var next = 0
            for i in 0..<bc.depth {
                if bc.isRouted(block: i) {
                    precondition(next < stats.count, "FlopsModel: missing statistics for block \(i)")
                    let s = stats[next]
                    next += 1
                    let kept = Double(s.assignedPerUnit.reduce(0, +) - s.dropped) / Double(max(s.routed, 1))
                    block(&f, batch, bc, ffn: try methodFlops(d, bc.ffnHidden, model.options, kept))
                    if !s.aux.isEmpty { auxTerms += 1 }
                } else {
                    block(&f, batch, bc, ffn: dense)
                }
            }
        }
        f.router += Double(max(auxTerms - 1, 0))
        f.other += Double(batch.batchSize * batch.length * d) * OpFlops.layerNormPerElement

        // Head.
        let B = batch.batchSize
        switch cfg.head {
        case .classification(let c): f.other += OpFlops.linear(rows: B, in: d, out: c)
        case .regression: f.other += OpFlops.linear(rows: B, in: d, out: 1)
        case .ctc(let v): f.other += OpFlops.linear(rows: B * batch.length, in: d, out: v)
        }
        return f
    }

    /// One block evaluation on `batch` with an FFN of `ffn` FLOPs per real token.
    static func block(_ f: inout FlopsBreakdown, _ batch: PaddedBatch, _ bc: BackboneConfig, ffn: FFNFlops) {
        let B = batch.batchSize, T = batch.length, d = bc.d, N = Double(batch.tokenCount)
        let BTd = Double(B * T * d)
        f.attention += 4 * OpFlops.linear(rows: B * T, in: d, out: d)
            + OpFlops.attention(batch: B, length: T, d: d, heads: bc.heads)
        f.other += 2 * BTd * OpFlops.layerNormPerElement + 2 * BTd
            + (batch.isDense ? 0 : N * Double(d) * OpFlops.scatterAddPerElement(weighted: false))
        f.expert += N * ffn.expert
        f.router += N * ffn.router
    }

    /// Runs `model.forward` once on `input` in evaluation mode without gradients, counting
    /// FLOPs, and returns the analytic and counted FLOPs per example, the parameter counts
    /// and the measured routing.
    public static func measure(model: Model, input: ModelInput, taskID: Int = 0) throws -> FlopsReport {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let counter = FlopCounter()
        var context = RoutingContext(training: false, rng: RNG(seed: 0), taskID: taskID, sequenceOffsets: [])
        let out = Flops.counting(into: counter) { Autograd.noGrad { model.forward(input, context: &context) } }
        let B = Double(input.batchSize)
        let analytic = try analytic(model: model, input: input, stats: out.stats)
        let bc = model.config.backbone
        let total = model.parameterCount
        var inactive = 0.0, units = 0.0
        if model.backbone.mixer == nil {
            let perExpert = Double(2 * bc.d * bc.ffnHidden + bc.ffnHidden + bc.d)
            for s in out.stats {
                let E = Double(s.assignedPerUnit.count)
                let k = s.meanChosen
                inactive += max(E - k, 0) * perExpert * (E > 1 ? 1 : 0)
                units += k
            }
        } else {
            for (i, s) in out.stats.enumerated() {
                let extra = (s.chosenBlocks ?? []).reduce(0) { $0 + Set($1).subtracting([i]).count }
                units += 1 + Double(extra) / Double(max(s.routed, 1))
            }
        }
        units /= Double(max(out.stats.count, 1))
        let routerParams: Int
        if let mixer = model.backbone.mixer {
            routerParams = mixer.parameterCount
        } else {
            routerParams = model.backbone.blocks.reduce(0) { acc, b in
                acc + (b.ffn as Module).namedParameters().filter { isRouterParameter($0.0) }.reduce(0) { $0 + $1.1.count }
            }
        }
        return FlopsReport(method: model.method, analytic: analytic.scaled(1 / B),
                           counted: FlopsBreakdown(counter: counter).scaled(1 / B),
                           totalParams: total, activeParams: total - Int(inactive.rounded()),
                           routerParams: routerParams, meanUnits: units)
    }

    /// Router parameters of an FFN layer: names containing "router" or "noise" (the
    /// routing modules' `router`, `groupRouter`, `noiseWeight`).
    static func isRouterParameter(_ name: String) -> Bool {
        let n = name.lowercased()
        return n.contains("router") || n.contains("noise")
    }

    /// A random batch for `config`: `batchSize` examples of `length` tokens (text), images
    /// (image) or `length` frames (speech), all of full length.
    public static func syntheticInput(config: ModelConfig, batchSize B: Int, length: Int, rng: inout RNG) -> ModelInput {
        switch config.frontEnd {
        case .text:
            let tokens = (0..<B).map { _ in (0..<length).map { _ in rng.int(config.vocabSize) } }
            let segments = (0..<B).map { _ in (0..<length).map { $0 < length / 2 ? 0 : min(1, config.segments - 1) } }
            return .text(tokens: tokens, segments: segments)
        case .image:
            return .image(Tensor.randn([B, config.channels, config.imageSize, config.imageSize], rng: &rng))
        case .speech:
            return .speech(features: Tensor.randn([B, length, config.melBins], rng: &rng),
                           lengths: [Int](repeating: length, count: B))
        }
    }
}
