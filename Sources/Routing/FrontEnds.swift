import Foundation

/// The three front ends and heads, and `Model` = front end + backbone + head.
///
/// - Text: token + position + segment embeddings; the head reads the final-normed state of
///   the first token (the tokenizer's `[CLS]`): classification logits `[B, C]` or a
///   regression score `[B]` (STS-B).
/// - Image (ViT): `4x4` patches of `32x32x3` images embedded by a stride-4 `conv2d`
///   (equivalent to reshape + linear), a learned class token first, learned position
///   embeddings; the head reads the class token: logits `[B, 100]`.
/// - Speech: `80`-bin log-mel frames `[B, frames, 80]`, `4x` time subsampling by two
///   `conv1d` (kernel 3, stride 2, padding 1) each followed by GELU, learned position
///   embeddings; a per-frame character head `[B, T', V]` for CTC (blank = 0).
///   Each conv maps a length `n` to `floor((n + 2 - 3) / 2) + 1 = ceil(n / 2)`, so an
///   utterance of `n` frames gives `ceil(ceil(n / 2) / 2)` outputs (`subsampledLength`).
///   Frames past an utterance's length are zeroed before each conv, so an utterance's
///   outputs do not depend on how much padding its batch has.

/// Which front end and head a model has.
public enum FrontEndKind: String, Codable, Sendable, CaseIterable {
    case text, image, speech
}

/// What a model predicts.
public enum HeadKind: Codable, Equatable, Sendable {
    /// Logits over `classes`, cross-entropy loss.
    case classification(classes: Int)
    /// One score per example, mean-squared-error loss (STS-B).
    case regression
    /// Per-frame logits over `vocabulary` symbols (blank = 0), CTC loss.
    case ctc(vocabulary: Int)

    var outputs: Int {
        switch self {
        case .classification(let c): return c
        case .regression: return 1
        case .ctc(let v): return v
        }
    }
}

/// Everything that shapes a model besides the routing method.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var frontEnd: FrontEndKind
    public var backbone: BackboneConfig
    public var head: HeadKind
    /// Text: token vocabulary size.
    public var vocabSize: Int
    /// Text: segment (token type) ids.
    public var segments: Int
    /// Image: side, patch side and channels.
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    /// Speech: features per frame.
    public var melBins: Int

    public init(frontEnd: FrontEndKind, backbone: BackboneConfig, head: HeadKind, vocabSize: Int = 4000,
                segments: Int = 2, imageSize: Int = 32, patchSize: Int = 4, channels: Int = 3, melBins: Int = 80) {
        self.frontEnd = frontEnd
        self.backbone = backbone
        self.head = head
        self.vocabSize = vocabSize
        self.segments = segments
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channels = channels
        self.melBins = melBins
    }

    /// Throws `ConfigError` for impossible sizes or a head that does not fit the front end.
    public func validate() throws {
        try backbone.validate()
        switch (frontEnd, head) {
        case (.text, .classification), (.text, .regression), (.image, .classification), (.speech, .ctc): break
        default: throw ConfigError(key: "head", message: "a \(frontEnd.rawValue) model cannot have the head \(head)")
        }
        guard head.outputs >= 1 else { throw ConfigError(key: "head", message: "needs at least one output") }
        if case .ctc(let v) = head, v < 2 { throw ConfigError(key: "head", message: "CTC needs blank plus at least one symbol") }
        switch frontEnd {
        case .text:
            guard vocabSize >= 1, segments >= 1 else { throw ConfigError(key: "vocab_size", message: "vocabulary and segments must be positive") }
        case .image:
            guard patchSize >= 1, imageSize % patchSize == 0, channels >= 1 else {
                throw ConfigError(key: "patch_size", message: "image size \(imageSize) must be a multiple of patch size \(patchSize)")
            }
            guard backbone.maxLength >= patchCount + 1 else {
                throw ConfigError(key: "max_length", message: "must be at least patches + 1 = \(patchCount + 1), got \(backbone.maxLength)")
            }
        case .speech:
            guard melBins >= 1 else { throw ConfigError(key: "mel_bins", message: "must be positive") }
        }
    }

    /// Image: patches per image.
    public var patchCount: Int { (imageSize / patchSize) * (imageSize / patchSize) }
}

