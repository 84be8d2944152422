import Data
import Foundation
import NN
import Tensor

/// A batch of token sequences for a BERT encoder: `batch` rows of `length` tokens, row-major,
/// right-padded.
public struct BertInput: Equatable, Sendable {
    public let batch: Int
    public let length: Int
    /// `batch · length` token ids (padding positions hold the pad id).
    public let ids: [Int]
    /// `batch · length` token-type (segment) ids: 0 for the first sentence, 1 for the second.
    public let segments: [Int]
    /// `batch · length` flags, true for real tokens, false for padding.
    public let mask: [Bool]

    /// A batch from flat row-major arrays.
    public init(batch: Int, length: Int, ids: [Int], segments: [Int]? = nil, mask: [Bool]? = nil) {
        precondition(batch >= 0 && length >= 0, "BertInput: negative batch \(batch) or length \(length)")
        let n = batch * length
        precondition(ids.count == n, "BertInput: \(ids.count) ids for batch \(batch) x length \(length)")
        precondition(segments == nil || segments!.count == n, "BertInput: \(segments!.count) segment ids, expected \(n)")
        precondition(mask == nil || mask!.count == n, "BertInput: \(mask!.count) mask flags, expected \(n)")
        self.batch = batch
        self.length = length
        self.ids = ids
        self.segments = segments ?? [Int](repeating: 0, count: n)
        self.mask = mask ?? [Bool](repeating: true, count: n)
    }

    /// A batch from one id array per sequence (e.g. `[CLS] ... [SEP]` from a tokenizer),
    /// right-padded with `padID` to the longest row. `segments` and `mask`, when given,
    /// have the shape of `ids`; without `mask` every given token is real; without
    /// `segments` every token is of type 0.
    public init(ids rows: [[Int]], segments: [[Int]]? = nil, mask: [[Bool]]? = nil, padID: Int = 0) {
        let length = rows.map(\.count).max() ?? 0
        var ids: [Int] = [], segs: [Int] = [], flags: [Bool] = []
        ids.reserveCapacity(rows.count * length)
        for (r, row) in rows.enumerated() {
            let pad = length - row.count
            ids += row + [Int](repeating: padID, count: pad)
            if let segments {
                precondition(segments[r].count == row.count, "BertInput: row \(r) has \(row.count) ids but \(segments[r].count) segment ids")
                segs += segments[r] + [Int](repeating: 0, count: pad)
            } else {
                segs += [Int](repeating: 0, count: length)
            }
            if let mask {
                precondition(mask[r].count == row.count, "BertInput: row \(r) has \(row.count) ids but \(mask[r].count) mask flags")
                flags += mask[r] + [Bool](repeating: false, count: pad)
            } else {
                flags += [Bool](repeating: true, count: row.count) + [Bool](repeating: false, count: pad)
            }
        }
        precondition(segments == nil || segments!.count == rows.count, "BertInput: \(rows.count) id rows but \(segments!.count) segment rows")
        precondition(mask == nil || mask!.count == rows.count, "BertInput: \(rows.count) id rows but \(mask!.count) mask rows")
        self.init(batch: rows.count, length: length, ids: ids, segments: segs, mask: flags)
    }

    /// The number of real tokens in each row.
    public var tokenCounts: [Int] {
        (0..<batch).map { b in (0..<length).reduce(0) { $0 + (mask[b * length + $1] ? 1 : 0) } }
    }
}

/// Layer normalisation over the last dimension with a learned gain and shift:
/// `y = (x − mean) / sqrt(var + eps) · weight + bias` (the biased variance), as
/// PyTorch's `nn.LayerNorm`. FLOPs: those of `layerNorm`.
public final class BertLayerNorm: Module {
    /// `[d]`.
    public let weight: Tensor
    /// `[d]`.
    public let bias: Tensor
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Float) {
        precondition(weight.rank == 1 && bias.shape == weight.shape, "BertLayerNorm: weight \(weight.shape), bias \(bias.shape)")
        self.weight = weight
        self.bias = bias
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight, bias, eps: eps) }
}

/// BERT's input embeddings: `LayerNorm(word[id] + position[t] + tokenType[segment])`,
/// then hidden dropout in training mode. Positions are `0 ..< length` in every row.
public final class BertEmbeddings: Module {
    /// `[vocab, d]`.
    public let word: Tensor
    /// `[maxPositions, d]`.
    public let position: Tensor
    /// `[typeVocab, d]`.
    public let tokenType: Tensor
    public let norm: BertLayerNorm

