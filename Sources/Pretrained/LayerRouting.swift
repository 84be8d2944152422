import Foundation
import NN
import Routing
import Tensor

/// A pretrained BERT classifier (`PretrainedClassifier`: encoder with LoRA adapters and the
/// RoBERTa-style head) with a routing method over the encoder's own layers: the pretrained
/// track of the GLUE suite.
///
/// Methods (`RoutedPretrainedClassifier.methods`):
/// - `dense`: plain fine-tuning, the encoder's layers one after the other.
/// - `molex`: MoLEx (methods.md §5) with the pretrained layers as the experts. At layer `i`
///   with input `h`, the shared gate votes per token, each sequence takes the majority
///   block `j`, and `h' = a·Layer_i(h) + (1 − a)·Layer_j(h)`. `Layer_j` is the encoder's own
///   layer `j` (the same weights and adapters, no copies); the gate learns only from the
///   balance loss (the `MoLEx` module of `Routing`, unchanged).
/// - `dlr`: DLR (methods.md §6, a reading of the paper's abstract) over the same layers,
///   the `DLR` module of `Routing`, unchanged.
/// - `switch`, `top2`, `topp`: sparse upcycling (Komatsuzaki et al. 2023). Each layer's FFN
///   (`intermediate`, GELU, `output`) is replaced by the method's MoE layer (the `Routing`
///   module, unchanged) whose experts all start as copies of that pretrained FFN, with a
///   router from scratch; the experts and routers train fully, the rest stays frozen with
///   its adapters. The MoE layer reads the attention sublayer's output `h1` (real tokens
///   only) and its output goes through BERT's dropout, residual and output layer norm.
///   With the gates renormalised over the chosen experts (`renormalize`: GShard's
///   normalisation for top-2, a stop-gradient denominator for switch and topp; see
///   `renormalizedGates`) and no capacity drops (`dropless`), every upcycled layer computes
///   its pretrained FFN at step 0, so the model starts as the pretrained encoder; with the
///   raw probabilities as gates it starts from a scaled-down FFN instead.
///
/// The block mixers receive a `BlockEvaluator` that runs a whole post-LN BERT layer
/// (attention and FFN sublayers, each with its residual and layer norm) on the requested
/// sequences. Dropout (training mode) draws from `RoutingContext.rng`, embeddings first,
/// then the layers in evaluation order, then the head.
///
/// MoLEx's balance loss trains the gate only (the gate reads a detached copy of the layer
/// input); the adapters and the head learn from the task loss alone, as in plain
/// fine-tuning.
///
/// Parameters: the mixer's gates (and DLR's task embeddings) are drawn from the stream
/// `rng.split("mixer")` after the adapters and the head, so that the same seed gives the
/// same adapters and head whatever the method (with `a = 1`, `molex` computes exactly the
/// outputs of `dense`).
public final class RoutedPretrainedClassifier: Module {
    /// Methods that run on the pretrained encoder.
    public static let methods = ["dense", "molex", "dlr", "switch", "top2", "topp"]
    /// The FFN-slot methods built by sparse upcycling.
    public static let upcycledMethods = ["switch", "top2", "topp"]

    public let classifier: PretrainedClassifier
    /// MoLEx or DLR, nil for the other methods.
    public let mixer: BlockMixer?
    /// Switch, top-2 or top-p: one MoE layer per encoder layer, in place of its FFN (sparse
    /// upcycling); empty for the other methods.
    public let upcycled: [FFNLayer]
    public let method: String
    /// The options the method was built with.
    public let methodOptions: [String: OptionValue]
    public let lora: LoRAConfig?

