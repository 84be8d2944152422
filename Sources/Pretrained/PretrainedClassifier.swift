import Foundation
import NN
import Tensor

/// Which hidden state summarises a sequence for the task head.
public enum PretrainedPooling: String, Codable, Sendable, CaseIterable {
    /// The first token ([CLS]), as BERT/RoBERTa sequence classification.
    case cls
    /// The mean over the real tokens ([CLS] and [SEP] included), as sentence-transformers.
    case mean
}

/// A pretrained encoder fine-tuned for sequence classification or regression: the
/// encoder (optionally with LoRA adapters, everything else frozen) and a task head.
///
/// The head is RoBERTa's classification head (the head of MoLEx's published setting):
///
///     z = pool(h)                                  [B, d]   (cls or mean, see `pooling`)
///     logits = out(dropout(tanh(dense(dropout(z)))))     [B, outputs]
///
/// with `dense: d -> d`, `out: d -> outputs`, weights Normal(0, 0.02²) and zero biases (as
/// BERT's `_init_weights`), dropout `p = encoder.config.hiddenDropout` in training mode.
/// `outputs` is the number of classes, or 1 for regression. The head always trains.
public final class PretrainedClassifier: Module {
    public let encoder: BertEncoder
    public let dense: Linear
    public let out: Linear
    public let pooling: PretrainedPooling
    public let outputs: Int

    /// Wraps `encoder` (which it then owns and modifies): with `lora`, freezes the encoder
    /// and adds adapters (`encoder.addLoRA`); with `lora: nil`, the whole encoder trains.
    /// The adapters' `A` matrices are drawn from `rng` first, then the head's weights.
    public init(encoder: BertEncoder, outputs: Int, pooling: PretrainedPooling = .cls,
                lora: LoRAConfig? = LoRAConfig(), rng: inout RNG) {
        precondition(outputs >= 1, "PretrainedClassifier needs at least 1 output, got \(outputs)")
        if let lora { encoder.addLoRA(lora, rng: &rng) }
        let d = encoder.config.hiddenSize
        self.encoder = encoder
        dense = Linear(weight: Init.normal([d, d], std: 0.02, rng: &rng), bias: Init.zeros([d]))
        out = Linear(weight: Init.normal([d, outputs], std: 0.02, rng: &rng), bias: Init.zeros([outputs]))
        self.pooling = pooling
        self.outputs = outputs
        super.init()
    }

    /// Loads the encoder of a model folder (`BertEncoder.load(directory:)`) and wraps it.
    public convenience init(directory: URL, outputs: Int, pooling: PretrainedPooling = .cls,
                            lora: LoRAConfig? = LoRAConfig(), rng: inout RNG) throws {
        self.init(encoder: try BertEncoder.load(directory: directory), outputs: outputs, pooling: pooling,
                  lora: lora, rng: &rng)
    }

    /// `[B, outputs]` logits (or regression values); dropout in training mode draws from
    /// `rng`.
    public func logits(_ input: BertInput, rng: inout RNG) -> Tensor {
        let training = isTraining
        let h = encoder.forward(input, training: training, rng: &rng)
        return head(h, mask: input.mask, training: training, rng: &rng)
    }

    /// The task head on the encoder's last hidden state `h: [B, T, d]` (`mask`: `B·T`
    /// flags, true for real tokens): pooling, then `out(dropout(tanh(dense(dropout(z)))))`,
    /// dropout only when `training`. `[B, outputs]`.
    public func head(_ h: Tensor, mask: [Bool], training: Bool, rng: inout RNG) -> Tensor {
        let p = encoder.config.hiddenDropout
        var z = pooling == .cls ? BertEncoder.firstToken(h) : BertEncoder.meanPool(h, mask: mask)
        if training && p > 0 { z = dropout(z, p: p, rng: &rng, training: true) }
        z = dense(z).tanh()
        if training && p > 0 { z = dropout(z, p: p, rng: &rng, training: true) }
        return out(z)
    }

    /// Classification loss: the mean cross-entropy of the logits against `labels`
    /// (one class index in `0 ..< outputs` per sequence). `ids`, `segments` and `mask`
    /// are as for `BertInput(ids:segments:mask:padID:)` (rows may be ragged; they are
    /// right-padded with the model's pad id).
    public func loss(ids: [[Int]], segments: [[Int]]? = nil, mask: [[Bool]]? = nil, labels: [Int],
                     rng: inout RNG) -> Tensor {
        precondition(labels.count == ids.count, "PretrainedClassifier.loss: \(labels.count) labels for \(ids.count) sequences")
        precondition(labels.allSatisfy { $0 >= 0 && $0 < outputs }, "PretrainedClassifier.loss: labels must be in 0..<\(outputs)")
        let input = BertInput(ids: ids, segments: segments, mask: mask, padID: encoder.config.padTokenID)
        return crossEntropy(logits(input, rng: &rng), labels: labels)
    }

    /// Regression loss (`outputs == 1`): the mean squared error of the predictions against
    /// `labels`, one real target per sequence.
    public func loss(ids: [[Int]], segments: [[Int]]? = nil, mask: [[Bool]]? = nil, labels: [Float],
                     rng: inout RNG) -> Tensor {
        precondition(outputs == 1, "PretrainedClassifier: regression needs outputs == 1, have \(outputs)")
        precondition(labels.count == ids.count, "PretrainedClassifier.loss: \(labels.count) targets for \(ids.count) sequences")
        let input = BertInput(ids: ids, segments: segments, mask: mask, padID: encoder.config.padTokenID)
        return mseLoss(logits(input, rng: &rng), Tensor(shape: [labels.count, 1], scalars: labels))
    }

    /// Evaluation outputs without dropout or gradients: `[B, outputs]`.
    public func predict(ids: [[Int]], segments: [[Int]]? = nil, mask: [[Bool]]? = nil) -> Tensor {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var rng = RNG(seed: 0)
        let input = BertInput(ids: ids, segments: segments, mask: mask, padID: encoder.config.padTokenID)
        return Autograd.noGrad { logits(input, rng: &rng) }
    }
}
