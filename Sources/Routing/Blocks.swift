/// The pre-LN Transformer encoder block shared by every method, its sublayers, and the
/// layout of a padded batch.
///
/// One block maps `h: [B, T, d]` to
///
///     u  = h + Dropout(Attn(LN1(h)))                       (attention sublayer)
///     h' = u + Dropout(scatter(FFN(gather(LN2(u)))))       (FFN sublayer)
///
/// where `gather` takes the real (non-padding) token rows of `[B·T, d]` in sequence order,
/// giving the `[N, d]` matrix every `FFNLayer` reads (`N = Σ_b len_b`), and `scatter` puts
/// the FFN's `[N, d]` output back at those rows (padding rows get 0). The FFN slot holds any
/// `FFNLayer` (dense or routed). Padding positions of `h'` carry values that no real token
/// ever reads: attention masks them as keys, the FFN never sees them, and the heads pool or
/// score real positions only.

/// Where the real tokens of a padded batch are.
///
/// A batch of `B` sequences with lengths `lengths[b]` (each `1...T`) padded to `T` positions
/// is stored as `[B, T, d]`; flat row `b·T + t` is token `t` of sequence `b`.
public struct PaddedBatch: Equatable, Sendable {
    /// `B`.
    public let batchSize: Int
    /// `T`, the padded length.
    public let length: Int
    /// Real tokens of each sequence.
    public let lengths: [Int]
    /// `B·T` entries, `true` for a real token (the attention key mask).
    public let keyMask: [Bool]
    /// Flat rows `b·T + t` of the real tokens, sequence by sequence (`N` entries).
    public let realRows: [Int]
    /// The sequence of each real token (`N` entries).
    public let tokenSequence: [Int]
    /// Sequence `b` owns real tokens `sequenceOffsets[b] ..< sequenceOffsets[b + 1]`.
    public let sequenceOffsets: [Int]

    /// A batch of sequences with the given lengths padded to `length` (default: the longest).
    public init(lengths: [Int], length: Int? = nil) {
        let T = length ?? (lengths.max() ?? 0)
        precondition(lengths.allSatisfy { $0 >= 1 && $0 <= T }, "PaddedBatch: lengths \(lengths) must be in 1...\(T)")
        batchSize = lengths.count
        self.length = T
        self.lengths = lengths
        var mask = [Bool](repeating: false, count: lengths.count * T)
        var rows: [Int] = [], seq: [Int] = [], offsets = [0]
        rows.reserveCapacity(lengths.reduce(0, +))
        for (b, n) in lengths.enumerated() {
            for t in 0..<n {
                mask[b * T + t] = true
                rows.append(b * T + t)
                seq.append(b)
            }
            offsets.append(offsets[b] + n)
        }
        keyMask = mask
        realRows = rows
        tokenSequence = seq
        sequenceOffsets = offsets
    }

    /// `N`, the number of real tokens.
    public var tokenCount: Int { realRows.count }
    /// True when no position is padding (`N = B·T`).
    public var isDense: Bool { tokenCount == batchSize * length }

    /// The layout of the sequences `sequences` (in that order), same padded length.
    public func subset(_ sequences: [Int]) -> PaddedBatch {
        PaddedBatch(lengths: sequences.map { lengths[$0] }, length: length)
    }

    /// The real token rows of `x: [B, T, d]` as `[N, d]` (a reshape when nothing is padded).
    /// Data movement only: no FLOPs.
    public func gatherTokens(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[0] == batchSize && x.shape[1] == length,
                     "gatherTokens: x \(x.shape) vs batch [\(batchSize), \(length), d]")
        let flat = x.reshaped([batchSize * length, x.shape[2]])
        return isDense ? flat : flat.indexSelect(rows: realRows)
    }

    /// `[N, d]` token rows back to `[B, T, d]`, padding rows 0. A reshape when nothing is
    /// padded; otherwise an unweighted `scatterAdd` (data movement: no FLOPs).
    public func scatterTokens(_ y: Tensor) -> Tensor {
        precondition(y.rank == 2 && y.shape[0] == tokenCount, "scatterTokens: y \(y.shape) vs \(tokenCount) tokens")
        let d = y.shape[1]
        if isDense { return y.reshaped([batchSize, length, d]) }
        return scatterAdd(y, rows: realRows, count: batchSize * length, weights: nil).reshaped([batchSize, length, d])
    }
}