    public init(word: Tensor, position: Tensor, tokenType: Tensor, norm: BertLayerNorm) {
        precondition(word.rank == 2 && position.rank == 2 && tokenType.rank == 2
                     && position.shape[1] == word.shape[1] && tokenType.shape[1] == word.shape[1],
                     "BertEmbeddings: word \(word.shape), position \(position.shape), tokenType \(tokenType.shape)")
        self.word = word
        self.position = position
        self.tokenType = tokenType
        self.norm = norm
        super.init()
    }

    /// `[batch, length, d]` before dropout. FLOPs: `2·n·d` for the two sums (`n = batch·length`)
    /// plus the layer norm's; the gathers are free.
    public func callAsFunction(_ input: BertInput) -> Tensor {
        let vocab = word.shape[0], types = tokenType.shape[0], d = word.shape[1]
        precondition(input.length <= position.shape[0],
                     "BertEmbeddings: sequence length \(input.length) exceeds the \(position.shape[0]) positions of the model")
        for id in input.ids { precondition(id >= 0 && id < vocab, "BertEmbeddings: token id \(id) outside the vocabulary 0..<\(vocab)") }
        for s in input.segments { precondition(s >= 0 && s < types, "BertEmbeddings: token type \(s) outside 0..<\(types)") }
        var positions: [Int] = []
        positions.reserveCapacity(input.ids.count)
        for _ in 0..<input.batch { positions += 0..<input.length }
        let x = embedding(word, input.ids) + embedding(position, positions)
            + embedding(tokenType, input.segments)
        return norm(x).reshaped([input.batch, input.length, d])
    }
}

/// One post-LN BERT block:
///
///     a  = MultiHeadAttention(Q = h·Wq + bq, K = h·Wk + bk, V = h·Wv + bv, keyMask)
///     h1 = LayerNorm(dropout(a·Wo + bo) + h)
///     h2 = LayerNorm(dropout(GELU(h1·W1 + b1)·W2 + b2) + h1)
///
/// GELU is the erf form; dropout (BERT's hidden dropout) is active in training mode only.
/// Every projection is a `LoRALinear`, so adapters can sit on any of them.
/// FLOPs per token (`d` hidden, `f` intermediate, `T` keys): `8·d²` for Q, K, V, O plus
/// `4·T·d` and the softmax in attention (category `.attention`), `4·d·f` in the FFN
/// (category `.expert`), plus biases, GELU, residuals and layer norms.
public final class BertLayer: Module {
    public let query: LoRALinear
    public let key: LoRALinear
    public let value: LoRALinear
    /// BERT's `attention.output.dense`.
    public let attentionOutput: LoRALinear
    /// BERT's `attention.output.LayerNorm`.
    public let attentionNorm: BertLayerNorm
    /// BERT's `intermediate.dense`, `d -> f`.
    public let intermediate: LoRALinear
    /// BERT's `output.dense`, `f -> d`.
    public let output: LoRALinear
    /// BERT's `output.LayerNorm`.
    public let outputNorm: BertLayerNorm
    public let heads: Int
    public let hiddenDropout: Float

    public init(query: Linear, key: Linear, value: Linear, attentionOutput: Linear, attentionNorm: BertLayerNorm,
                intermediate: Linear, output: Linear, outputNorm: BertLayerNorm, heads: Int, hiddenDropout: Float) {
        let d = query.inFeatures
        precondition([key.inFeatures, value.inFeatures, query.outFeatures, key.outFeatures, value.outFeatures,
                      attentionOutput.inFeatures, attentionOutput.outFeatures, intermediate.inFeatures,
                      output.outFeatures].allSatisfy { $0 == d } && intermediate.outFeatures == output.inFeatures,
                     "BertLayer: inconsistent projection shapes")
        precondition(d % heads == 0, "BertLayer: hidden size \(d) not divisible by \(heads) heads")
        self.query = LoRALinear(base: query)
        self.key = LoRALinear(base: key)
        self.value = LoRALinear(base: value)
        self.attentionOutput = LoRALinear(base: attentionOutput)
        self.attentionNorm = attentionNorm
        self.intermediate = LoRALinear(base: intermediate)
        self.output = LoRALinear(base: output)
        self.outputNorm = outputNorm
        self.heads = heads
        self.hiddenDropout = hiddenDropout
        super.init()
    }

