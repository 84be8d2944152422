/// The shared encoder: a stack of pre-LN blocks (`EncoderBlock`) and a final layer norm,
/// on padded batches `[B, T, d]` with per-sequence lengths.
///
/// An FFN-slot method (dense, Switch, top-2, top-p, the survey variants) fills the FFN slot
/// of every `moeEvery`-th block (blocks `i` with `(i + 1) % moeEvery == 0`, 0-based; every
/// block when `moeEvery = 1`); the other blocks get the dense FFN. A block mixer (MoLEx,
/// DLR) keeps dense FFNs in every block and replaces the output of every block `i` by
/// `mixer.mix(h, block: i, ...)`, which evaluates whole blocks on the block's input `h`
/// through a `BlockEvaluator`.
///
/// The forward pass returns the final-normed hidden states, the sum of every layer's
/// auxiliary loss and one `LayerStats` per routed layer (per block for mixers).

/// The shape of the shared encoder.
public struct BackboneConfig: Codable, Equatable, Sendable {
    /// Model width `d`.
    public var d: Int
    /// Number of blocks `L`.
    public var depth: Int
    /// Attention heads (`d` must be divisible by it).
    public var heads: Int
    /// Hidden width of the FFN (and of each expert), usually `4d`.
    public var ffnHidden: Int
    /// Dropout probability (embeddings and both residual branches).
    public var dropout: Double
    /// Which blocks get the method's FFN layer: `(i + 1) % moeEvery == 0`.
    public var moeEvery: Int
    /// Maximum sequence length: text tokens, image patches + 1, or speech frames before
    /// subsampling (front ends size their position tables from it).
    public var maxLength: Int
    /// Layer-norm epsilon.
    public var layerNormEps: Double

    public init(d: Int = 64, depth: Int = 4, heads: Int = 4, ffnHidden: Int = 256, dropout: Double = 0.1,
                moeEvery: Int = 1, maxLength: Int = 64, layerNormEps: Double = 1e-5) {
        self.d = d
        self.depth = depth
        self.heads = heads
        self.ffnHidden = ffnHidden
        self.dropout = dropout
        self.moeEvery = moeEvery
        self.maxLength = maxLength
        self.layerNormEps = layerNormEps
    }

    /// Throws `ConfigError` for impossible sizes.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> ConfigError { ConfigError(key: key, message: message) }
        for (k, v) in [("d", d), ("depth", depth), ("heads", heads), ("ffn_hidden", ffnHidden),
                       ("moe_every", moeEvery), ("max_length", maxLength)] where v < 1 {
            throw fail(k, "must be at least 1, got \(v)")
        }
        guard d % heads == 0 else { throw fail("heads", "d (\(d)) must be divisible by heads (\(heads))") }
        guard dropout >= 0 && dropout < 1 else { throw fail("dropout", "must be in [0, 1), got \(dropout)") }
        guard layerNormEps > 0 else { throw fail("layer_norm_eps", "must be positive, got \(layerNormEps)") }
    }

    /// True when block `i` (0-based) gets the method's FFN layer.
    public func isRouted(block i: Int) -> Bool { (i + 1) % moeEvery == 0 }
}

/// An invalid model configuration value.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "model option '\(key)': \(message)" }
}

/// A method that mixes whole blocks: at block `i` it maps the block input `h: [B, T, d]`
/// to the block output `h'`, evaluating blocks through `blocks`.
public protocol BlockMixer: Module {
    /// `h: [B, T, d]` (the input of block `index`, the same for every block the mixer
    /// evaluates); returns `h'` as `y`, the weighted auxiliary loss and the statistics
    /// (units are blocks, counts are sequences).
    func mix(_ h: Tensor, block index: Int, blocks: BlockEvaluator, context: inout RoutingContext) -> RoutingOutput
}

