import Data
import Foundation

/// The hyperparameters of a BERT encoder, as in a Hugging Face `config.json`
/// (`model_type: "bert"`, post-LN blocks, absolute position embeddings, GELU in its erf
/// form).
public struct BertConfig: Equatable, Codable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    /// Dropout on the embedding output and on each sublayer's output before its residual
    /// sum (BERT's `hidden_dropout_prob`), active in training mode only.
    public var hiddenDropout: Float
    /// BERT's `attention_probs_dropout_prob`, recorded from the file. The fused attention
    /// kernel has no dropout on the probabilities, so it is not applied.
    public var attentionDropout: Float
    /// The padding token id (BERT's `pad_token_id`).
    public var padTokenID: Int

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
                hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1, padTokenID: Int = 0) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.padTokenID = padTokenID
    }

    /// The size of one attention head, `hiddenSize / heads`.
    public var headSize: Int { hiddenSize / heads }

    /// Reads and validates a Hugging Face BERT `config.json`.
    public init(contentsOf url: URL) throws {
        let data: Foundation.Data
        do { data = try Foundation.Data(contentsOf: url) } catch {
            throw DataError(file: url.path, "cannot read BERT config: \(error.localizedDescription)")
        }
        try self.init(json: data, source: url.path)
    }

    /// Parses and validates the JSON of a BERT `config.json`; `source` names it in errors.
    ///
    /// Required keys: `vocab_size`, `hidden_size`, `num_hidden_layers`,
    /// `num_attention_heads`, `intermediate_size`, `max_position_embeddings`,
    /// `type_vocab_size`. Optional: `layer_norm_eps` (1e-12), `hidden_dropout_prob` (0.1),
    /// `attention_probs_dropout_prob` (0.1), `pad_token_id` (0). Rejected: a `model_type`
    /// other than "bert", a `hidden_act` other than "gelu" (erf form), a
    /// `position_embedding_type` other than "absolute", `is_decoder: true`.
    public init(json: Foundation.Data, source: String) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: json, options: []) } catch {
            throw DataError(file: source, "not valid JSON: \(error.localizedDescription)")
        }
        guard let c = object as? [String: Any] else {
            throw DataError(file: source, "expected a JSON object")
        }
        func int(_ key: String, default d: Int? = nil) throws -> Int {
            guard let v = c[key] else {
                if let d { return d }
                throw DataError(file: source, location: key, "missing (expected an integer)")
            }
            guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
                throw DataError(file: source, location: key, "expected an integer, got \(v)")
            }
            return n.intValue
        }
        func float(_ key: String, default d: Float) throws -> Float {
            guard let v = c[key] else { return d }
            guard let n = v as? NSNumber else {
                throw DataError(file: source, location: key, "expected a number, got \(v)")
            }
            return n.floatValue
        }
        func string(_ key: String) throws -> String? {
            guard let v = c[key] else { return nil }
            guard let s = v as? String else {
                throw DataError(file: source, location: key, "expected a string, got \(v)")
            }
            return s
        }
        if let t = try string("model_type"), t != "bert" {
            throw DataError(file: source, location: "model_type", "'\(t)' is not supported (expected 'bert')")
        }
        if let act = try string("hidden_act"), act != "gelu" {
            throw DataError(file: source, location: "hidden_act", "'\(act)' is not supported (expected 'gelu', the erf form)")
        }
        if let p = try string("position_embedding_type"), p != "absolute" {
            throw DataError(file: source, location: "position_embedding_type", "'\(p)' is not supported (expected 'absolute')")
        }
        if let dec = c["is_decoder"] as? Bool, dec {
            throw DataError(file: source, location: "is_decoder", "decoder models are not supported")
        }
        self.init(vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  layers: try int("num_hidden_layers"), heads: try int("num_attention_heads"),
                  intermediateSize: try int("intermediate_size"),
                  maxPositions: try int("max_position_embeddings"), typeVocabSize: try int("type_vocab_size"),
                  layerNormEps: try float("layer_norm_eps", default: 1e-12),
                  hiddenDropout: try float("hidden_dropout_prob", default: 0.1),
                  attentionDropout: try float("attention_probs_dropout_prob", default: 0.1),
                  padTokenID: try int("pad_token_id", default: 0))
        try validate(source: source)
    }

    /// Throws a `DataError` naming `source` and the first invalid value.
    public func validate(source: String) throws {
        func check(_ ok: Bool, _ key: String, _ message: String) throws {
            if !ok { throw DataError(file: source, location: key, message) }
        }
        try check(vocabSize >= 1, "vocab_size", "must be at least 1, got \(vocabSize)")
        try check(hiddenSize >= 1, "hidden_size", "must be at least 1, got \(hiddenSize)")
        try check(layers >= 1, "num_hidden_layers", "must be at least 1, got \(layers)")
        try check(heads >= 1, "num_attention_heads", "must be at least 1, got \(heads)")
        try check(hiddenSize % heads == 0, "num_attention_heads",
                  "hidden_size \(hiddenSize) is not divisible by \(heads) heads")
        try check(intermediateSize >= 1, "intermediate_size", "must be at least 1, got \(intermediateSize)")
        try check(maxPositions >= 2, "max_position_embeddings", "must be at least 2, got \(maxPositions)")
        try check(typeVocabSize >= 1, "type_vocab_size", "must be at least 1, got \(typeVocabSize)")
        try check(layerNormEps > 0 && layerNormEps.isFinite, "layer_norm_eps", "must be positive, got \(layerNormEps)")
        try check(hiddenDropout >= 0 && hiddenDropout < 1, "hidden_dropout_prob", "must be in [0, 1), got \(hiddenDropout)")
        try check(attentionDropout >= 0 && attentionDropout < 1, "attention_probs_dropout_prob",
                  "must be in [0, 1), got \(attentionDropout)")
        try check(padTokenID >= 0 && padTokenID < vocabSize, "pad_token_id",
                  "must be a token id below vocab_size \(vocabSize), got \(padTokenID)")
    }
}