    /// Wraps `encoder` in a `PretrainedClassifier` (adapters per `lora`, then the head, from
    /// `rng`) and adds the method's mixer (from `rng.split("mixer")`). Throws for a method
    /// that does not run on the pretrained encoder or an invalid option.
    public init(encoder: BertEncoder, outputs: Int, method: String, options: [String: OptionValue] = [:],
                pooling: PretrainedPooling = .cls, lora: LoRAConfig? = LoRAConfig(), rng: inout RNG) throws {
        guard RoutedPretrainedClassifier.methods.contains(method) else {
            throw UnknownMethodError(name: method, known: RoutedPretrainedClassifier.methods)
        }
        let entry = try MethodRegistry.method(method)
        let opts = try entry.options(options)
        var mixer: BlockMixer? = nil
        var upcycled: [FFNLayer] = []
        var mixerRNG = rng.split("mixer")
        switch entry.kind {
        case .ffnSlot(let make, _):
            if method == "dense" {
                // Plain `dense` only (no hidden_scale: the pretrained FFN has its own width).
                try opts.validate(allowed: [])
            } else {
                for layer in encoder.layers {
                    let moe = try make(encoder.config.hiddenSize, encoder.config.intermediateSize, opts, &mixerRNG)
                    guard let w = RoutedPretrainedClassifier.expertWeights(moe) else {
                        throw UnknownMethodError(name: method, known: RoutedPretrainedClassifier.methods)
                    }
                    RoutedPretrainedClassifier.upcycle(w, intermediate: layer.intermediate.base, output: layer.output.base)
                    upcycled.append(moe)
                }
            }
        case .blockMixer(let make):
            mixer = try make(encoder.config.hiddenSize, encoder.config.layers, opts, &mixerRNG)
        }
        classifier = PretrainedClassifier(encoder: encoder, outputs: outputs, pooling: pooling, lora: lora, rng: &rng)
        if !upcycled.isEmpty {
            // The upcycled experts train fully; the FFN they replace is no longer used.
            for layer in encoder.layers {
                for t in [LoRATarget.intermediate, .output] {
                    layer.projection(t).setLoRA(nil)
                    layer.projection(t).freezeBase()
                }
            }
        }
        self.mixer = mixer
        self.upcycled = upcycled
        self.method = method
        methodOptions = options
        self.lora = lora
        super.init()
    }

    /// The stacked expert weights of an upcycled MoE layer.
    public static func expertWeights(_ layer: FFNLayer) -> ExpertWeights? {
        if let l = layer as? SwitchTop1 { return l.expertWeights }
        if let l = layer as? Top2 { return l.expertWeights }
        if let l = layer as? DynamicTopP { return l.expertWeights }
        return nil
    }

    /// Sparse upcycling (Komatsuzaki et al. 2023): every expert starts as a copy of the
    /// pretrained FFN (`intermediate`: `[d, f]`, `output`: `[f, d]`, with their biases).
    static func upcycle(_ w: ExpertWeights, intermediate: Linear, output: Linear) {
        let E = w.experts, d = w.d, f = w.hidden
        precondition(intermediate.weight.shape == [d, f] && output.weight.shape == [f, d],
                     "upcycle: FFN \(intermediate.weight.shape), \(output.weight.shape) vs experts [\(E), \(d), \(f)]")
        for e in 0..<E {
            (w.w1.data + e * d * f).update(from: intermediate.weight.data, count: d * f)
            (w.w2.data + e * f * d).update(from: output.weight.data, count: f * d)
            if let b = intermediate.bias { (w.b1.data + e * f).update(from: b.data, count: f) } else { (w.b1.data + e * f).update(repeating: 0, count: f) }
            if let b = output.bias { (w.b2.data + e * d).update(from: b.data, count: d) } else { (w.b2.data + e * d).update(repeating: 0, count: d) }
        }
    }

    public var encoder: BertEncoder { classifier.encoder }
    public var outputs: Int { classifier.outputs }

    /// The layout of `input` for the routing modules: per-row lengths (rows right-padded,
    /// every row at least one real token).
    public static func paddedBatch(_ input: BertInput) -> PaddedBatch {
        PaddedBatch(lengths: input.tokenCounts, length: input.length)
    }

    /// What one forward pass returns.
    public struct Output {
        /// `[B, outputs]`.
        public var logits: Tensor
        /// The sum of the mixer's weighted auxiliary losses (shape `[]`), nil for `dense`.
        public var auxLoss: Tensor?
        /// One entry per layer for block mixers, empty for `dense`.
        public var stats: [LayerStats]
    }