/// Evaluates whole blocks on the input of one mixing step, for block mixers.
///
/// `callAsFunction(j, sequences:)` runs block `j` on the rows of `input` that belong to the
/// given sequences and returns `[n, T, d]`. Each (block, sequence) pair may be evaluated
/// once per mixing step (a second request is a programmer error), which is how "a block is
/// evaluated once per input however often it is chosen" is enforced. Auxiliary losses of
/// the evaluated blocks' FFN layers are collected in `auxLosses`.
public final class BlockEvaluator {
    /// `[B, T, d]`.
    public let input: Tensor
    public let batch: PaddedBatch
    public let blockCount: Int
    /// `(block, input rows [n, T, d], their layout, context) -> (output [n, T, d], aux loss)`.
    public let evaluate: (Int, Tensor, PaddedBatch, inout RoutingContext) -> (Tensor, Tensor?)
    /// `evaluated[j][b]`: block `j` has been run on sequence `b`.
    public private(set) var evaluated: [[Bool]]
    public private(set) var auxLosses: [Tensor] = []

    public init(input: Tensor, batch: PaddedBatch, blockCount: Int,
                evaluate: @escaping (Int, Tensor, PaddedBatch, inout RoutingContext) -> (Tensor, Tensor?)) {
        precondition(input.rank == 3 && input.shape[0] == batch.batchSize && input.shape[1] == batch.length,
                     "BlockEvaluator: input \(input.shape) vs batch [\(batch.batchSize), \(batch.length), d]")
        self.input = input
        self.batch = batch
        self.blockCount = blockCount
        self.evaluate = evaluate
        evaluated = [[Bool]](repeating: [Bool](repeating: false, count: batch.batchSize), count: blockCount)
    }

    /// Block `j` on the sequences `sequences` (strictly increasing; nil = all), `[n, T, d]`.
    public func callAsFunction(_ j: Int, sequences: [Int]? = nil, context: inout RoutingContext) -> Tensor {
        precondition(j >= 0 && j < blockCount, "BlockEvaluator: block \(j) of \(blockCount)")
        let seqs = sequences ?? Array(0..<batch.batchSize)
        precondition(!seqs.isEmpty, "BlockEvaluator: no sequences for block \(j)")
        for (k, b) in seqs.enumerated() {
            precondition(k == 0 || b > seqs[k - 1], "BlockEvaluator: sequences must be strictly increasing")
            precondition(!evaluated[j][b], "BlockEvaluator: block \(j) already evaluated on sequence \(b)")
            evaluated[j][b] = true
        }
        let all = seqs.count == batch.batchSize
        let x = all ? input : input.indexSelect(rows: seqs)
        let (y, aux) = evaluate(j, x, all ? batch : batch.subset(seqs), &context)
        if let aux { auxLosses.append(aux) }
        return y
    }

    /// Block evaluations (block, sequence pairs) so far.
    public var evaluationCount: Int { evaluated.reduce(0) { $0 + $1.reduce(0) { $0 + ($1 ? 1 : 0) } } }
}

/// What the encoder returns.
public struct BackboneOutput {
    /// Final-normed hidden states `[B, T, d]`.
    public var hidden: Tensor
    /// Sum of every layer's weighted auxiliary loss (shape `[]`), nil when there is none.
    public var auxLoss: Tensor?
    /// One entry per routed FFN layer, or per block for block mixers.
    public var stats: [LayerStats]
}

/// The shared encoder (see the file header).
public final class Backbone: Module {
    public let config: BackboneConfig
    public let blocks: [EncoderBlock]
    /// The block mixer of MoLEx / DLR, nil for FFN-slot methods.
    public let mixer: BlockMixer?
    public let finalNorm: NormLayer