/// Layer normalisation over the last dimension with a learned gain and bias:
/// `y = (x - mean) / sqrt(var + eps) · gamma + beta` (the engine's `layerNorm`).
/// Parameters `gamma: [d]` (ones), `beta: [d]` (zeros).
public final class NormLayer: Module {
    public let gamma: Tensor
    public let beta: Tensor
    public let eps: Float

    public init(_ d: Int, eps: Float = 1e-5) {
        gamma = Init.ones([d])
        beta = Init.zeros([d])
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, gamma, beta, eps: eps) }
}

/// Multi-head self-attention: `O(attention(Q(x), K(x), V(x), heads, keyMask))` with four
/// `d x d` projections with bias (`query`, `key`, `value`, `output`).
///
/// Shapes: `x: [B, T, d]` -> `[B, T, d]`. Counted under `.attention`. Forward FLOPs:
/// `4·(2·B·T·d² + B·T·d)` for the projections plus the engine's attention kernel,
/// `4·B·T²·d + 5·B·heads·T²` (see `attention`).
public final class MultiHeadSelfAttention: Module {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int

    public init(d: Int, heads: Int, rng: inout RNG) {
        precondition(heads >= 1 && d % heads == 0, "MultiHeadSelfAttention: d = \(d) not divisible by heads = \(heads)")
        query = Linear(d, d, rng: &rng)
        key = Linear(d, d, rng: &rng)
        value = Linear(d, d, rng: &rng)
        output = Linear(d, d, rng: &rng)
        self.heads = heads
        super.init()
    }

    public func callAsFunction(_ x: Tensor, keyMask: [Bool]?) -> Tensor {
        Flops.withCategory(.attention) {
            output(attention(query(x), key(x), value(x), heads: heads, keyMask: keyMask))
        }
    }
}

/// One pre-LN encoder block with a pluggable FFN slot (see the file header for the
/// formula). Parameters: `norm1`, `attention`, `norm2`, `ffn`.
///
/// The two sublayers can be called separately; `callAsFunction` runs both. Layer norms,
/// residual additions and dropout are counted under `.other`; the FFN counts its own
/// FLOPs (`.expert`, `.router`).
public final class EncoderBlock: Module {
    public let norm1: NormLayer
    public let attention: MultiHeadSelfAttention
    public let norm2: NormLayer
    /// The FFN sublayer: any `FFNLayer`.
    public let ffn: FFNLayer
    /// Residual dropout probability (after attention and after the FFN).
    public let dropoutRate: Float

    public init(d: Int, heads: Int, ffn: FFNLayer, dropout: Float, layerNormEps: Float = 1e-5, rng: inout RNG) {
        norm1 = NormLayer(d, eps: layerNormEps)
        attention = MultiHeadSelfAttention(d: d, heads: heads, rng: &rng)
        norm2 = NormLayer(d, eps: layerNormEps)
        self.ffn = ffn
        dropoutRate = dropout
        super.init()
    }

    /// `h + Dropout(Attn(LN1(h)))`, `h: [B, T, d]`.
    public func attentionSublayer(_ h: Tensor, batch: PaddedBatch, context: inout RoutingContext) -> Tensor {
        let a = attention(norm1(h), keyMask: batch.isDense ? nil : batch.keyMask)
        return h + dropout(a, p: dropoutRate, rng: &context.rng, training: context.training)
    }

    /// `h + Dropout(scatter(FFN(gather(LN2(h)))))`, `h: [B, T, d]`, with the FFN's routing
    /// output (its `y` is the `[N, d]` token output). The FFN sees
    /// `context.sequenceOffsets = batch.sequenceOffsets`.
    public func ffnSublayer(_ h: Tensor, batch: PaddedBatch, layer: Int,
                            context: inout RoutingContext) -> (Tensor, RoutingOutput) {
        let tokens = batch.gatherTokens(norm2(h))
        let savedOffsets = context.sequenceOffsets
        context.sequenceOffsets = batch.sequenceOffsets
        let routed = ffn.forward(tokens, layer: layer, context: &context)
        context.sequenceOffsets = savedOffsets
        let y = batch.scatterTokens(routed.y)
        return (h + dropout(y, p: dropoutRate, rng: &context.rng, training: context.training), routed)
    }

    /// The whole block on `h: [B, T, d]`: both sublayers.
    public func callAsFunction(_ h: Tensor, batch: PaddedBatch, layer: Int,
                               context: inout RoutingContext) -> (Tensor, RoutingOutput) {
        ffnSublayer(attentionSublayer(h, batch: batch, context: &context), batch: batch, layer: layer, context: &context)
    }
}