/// The inputs of one batch.
public enum ModelInput {
    /// Token ids per sequence (first token pooled by the head) and optional segment ids.
    case text(tokens: [[Int]], segments: [[Int]]?)
    /// `[B, channels, H, W]` pixel values.
    case image(Tensor)
    /// `[B, frames, melBins]` features and the real frames of each utterance.
    case speech(features: Tensor, lengths: [Int])

    public var batchSize: Int {
        switch self {
        case .text(let t, _): return t.count
        case .image(let x): return x.shape[0]
        case .speech(_, let l): return l.count
        }
    }
}

/// The targets of one batch.
public enum ModelTargets {
    case classes([Int])
    case scores([Float])
    /// Symbol ids per utterance (no blanks).
    case transcripts([[Int]])
}

/// Output length of one `conv1d(kernel 3, stride 2, padding 1)`: `ceil(n / 2)`.
@inline(__always)
public func strideTwoLength(_ n: Int) -> Int { (n + 2 - 3) / 2 + 1 }

/// Frames after the speech front end's two stride-2 convolutions: `ceil(ceil(n / 2) / 2)`.
public func subsampledLength(_ frames: Int) -> Int { strideTwoLength(strideTwoLength(frames)) }

/// A front end maps a batch to `[B, T, d]` and its layout.
public protocol FrontEnd: Module {
    func embed(_ input: ModelInput, context: inout RoutingContext) -> (Tensor, PaddedBatch)
}

/// Token + position + segment embeddings (each `N(0, 0.02²)`), dropout. Counted under
/// `.embedding`: `2·B·T·d` forward FLOPs for the two additions (lookups are data movement).
public final class TextFrontEnd: Module, FrontEnd {
    public let tokenEmbedding: Tensor
    public let positionEmbedding: Tensor
    public let segmentEmbedding: Tensor
    public let dropoutRate: Float

    public init(vocabSize: Int, segments: Int, maxLength: Int, d: Int, dropout: Float, rng: inout RNG) {
        tokenEmbedding = Init.normal([vocabSize, d], std: 0.02, rng: &rng)
        positionEmbedding = Init.normal([maxLength, d], std: 0.02, rng: &rng)
        segmentEmbedding = Init.normal([segments, d], std: 0.02, rng: &rng)
        dropoutRate = dropout
        super.init()
    }

    public func embed(_ input: ModelInput, context: inout RoutingContext) -> (Tensor, PaddedBatch) {
        guard case .text(let tokens, let segments) = input else { preconditionFailure("TextFrontEnd needs text input") }
        let batch = PaddedBatch(lengths: tokens.map(\.count))
        let B = batch.batchSize, T = batch.length, d = tokenEmbedding.shape[1]
        precondition(T <= positionEmbedding.shape[0], "TextFrontEnd: sequence of \(T) tokens, max_length \(positionEmbedding.shape[0])")
        var ids = [Int](repeating: 0, count: B * T), segs = ids, pos = ids
        for b in 0..<B {
            for (t, id) in tokens[b].enumerated() {
                precondition(id >= 0 && id < tokenEmbedding.shape[0], "TextFrontEnd: token id \(id) outside the vocabulary")
                ids[b * T + t] = id
            }
            if let s = segments?[b] {
                precondition(s.count == tokens[b].count, "TextFrontEnd: \(s.count) segment ids for \(tokens[b].count) tokens")
                for (t, v) in s.enumerated() {
                    precondition(v >= 0 && v < segmentEmbedding.shape[0], "TextFrontEnd: segment id \(v)")
                    segs[b * T + t] = v
                }
            }
            for t in 0..<T { pos[b * T + t] = t }
        }
        let x = Flops.withCategory(.embedding) {
            embedding(tokenEmbedding, ids: ids) + embedding(positionEmbedding, ids: pos)
                + embedding(segmentEmbedding, ids: segs)
        }
        let out = dropout(x.reshaped([B, T, d]), p: dropoutRate, rng: &context.rng, training: context.training)
        return (out, batch)
    }
}

