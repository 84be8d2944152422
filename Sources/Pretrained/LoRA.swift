import NN
import Tensor

/// A low-rank adapter (Hu et al. 2021, "LoRA"): the update `ΔW = scale · A · B` to a
/// linear map's `[in, out]` weight, with `A: [in, r]`, `B: [r, out]`, `scale = alpha / r`.
///
/// Initialisation as in the reference implementation (microsoft/LoRA `loralib`, and
/// Hugging Face `peft`): `A` like PyTorch's `kaiming_uniform_(a = sqrt(5))` on a
/// `[r, in]` weight, i.e. uniform in `±1/sqrt(in)`; `B` zero, so an adapter starts as the
/// identity update (`ΔW = 0`).
public final class LoRA: Module {
    /// `[in, r]`, trainable.
    public let a: Tensor
    /// `[r, out]`, trainable, zero at initialisation.
    public let b: Tensor
    /// `alpha / r`.
    public let scale: Float

    public init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, rng: inout RNG) {
        precondition(rank >= 1, "LoRA rank must be at least 1, got \(rank)")
        a = Init.linearDefault([inFeatures, rank], fanIn: inFeatures, rng: &rng)
        b = Init.zeros([rank, outFeatures])
        scale = alpha / Float(rank)
        super.init()
    }

    /// An adapter over given tensors (`a: [in, r]`, `b: [r, out]`).
    public init(a: Tensor, b: Tensor, scale: Float) {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[0],
                     "LoRA needs a: [in, r] and b: [r, out], got \(a.shape) and \(b.shape)")
        self.a = a
        self.b = b
        self.scale = scale
        super.init()
    }

    public var rank: Int { a.shape[1] }

    /// `scale · (x · A) · B` for `x: [..., in]`, giving `[..., out]`.
    /// FLOPs: `2·rows·in·r + 2·rows·r·out` for the two products plus `rows·out` for the scale.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        linear(linear(x, a), b) * scale
    }
}

/// A linear map `y = x · W + bias` with an optional LoRA adapter:
/// `y = x · W + bias + scale · (x · A) · B`.
///
/// The base layer holds the pretrained weight `W: [in, out]`; `freezeBase()` (done by
/// `addLoRA`) stops its gradients, so that only the adapter trains.
public final class LoRALinear: Module {
    public let base: Linear
    public private(set) var lora: LoRA?

    public init(base: Linear) {
        self.base = base
        super.init()
    }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }

    /// Freezes the base weight and bias and attaches a fresh adapter (`A` uniform in
    /// `±1/sqrt(in)`, `B = 0`, `scale = alpha / rank`), drawing `A` from `rng`.
    public func addLoRA(rank: Int, alpha: Float, rng: inout RNG) {
        freezeBase()
        lora = LoRA(inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, alpha: alpha, rng: &rng)
    }

    /// Attaches a given adapter (freezing the base).
    public func setLoRA(_ adapter: LoRA?) {
        if let adapter {
            precondition(adapter.a.shape[0] == inFeatures && adapter.b.shape[1] == outFeatures,
                         "LoRA \(adapter.a.shape)·\(adapter.b.shape) does not fit a [\(inFeatures), \(outFeatures)] layer")
            freezeBase()
        }
        lora = adapter
    }

    /// Sets `requiresGrad = false` on the base weight and bias.
    public func freezeBase() {
        base.weight.requiresGrad = false
        base.bias?.requiresGrad = false
    }

    /// FLOPs: the base `linear` (`2·rows·in·out + rows·out`) plus the adapter's, when present
    /// (`2·rows·r·(in + out) + rows·out`), plus `rows·out` for the sum.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = base(x)
        guard let lora else { return y }
        return y + lora(x)
    }
}

/// The projections of a BERT block that can carry LoRA adapters.
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case query, key, value
    /// The attention output projection (BERT's `attention.output.dense`).
    case attentionOutput = "attention_output"
    /// The first FFN projection (BERT's `intermediate.dense`).
    case intermediate
    /// The second FFN projection (BERT's `output.dense`).
    case output
}

/// Where and how LoRA adapters are added to an encoder.
/// The default is the original MoLEx / LoRA setting: rank 8, alpha 16, on query and value.
public struct LoRAConfig: Equatable, Codable, Sendable {
    public var rank: Int
    public var alpha: Float
    public var targets: [LoRATarget]

    public init(rank: Int = 8, alpha: Float = 16, targets: [LoRATarget] = [.query, .value]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    /// `alpha / rank`.
    public var scale: Float { alpha / Float(rank) }
}