    /// The forward pass: embeddings, the layers (mixed by the method), the head.
    /// `context.training` switches dropout; `context.taskID` is DLR's task id.
    public func forward(_ input: BertInput, context: inout RoutingContext) -> Output {
        let training = context.training
        let batch = RoutedPretrainedClassifier.paddedBatch(input)
        var h = encoder.embed(input, training: training, rng: &context.rng)
        let layers = encoder.layers
        var aux: [Tensor] = []
        var stats: [LayerStats] = []
        if let mixer {
            for i in 0..<layers.count {
                let evaluator = BlockEvaluator(input: h, batch: batch, blockCount: layers.count) { j, x, b, ctx in
                    (layers[j].forward(x, keyMask: b.isDense ? nil : b.keyMask, training: training, rng: &ctx.rng), nil)
                }
                // MoLEx's gate learns from its balance loss only: it reads a detached copy of
                // `h`, so the balance loss reaches the gate and nothing upstream. (The blocks
                // read `h` itself through the evaluator.) DLR's gates are trained by the task
                // loss through `h`, as the method says.
                let gateInput = mixer is MoLEx ? h.detached() : h
                let out = mixer.mix(gateInput, block: i, blocks: evaluator, context: &context)
                h = out.y
                if let a = out.auxLoss { aux.append(a) }
                stats.append(out.stats)
            }
        } else if !upcycled.isEmpty {
            let keyMask: [Bool]? = batch.isDense ? nil : batch.keyMask
            for (i, layer) in layers.enumerated() {
                let h1 = layer.attentionSublayer(h, keyMask: keyMask, training: training, rng: &context.rng)
                let saved = context.sequenceOffsets
                context.sequenceOffsets = batch.sequenceOffsets
                let routed = upcycled[i].forward(batch.gatherTokens(h1), layer: i, context: &context)
                context.sequenceOffsets = saved
                h = layer.outputSublayer(batch.scatterTokens(routed.y), residual: h1, training: training, rng: &context.rng)
                if let a = routed.auxLoss { aux.append(a) }
                stats.append(routed.stats)
            }
        } else {
            let keyMask: [Bool]? = batch.isDense ? nil : batch.keyMask
            for layer in layers { h = layer.forward(h, keyMask: keyMask, training: training, rng: &context.rng) }
        }
        let total: Tensor? = aux.isEmpty ? nil : Flops.withCategory(.router) { aux.dropFirst().reduce(aux[0]) { $0 + $1 } }
        let logits = Flops.withCategory(.other) { classifier.head(h, mask: input.mask, training: training, rng: &context.rng) }
        return Output(logits: logits, auxLoss: total, stats: stats)
    }

    /// Evaluation outputs (no dropout, no gradients); the mode is restored afterwards.
    public func predict(_ input: BertInput, taskID: Int = 0) -> Output {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var context = RoutingContext(training: false, rng: RNG(seed: 0), taskID: taskID, sequenceOffsets: [])
        return Autograd.noGrad { forward(input, context: &context) }
    }

    /// Every tensor the model uses (frozen pretrained weights included), each once; with
    /// sparse upcycling the replaced FFN weights are not counted.
    public var totalParameterCount: Int {
        let all = namedTensors().reduce(0) { $0 + $1.1.count }
        guard !upcycled.isEmpty else { return all }
        return all - encoder.layers.reduce(0) { n, l in
            n + [l.intermediate.base, l.output.base].reduce(0) { $0 + $1.weight.count + ($1.bias?.count ?? 0) }
        }
    }

    /// Parameters used per example: all of them, except, with sparse upcycling, the experts
    /// not chosen (`E − kept` experts per layer, `kept` the mean kept assignments per token
    /// of the layer's statistics).
    public func activeParameterCount(stats: [LayerStats]) -> Double {
        let total = Double(totalParameterCount)
        guard !upcycled.isEmpty else { return total }
        var unused = 0.0
        for (i, moe) in upcycled.enumerated() {
            guard let w = RoutedPretrainedClassifier.expertWeights(moe), i < stats.count else { continue }
            let perExpert = Double(w.all.reduce(0) { $0 + $1.count }) / Double(w.experts)
            let s = stats[i]
            let kept = Double(s.assignedPerUnit.reduce(0, +) - s.dropped) / Double(max(s.routed, 1))
            unused += (Double(w.experts) - kept) * perExpert
        }
        return total - unused
    }