/// ViT patch embedding: `conv2d(x, W [d, C, p, p], b, stride p)` (each patch's `C·p·p`
/// pixels times `W`), patches in row-major order, a learned class token first, learned
/// position embeddings (`N(0, 0.02²)`), dropout. Counted under `.embedding`, forward FLOPs
/// `B·P·(2·d·C·p² + d)` for the conv, `B·d` to broadcast the class token and `B·(P+1)·d`
/// for the positions (`P` patches).
public final class ImageFrontEnd: Module, FrontEnd {
    public let patchWeight: Tensor
    public let patchBias: Tensor
    public let classToken: Tensor
    public let positionEmbedding: Tensor
    public let patchSize: Int
    public let dropoutRate: Float

    public init(imageSize: Int, patchSize: Int, channels: Int, d: Int, dropout: Float, rng: inout RNG) {
        let fanIn = channels * patchSize * patchSize
        patchWeight = Init.linearDefault([d, channels, patchSize, patchSize], fanIn: fanIn, rng: &rng)
        patchBias = Init.linearDefault([d], fanIn: fanIn, rng: &rng)
        classToken = Init.normal([1, 1, d], std: 0.02, rng: &rng)
        let patches = (imageSize / patchSize) * (imageSize / patchSize)
        positionEmbedding = Init.normal([patches + 1, d], std: 0.02, rng: &rng)
        self.patchSize = patchSize
        dropoutRate = dropout
        super.init()
    }

    public func embed(_ input: ModelInput, context: inout RoutingContext) -> (Tensor, PaddedBatch) {
        guard case .image(let images) = input else { preconditionFailure("ImageFrontEnd needs image input") }
        precondition(images.rank == 4 && images.shape[1] == patchWeight.shape[1],
                     "ImageFrontEnd: images must be [B, \(patchWeight.shape[1]), H, W], got \(images.shape)")
        let B = images.shape[0], d = patchWeight.shape[0]
        let x = Flops.withCategory(.embedding) { () -> Tensor in
            let grid = conv2d(images, patchWeight, patchBias, stride: patchSize, padding: 0)  // [B, d, h, w]
            let P = grid.shape[2] * grid.shape[3]
            precondition(P + 1 == positionEmbedding.shape[0], "ImageFrontEnd: \(P) patches, built for \(positionEmbedding.shape[0] - 1)")
            let patches = grid.reshaped([B, d, P]).transposed(1, 2)                           // [B, P, d]
            let cls = Tensor(zeros: [B, 1, d]) + classToken                                   // [B, 1, d]
            return Tensor.concat([cls, patches], axis: 1) + positionEmbedding                 // [B, P+1, d]
        }
        let batch = PaddedBatch(lengths: [Int](repeating: x.shape[1], count: B))
        return (dropout(x, p: dropoutRate, rng: &context.rng, training: context.training), batch)
    }
}

/// Two stride-2 `conv1d` (kernel 3, padding 1, with bias) each followed by GELU, then
/// learned position embeddings (`N(0, 0.02²)`) and dropout. `features: [B, F, melBins]`
/// gives `[B, F2, d]` with `F2 = subsampledLength(F)`, utterance `b` owning the first
/// `subsampledLength(lengths[b])` positions. Counted under `.embedding`, forward FLOPs
/// `B·F1·(2·d·melBins·3 + d) + B·F1·d·gelu + B·F2·(2·d·d·3 + d) + B·F2·d·gelu + B·F2·d`
/// (`F1 = ceil(F / 2)`), plus `B·d·F1` for re-zeroing the padding between the convs when
/// some utterance is shorter than `F`.
public final class SpeechFrontEnd: Module, FrontEnd {
    public let conv1Weight: Tensor
    public let conv1Bias: Tensor
    public let conv2Weight: Tensor
    public let conv2Bias: Tensor
    public let positionEmbedding: Tensor
    public let dropoutRate: Float