    /// The projection for `target`.
    public func projection(_ target: LoRATarget) -> LoRALinear {
        switch target {
        case .query: return query
        case .key: return key
        case .value: return value
        case .attentionOutput: return attentionOutput
        case .intermediate: return intermediate
        case .output: return output
        }
    }

    /// `h: [B, T, d]` to `[B, T, d]`; `keyMask` has `B·T` flags (true = real token).
    /// Dropout (training mode only) draws from `rng`.
    public func callAsFunction(_ h: Tensor, keyMask: [Bool]?, rng: inout RNG) -> Tensor {
        forward(h, keyMask: keyMask, training: isTraining, rng: &rng)
    }

    func forward(_ h: Tensor, keyMask: [Bool]?, training: Bool, rng: inout RNG) -> Tensor {
        let h1 = attentionSublayer(h, keyMask: keyMask, training: training, rng: &rng)
        return outputSublayer(Flops.withCategory(.expert) { output(intermediate(h1).gelu()) }, residual: h1,
                              training: training, rng: &rng)
    }

    /// `h1 = LayerNorm(dropout(a·Wo + bo) + h)` (`.attention`).
    func attentionSublayer(_ h: Tensor, keyMask: [Bool]?, training: Bool, rng: inout RNG) -> Tensor {
        Flops.withCategory(.attention) {
            let ctx = attention(query(h), key(h), value(h), heads: heads, keyMask: keyMask)
            var a = attentionOutput(ctx)
            if training && hiddenDropout > 0 { a = dropout(a, p: hiddenDropout, rng: &rng, training: true) }
            return attentionNorm(a + h)
        }
    }

    /// `LayerNorm(dropout(f) + h1)` for the FFN output `f` (`.expert`).
    func outputSublayer(_ f: Tensor, residual h1: Tensor, training: Bool, rng: inout RNG) -> Tensor {
        Flops.withCategory(.expert) {
            var f = f
            if training && hiddenDropout > 0 { f = dropout(f, p: hiddenDropout, rng: &rng, training: true) }
            return outputNorm(f + h1)
        }
    }
}

/// A BERT encoder (Devlin et al. 2019; Hugging Face `BertModel` without its pooler):
/// embeddings, then `config.layers` post-LN blocks. The output is the last hidden state
/// `[batch, length, d]`.
///
/// Load pretrained weights with `BertEncoder.load(directory:)` (a Hugging Face folder with
/// `config.json` and `model.safetensors`) or `init(config:weights:)`; `addLoRA(_:rng:)`
/// freezes every pretrained tensor and adds trainable adapters.
public final class BertEncoder: Module {
    public let config: BertConfig
    public let embeddings: BertEmbeddings
    public let layers: [BertLayer]
    /// Tensors of the weight file that the encoder does not use (e.g. `pooler.*`,
    /// `embeddings.position_ids`), sorted; empty for a randomly initialised encoder.
    public private(set) var ignoredTensors: [String] = []

    /// How a tensor is created: BERT name, engine shape, kind.
    enum Kind { case linearWeight, embedding, normWeight, bias }

    private init(config: BertConfig, make: (String, [Int], Kind) -> Tensor) {
        let d = config.hiddenSize, f = config.intermediateSize, eps = config.layerNormEps
        func norm(_ prefix: String) -> BertLayerNorm {
            BertLayerNorm(weight: make(prefix + ".weight", [d], .normWeight), bias: make(prefix + ".bias", [d], .bias), eps: eps)
        }
        func dense(_ prefix: String, _ inF: Int, _ outF: Int) -> Linear {
            Linear(weight: make(prefix + ".weight", [inF, outF], .linearWeight), bias: make(prefix + ".bias", [outF], .bias))
        }
        self.config = config
        embeddings = BertEmbeddings(
            word: make("embeddings.word_embeddings.weight", [config.vocabSize, d], .embedding),
            position: make("embeddings.position_embeddings.weight", [config.maxPositions, d], .embedding),
            tokenType: make("embeddings.token_type_embeddings.weight", [config.typeVocabSize, d], .embedding),
            norm: norm("embeddings.LayerNorm"))
        layers = (0..<config.layers).map { i in
            let p = "encoder.layer.\(i)."
            return BertLayer(query: dense(p + "attention.self.query", d, d), key: dense(p + "attention.self.key", d, d),
                             value: dense(p + "attention.self.value", d, d),
                             attentionOutput: dense(p + "attention.output.dense", d, d),
                             attentionNorm: norm(p + "attention.output.LayerNorm"),
                             intermediate: dense(p + "intermediate.dense", d, f), output: dense(p + "output.dense", f, d),
                             outputNorm: norm(p + "output.LayerNorm"), heads: config.heads, hiddenDropout: config.hiddenDropout)
        }
        super.init()
    }

