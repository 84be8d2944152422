import Data
import Foundation
import Tensor

/// A pretrained model folder used as a sentence encoder: the WordPiece tokenizer of its
/// `vocab.txt` and the BERT encoder of its `config.json` and `model.safetensors`, with
/// mean pooling (sentence-transformers' pooling, before its normalisation).
public final class SentenceEncoder {
    public let encoder: BertEncoder
    public let tokenizer: WordPieceTokenizer
    /// The folder it was loaded from.
    public let directory: URL

    /// The files a model folder must hold.
    public static let requiredFiles = [BertEncoder.configFileName, BertEncoder.weightsFileName, "vocab.txt"]

    /// Loads a folder such as the one `make pretrained` installs. Lower-casing follows
    /// `do_lower_case` in `tokenizer_config.json` when present (default: lower-case). The
    /// encoder is put in evaluation mode. Throws a `DataError` naming the folder or file.
    public init(directory: URL) throws {
        try PretrainedFolder.check(directory, files: SentenceEncoder.requiredFiles)
        tokenizer = try SentenceEncoder.loadTokenizer(directory: directory)
        encoder = try BertEncoder.load(directory: directory)
        encoder.eval()
        guard tokenizer.vocabulary.count == encoder.config.vocabSize else {
            throw DataError(file: directory.appendingPathComponent("vocab.txt").path,
                            "\(tokenizer.vocabulary.count) tokens, but config.json has vocab_size \(encoder.config.vocabSize)")
        }
        self.directory = directory
    }

    /// The WordPiece tokenizer of a model folder: its `vocab.txt`, lower-casing as
    /// `do_lower_case` in `tokenizer_config.json` when present (default: lower-case).
    /// Throws a `DataError` naming the file.
    public static func loadTokenizer(directory: URL) throws -> WordPieceTokenizer {
        var lowerCase = true
        let tokenizerConfig = directory.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: tokenizerConfig.path) {
            let data = try Foundation.Data(contentsOf: tokenizerConfig)
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw DataError(file: tokenizerConfig.path, "not a JSON object")
            }
            if let v = object["do_lower_case"] {
                guard let b = v as? Bool else {
                    throw DataError(file: tokenizerConfig.path, location: "do_lower_case", "expected true or false, got \(v)")
                }
                lowerCase = b
            }
        }
        return try WordPieceTokenizer(vocabularyFile: directory.appendingPathComponent("vocab.txt"), lowerCase: lowerCase)
    }

    /// `[CLS] pieces [SEP]` ids of a sentence, untruncated.
    public func ids(_ sentence: String) -> [Int] {
        [tokenizer.clsID] + tokenizer.ids(sentence) + [tokenizer.sepID]
    }

    /// The longest id sequence the encoder accepts (its position count).
    public var maxLength: Int { encoder.config.maxPositions }

    /// The mean-pooled last hidden state of each id sequence (mean over all its tokens,
    /// [CLS] and [SEP] included, not normalised), computed as one padded batch without
    /// gradients. Every sequence must be non-empty and at most `maxLength` long.
    public func embed(_ sequences: [[Int]]) -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        let input = BertInput(ids: sequences, padID: encoder.config.padTokenID)
        let pooled = Autograd.noGrad { BertEncoder.meanPool(encoder.encode(input), mask: input.mask) }
        let d = encoder.config.hiddenSize
        let all = pooled.scalars
        return (0..<sequences.count).map { Array(all[($0 * d) ..< (($0 + 1) * d)]) }
    }
}