    public init(melBins: Int, maxFrames: Int, d: Int, dropout: Float, rng: inout RNG) {
        conv1Weight = Init.linearDefault([d, melBins, 3], fanIn: melBins * 3, rng: &rng)
        conv1Bias = Init.linearDefault([d], fanIn: melBins * 3, rng: &rng)
        conv2Weight = Init.linearDefault([d, d, 3], fanIn: d * 3, rng: &rng)
        conv2Bias = Init.linearDefault([d], fanIn: d * 3, rng: &rng)
        positionEmbedding = Init.normal([subsampledLength(maxFrames), d], std: 0.02, rng: &rng)
        dropoutRate = dropout
        super.init()
    }

    public func embed(_ input: ModelInput, context: inout RoutingContext) -> (Tensor, PaddedBatch) {
        guard case .speech(let features, let lengths) = input else { preconditionFailure("SpeechFrontEnd needs speech input") }
        let melBins = conv1Weight.shape[1], d = conv1Weight.shape[0]
        precondition(features.rank == 3 && features.shape[2] == melBins && features.shape[0] == lengths.count,
                     "SpeechFrontEnd: features \(features.shape) vs [\(lengths.count), frames, \(melBins)]")
        let B = features.shape[0], F = features.shape[1]
        precondition(lengths.allSatisfy { $0 >= 1 && $0 <= F }, "SpeechFrontEnd: lengths \(lengths) must be in 1...\(F)")
        let F1 = strideTwoLength(F), F2 = strideTwoLength(F1)
        precondition(F2 <= positionEmbedding.shape[0], "SpeechFrontEnd: \(F) frames exceed max_length")
        let padded = lengths.contains { $0 < F }
        // Zero the frames past each utterance (a constant input: no gradient needed).
        let x0: Tensor
        if padded {
            x0 = Tensor(zeros: features.shape)
            for b in 0..<B { (x0.data + b * F * melBins).update(from: features.data + b * F * melBins, count: lengths[b] * melBins) }
        } else {
            x0 = features
        }
        let x = Flops.withCategory(.embedding) { () -> Tensor in
            var h = conv1d(x0.transposed(1, 2), conv1Weight, conv1Bias, stride: 2, padding: 1).gelu()  // [B, d, F1]
            if padded {
                var mask = [Float](repeating: 0, count: B * F1)
                for b in 0..<B { for t in 0..<strideTwoLength(lengths[b]) { mask[b * F1 + t] = 1 } }
                h = h * Tensor(shape: [B, 1, F1], scalars: mask)
            }
            h = conv1d(h, conv2Weight, conv2Bias, stride: 2, padding: 1).gelu()                       // [B, d, F2]
            return h.transposed(1, 2) + positionEmbedding.indexSelect(rows: Array(0..<F2))            // [B, F2, d]
        }
        let batch = PaddedBatch(lengths: lengths.map(subsampledLength), length: F2)
        precondition(x.shape == [B, F2, d])
        return (dropout(x, p: dropoutRate, rng: &context.rng, training: context.training), batch)
    }
}

/// A forward pass's results.
public struct ModelOutput {
    /// Classification logits `[B, C]`, regression scores `[B]`, or CTC logits `[B, T', V]`.
    public var output: Tensor
    /// Speech: valid output frames per utterance.
    public var outputLengths: [Int]?
    public var auxLoss: Tensor?
    public var stats: [LayerStats]
}

/// A training loss and its parts.
public struct ModelLoss {
    /// `task + aux`, shape `[]`.
    public var total: Tensor
    public var task: Tensor
    public var aux: Tensor?
    public var output: ModelOutput
}

/// Front end + shared backbone (with one routing method) + head.
public final class Model: Module {
    public let config: ModelConfig
    /// The registered method name and its validated options.
    public let method: String
    public let options: MethodOptions
    public let frontEnd: FrontEnd
    public let backbone: Backbone
    /// `[d, outputs]` with bias, on the pooled token (text, image) or on every frame (speech).
    public let head: Linear