    /// A randomly initialised encoder as BERT's `_init_weights`: weights and embeddings
    /// Normal(0, 0.02²), biases 0, layer-norm gains 1 (drawn from `rng` in construction
    /// order). All tensors trainable.
    public convenience init(config: BertConfig, rng: inout RNG) {
        var r = rng
        self.init(config: config) { _, shape, kind in
            switch kind {
            case .linearWeight, .embedding: return Init.normal(shape, std: 0.02, rng: &r)
            case .normWeight: return Init.ones(shape)
            case .bias: return Init.zeros(shape)
            }
        }
        rng = r
    }

    /// An encoder with the weights of a safetensors file in Hugging Face BERT naming
    /// (`embeddings.*`, `encoder.layer.N.*`, optionally all under a `bert.` prefix).
    /// `nn.Linear` weights `[out, in]` are transposed to `[in, out]`. All tensors are
    /// trainable until `addLoRA` or `freeze()`.
    ///
    /// Throws a `DataError` naming the file and listing every missing tensor, every shape
    /// mismatch and every unexpected tensor. `pooler.*`, `embeddings.position_ids` and,
    /// under a `bert.` prefix, anything outside it (task heads) are ignored and listed in
    /// `ignoredTensors`.
    public convenience init(config: BertConfig, weights: SafeTensorsFile) throws {
        let prefix = weights.entries["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        var problems: [String] = []
        var used = Set<String>()
        self.init(config: config) { name, shape, kind in
            let full = prefix + name
            used.insert(full)
            guard let e = weights.entries[full] else {
                problems.append("missing tensor '\(full)' (expected \(kind == .linearWeight ? [shape[1], shape[0]] : shape))")
                return Tensor(zeros: shape)
            }
            let fileShape = kind == .linearWeight ? [shape[1], shape[0]] : shape
            guard e.shape == fileShape else {
                problems.append("tensor '\(full)' has shape \(e.shape), expected \(fileShape)")
                return Tensor(zeros: shape)
            }
            do {
                return try weights.tensor(full, transposed: kind == .linearWeight, requiresGrad: true)
            } catch let error as DataError {
                problems.append(error.location.map { "\($0): \(error.message)" } ?? error.message)
                return Tensor(zeros: shape)
            } catch {
                problems.append("tensor '\(full)': \(error)")
                return Tensor(zeros: shape)
            }
        }
        var ignored: [String] = []
        for name in weights.names where !used.contains(name) {
            let local = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : nil
            if let local, !local.hasPrefix("pooler.") && local != "embeddings.position_ids" {
                problems.append("unexpected tensor '\(name)'")
            } else {
                ignored.append(name)
            }
        }
        if !problems.isEmpty {
            throw DataError(file: weights.path, "does not match the BERT config (\(config.layers) layers, hidden \(config.hiddenSize)): "
                                + problems.joined(separator: "; "))
        }
        ignoredTensors = ignored
    }

    /// The standard file names in a model folder.
    public static let configFileName = "config.json"
    public static let weightsFileName = "model.safetensors"

    /// Loads `directory/config.json` and `directory/model.safetensors`. A missing folder or
    /// file throws a `DataError` naming it.
    public static func load(directory: URL) throws -> BertEncoder {
        try PretrainedFolder.check(directory, files: [configFileName, weightsFileName])
        let config = try BertConfig(contentsOf: directory.appendingPathComponent(configFileName))
        let weights = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(weightsFileName))
        return try BertEncoder(config: config, weights: weights)
    }

    /// Freezes every tensor of the encoder (`requiresGrad = false`), adapters included.
    public func freeze() {
        for (_, t) in namedTensors() { t.requiresGrad = false }
    }