    /// Analytic forward FLOPs of one pass on `input` (one multiply-add = 2), given the
    /// statistics the same pass produced (the chosen blocks of every sequence), by category
    /// as the engine counts them: embeddings (two sums and a layer norm); per layer
    /// evaluation (`R` padded rows) the four attention projections `2·R·d² + R·d` each, the
    /// fused attention, the residual and the layer norm (`.attention`), the two FFN
    /// projections, GELU, residual and layer norm (`.expert`), each adapter
    /// `2·R·r·(in + out) + 2·R·out`; the mixer's gates and combine (`mixingFlops`), the sum
    /// of the layers' auxiliary losses (`.router`); the head (`.other`).
    public func analyticFlops(_ input: BertInput, stats: [LayerStats]) -> FlopsBreakdown {
        let c = encoder.config, d = c.hiddenSize, fh = c.intermediateSize
        let batch = RoutedPretrainedClassifier.paddedBatch(input)
        let B = batch.batchSize, T = batch.length
        var f = FlopsBreakdown()
        let ln = OpFlops.layerNormPerElement
        f.embedding += Double(2 * B * T * d) + Double(B * T * d) * ln

        func adapter(_ rows: Int, _ target: LoRATarget, _ inF: Int, _ outF: Int) -> Double {
            guard let lora, lora.targets.contains(target) else { return 0 }
            return 2 * Double(rows * lora.rank * (inF + outF)) + 2 * Double(rows * outF)
        }
        func layer(_ sub: PaddedBatch) {
            let R = sub.batchSize * sub.length, Rd = Double(R * d)
            var att = 4 * OpFlops.linear(rows: R, in: d, out: d)
                + OpFlops.attention(batch: sub.batchSize, length: sub.length, d: d, heads: c.heads) + Rd + Rd * ln
            for t in [LoRATarget.query, .key, .value, .attentionOutput] { att += adapter(R, t, d, d) }
            f.attention += att
            f.expert += OpFlops.linear(rows: R, in: d, out: fh) + Double(R * fh) * OpFlops.geluPerElement
                + OpFlops.linear(rows: R, in: fh, out: d) + Rd + Rd * ln
                + adapter(R, .intermediate, d, fh) + adapter(R, .output, fh, d)
        }
        if !upcycled.isEmpty, case .ffnSlot(_, let methodFlops)? = try? MethodRegistry.method(method).kind {
            var auxTerms = 0
            for (i, s) in stats.enumerated() {
                let R = B * T, Rd = Double(R * d)
                var att = 4 * OpFlops.linear(rows: R, in: d, out: d)
                    + OpFlops.attention(batch: B, length: T, d: d, heads: c.heads) + Rd + Rd * ln
                for t in [LoRATarget.query, .key, .value, .attentionOutput] { att += adapter(R, t, d, d) }
                f.attention += att
                let kept = Double(s.assignedPerUnit.reduce(0, +) - s.dropped) / Double(max(s.routed, 1))
                let opts = (try? MethodRegistry.method(method).options(methodOptions)) ?? MethodOptions(method: method)
                if let ffn = try? methodFlops(d, fh, opts, kept) {
                    f.expert += Double(batch.tokenCount) * ffn.expert
                    f.router += Double(batch.tokenCount) * ffn.router
                }
                f.expert += Rd + Rd * ln
                if !s.aux.isEmpty { auxTerms += 1 }
                _ = i
            }
            f.router += Double(max(auxTerms - 1, 0))
        } else if let mixer = mixer as? RegisteredMixer {
            var auxTerms = 0
            for (i, s) in stats.enumerated() {
                layer(batch)
                var groups: [Int: [Int]] = [:]
                for (b, chosen) in (s.chosenBlocks ?? []).enumerated() {
                    for j in Set(chosen) where j != i { groups[j, default: []].append(b) }
                }
                for (_, seqs) in groups { layer(batch.subset(seqs.sorted())) }
                let m = mixer.mixingFlops(d: d, batch: batch, stats: s)
                f.router += m.router
                f.expert += m.combine
                auxTerms += 1
            }
            f.router += Double(max(auxTerms - 1, 0))
        } else {
            for _ in 0..<c.layers { layer(batch) }
        }
        if classifier.pooling == .mean { f.other += Double(2 * B * T * d) }
        f.other += OpFlops.linear(rows: B, in: d, out: d) + Double(B * d) + OpFlops.linear(rows: B, in: d, out: outputs)
        return f
    }
}