    /// Parameters are drawn from independent streams of `rng` for the front end, the
    /// backbone and the head.
    public init(config: ModelConfig, method: String, options: [String: OptionValue] = [:], rng: inout RNG) throws {
        try config.validate()
        self.config = config
        self.method = method
        self.options = try MethodRegistry.method(method).options(options)
        let bc = config.backbone, d = bc.d, p = Float(bc.dropout)
        var frontRNG = rng.split("front-end"), backboneRNG = rng.split("backbone"), headRNG = rng.split("head")
        switch config.frontEnd {
        case .text:
            frontEnd = TextFrontEnd(vocabSize: config.vocabSize, segments: config.segments, maxLength: bc.maxLength,
                                    d: d, dropout: p, rng: &frontRNG)
        case .image:
            frontEnd = ImageFrontEnd(imageSize: config.imageSize, patchSize: config.patchSize, channels: config.channels,
                                     d: d, dropout: p, rng: &frontRNG)
        case .speech:
            frontEnd = SpeechFrontEnd(melBins: config.melBins, maxFrames: bc.maxLength, d: d, dropout: p, rng: &frontRNG)
        }
        backbone = try Backbone(config: bc, method: method, options: options, rng: &backboneRNG)
        head = Linear(d, config.head.outputs, rng: &headRNG)
        _ = rng.next()
        super.init()
    }

    /// The forward pass. `context.training` switches dropout and the methods' training
    /// behaviour; `context.taskID` selects DLR's task embedding.
    public func forward(_ input: ModelInput, context: inout RoutingContext) -> ModelOutput {
        let (x, batch) = frontEnd.embed(input, context: &context)
        let enc = backbone(x, batch: batch, context: &context)
        let B = batch.batchSize, T = batch.length, d = config.backbone.d
        let out: Tensor = Flops.withCategory(.other) {
            switch config.head {
            case .ctc:
                return head(enc.hidden)
            case .classification:
                return head(enc.hidden.reshaped([B * T, d]).indexSelect(rows: (0..<B).map { $0 * T }))
            case .regression:
                return head(enc.hidden.reshaped([B * T, d]).indexSelect(rows: (0..<B).map { $0 * T })).reshaped([B])
            }
        }
        let lengths: [Int]? = config.frontEnd == .speech ? batch.lengths : nil
        return ModelOutput(output: out, outputLengths: lengths, auxLoss: enc.auxLoss, stats: enc.stats)
    }

    /// Task loss (cross-entropy, MSE or CTC with PyTorch's `mean` reduction) plus the
    /// methods' auxiliary losses.
    public func loss(_ input: ModelInput, targets: ModelTargets, context: inout RoutingContext) -> ModelLoss {
        let out = forward(input, context: &context)
        let task: Tensor = Flops.withCategory(.other) {
            switch (config.head, targets) {
            case (.classification, .classes(let labels)):
                return crossEntropy(out.output, labels: labels)
            case (.regression, .scores(let s)):
                return mseLoss(out.output, Tensor(shape: [s.count], scalars: s))
            case (.ctc, .transcripts(let t)):
                return ctcLoss(logits: out.output, inputLengths: out.outputLengths!, targets: t, blank: 0, reduction: .mean)
            default:
                preconditionFailure("Model.loss: targets \(targets) do not match the head \(config.head)")
            }
        }
        let total = out.auxLoss.map { a in Flops.withCategory(.router) { task + a } } ?? task
        return ModelLoss(total: total, task: task, aux: out.auxLoss, output: out)
    }

    /// Forward-only prediction in evaluation mode (no dropout, no gradients, evaluation
    /// capacity); the model's mode is restored afterwards.
    public func predict(_ input: ModelInput, taskID: Int = 0) -> ModelOutput {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var context = RoutingContext(training: false, rng: RNG(seed: 0), taskID: taskID, sequenceOffsets: [])
        return Autograd.noGrad { forward(input, context: &context) }
    }
}