    /// An encoder whose block `i` gets `ffn(i, &rng)` in its FFN slot, optionally with a
    /// block mixer built from the depth. Parameters are drawn block by block (attention
    /// first, then the FFN), then the mixer.
    public init(config: BackboneConfig, ffn: (Int, inout RNG) throws -> FFNLayer,
                mixer makeMixer: ((inout RNG) throws -> BlockMixer)? = nil, rng: inout RNG) throws {
        try config.validate()
        self.config = config
        var blocks: [EncoderBlock] = []
        for i in 0..<config.depth {
            var attentionRNG = rng.split(UInt64(2 * i))
            var ffnRNG = rng.split(UInt64(2 * i + 1))
            let f = try ffn(i, &ffnRNG)
            blocks.append(EncoderBlock(d: config.d, heads: config.heads, ffn: f, dropout: Float(config.dropout),
                                       layerNormEps: Float(config.layerNormEps), rng: &attentionRNG))
        }
        self.blocks = blocks
        var mixerRNG = rng.split("mixer")
        mixer = try makeMixer?(&mixerRNG)
        finalNorm = NormLayer(config.d, eps: Float(config.layerNormEps))
        _ = rng.next()
        super.init()
    }

    /// The encoder of a registered method (see `MethodRegistry`): routed blocks get the
    /// method's FFN layer, the others `Dense`; block mixers get dense blocks and the mixer.
    public convenience init(config: BackboneConfig, method: String, options: [String: OptionValue] = [:],
                            rng: inout RNG) throws {
        let entry = try MethodRegistry.method(method)
        let opts = try entry.options(options)
        let dense = MethodOptions(method: "dense")
        switch entry.kind {
        case .ffnSlot(let make, _):
            try self.init(config: config, ffn: { i, r in
                config.isRouted(block: i) ? try make(config.d, config.ffnHidden, opts, &r)
                    : try Dense(d: config.d, hidden: config.ffnHidden, options: dense, rng: &r)
            }, rng: &rng)
        case .blockMixer(let make):
            try self.init(config: config, ffn: { _, r in
                try Dense(d: config.d, hidden: config.ffnHidden, options: dense, rng: &r)
            }, mixer: { r in try make(config.d, config.depth, opts, &r) }, rng: &rng)
        }
    }

    /// Runs the stack on `x: [B, T, d]` laid out as `batch`.
    public func callAsFunction(_ x: Tensor, batch: PaddedBatch, context: inout RoutingContext) -> BackboneOutput {
        precondition(x.rank == 3 && x.shape == [batch.batchSize, batch.length, config.d],
                     "Backbone: input \(x.shape) vs [\(batch.batchSize), \(batch.length), \(config.d)]")
        var h = x
        var aux: [Tensor] = []
        var stats: [LayerStats] = []
        for (i, block) in blocks.enumerated() {
            if let mixer {
                let evaluator = makeEvaluator(input: h, batch: batch)
                let out = mixer.mix(h, block: i, blocks: evaluator, context: &context)
                h = out.y
                aux += evaluator.auxLosses
                if let a = out.auxLoss { aux.append(a) }
                stats.append(out.stats)
            } else {
                let (y, routed) = block(h, batch: batch, layer: i, context: &context)
                h = y
                if let a = routed.auxLoss { aux.append(a) }
                if config.isRouted(block: i) { stats.append(routed.stats) }
            }
        }
        let total: Tensor? = aux.isEmpty ? nil : Flops.withCategory(.router) {
            aux.dropFirst().reduce(aux[0]) { $0 + $1 }
        }
        return BackboneOutput(hidden: finalNorm(h), auxLoss: total, stats: stats)
    }

    /// An evaluator that runs this stack's blocks (both sublayers) on `input`.
    public func makeEvaluator(input: Tensor, batch: PaddedBatch) -> BlockEvaluator {
        let blocks = self.blocks
        return BlockEvaluator(input: input, batch: batch, blockCount: blocks.count) { j, x, b, ctx in
            let (y, routed) = blocks[j](x, batch: b, layer: j, context: &ctx)
            return (y, routed.auxLoss)
        }
    }
}