    /// Freezes every pretrained tensor and adds a LoRA adapter (rank, alpha) to each target
    /// projection of every block, drawing the adapters' `A` matrices from `rng` in block
    /// order, then in the order of `config.targets`. Afterwards the adapters are the only
    /// trainable tensors of the encoder.
    public func addLoRA(_ lora: LoRAConfig, rng: inout RNG) {
        freeze()
        for layer in layers {
            for target in lora.targets {
                layer.projection(target).addLoRA(rank: lora.rank, alpha: lora.alpha, rng: &rng)
            }
        }
    }

    /// The embeddings' output `[batch, length, d]`, with hidden dropout in training mode.
    public func embed(_ input: BertInput, rng: inout RNG) -> Tensor {
        embed(input, training: isTraining, rng: &rng)
    }

    func embed(_ input: BertInput, training: Bool, rng: inout RNG) -> Tensor {
        var x = Flops.withCategory(.embedding) { embeddings(input) }
        if training && config.hiddenDropout > 0 { x = dropout(x, p: config.hiddenDropout, rng: &rng, training: true) }
        return x
    }

    /// The last hidden state `[batch, length, d]`; dropout in training mode draws from `rng`.
    public func callAsFunction(_ input: BertInput, rng: inout RNG) -> Tensor {
        forward(input, training: isTraining, rng: &rng)
    }

    /// The last hidden state `[batch, length, d]` without dropout, whatever the mode.
    public func encode(_ input: BertInput) -> Tensor {
        var rng = RNG(seed: 0)
        return forward(input, training: false, rng: &rng)
    }

    func forward(_ input: BertInput, training: Bool, rng: inout RNG) -> Tensor {
        var h = embed(input, training: training, rng: &rng)
        let keyMask: [Bool]? = input.mask.allSatisfy { $0 } ? nil : input.mask
        for layer in layers { h = layer.forward(h, keyMask: keyMask, training: training, rng: &rng) }
        return h
    }

    /// Mean pooling over the real tokens of each row (padding excluded, [CLS] and [SEP]
    /// included, no normalisation): `out[b] = sum_t mask[b,t] · h[b,t] / sum_t mask[b,t]`.
    /// `hidden: [B, T, d]` to `[B, d]`; a row without real tokens gives zeros.
    /// FLOPs: `B·T·d` for the weighting plus `B·T·d` for the sum.
    public static func meanPool(_ hidden: Tensor, mask: [Bool]) -> Tensor {
        precondition(hidden.rank == 3 && mask.count == hidden.shape[0] * hidden.shape[1],
                     "meanPool: hidden \(hidden.shape) with \(mask.count) mask flags")
        let B = hidden.shape[0], T = hidden.shape[1]
        var w = [Float](repeating: 0, count: B * T)
        for b in 0..<B {
            let n = (0..<T).reduce(0) { $0 + (mask[b * T + $1] ? 1 : 0) }
            if n == 0 { continue }
            for t in 0..<T where mask[b * T + t] { w[b * T + t] = 1 / Float(n) }
        }
        return (hidden * Tensor(shape: [B, T, 1], scalars: w)).sum(axis: 1)
    }

    /// The hidden state of the first token of each row ([CLS]): `[B, T, d]` to `[B, d]`.
    public static func firstToken(_ hidden: Tensor) -> Tensor {
        precondition(hidden.rank == 3, "firstToken: hidden must be [B, T, d], got \(hidden.shape)")
        let B = hidden.shape[0], T = hidden.shape[1], d = hidden.shape[2]
        return hidden.reshaped([B * T, d]).indexSelect(rows: (0..<B).map { $0 * T })
    }
}

/// Checks on a pretrained model folder.
public enum PretrainedFolder {
    /// Where `make pretrained` installs all-MiniLM-L6-v2, relative to the repository root.
    public static let defaultPath = ".pretrained/all-MiniLM-L6-v2"

    /// Throws a `DataError` naming the folder when it or one of `files` is missing.
    public static func check(_ directory: URL, files: [String]) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: directory.path, "model folder not found (`make pretrained` installs all-MiniLM-L6-v2 into \(defaultPath))")
        }
        let missing = files.filter { !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
        if !missing.isEmpty {
            throw DataError(file: directory.path, "model folder is missing \(missing.joined(separator: ", "))")
        }
    }
}
