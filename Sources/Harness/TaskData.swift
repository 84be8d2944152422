import Data
import Foundation
import Tensor

/// One speech utterance ready for the model: log-mel features and character targets.
public struct SpeechExample: Sendable {
    public var id: String
    /// `[frames, 80]` row-major, normalised per utterance.
    public var features: [Float]
    public var frames: Int
    public var targets: [Int]
    public var transcript: String
    public var difficulty: Int?
}

/// A speech task: a training subset and the evaluation subsets reported apart.
public struct SpeechTask {
    public var train: [SpeechExample]
    public var evals: [(name: String, examples: [SpeechExample])]
}

/// An image task: CIFAR-100 train/test with the training split's channel statistics.
public struct ImageTask {
    public var train: CIFARSplit
    public var test: CIFARSplit
    public var normalization: CIFARNormalization
}

/// Loads and caches the image and speech tasks of a dataset root (one load per process).
public final class DatasetCache {
    public static let shared = DatasetCache()
    private var images: [String: ImageTask] = [:]
    private var speech: [String: SpeechTask] = [:]

    /// CIFAR-100's train and test splits, with difficulty levels from `difficultyFile`.
    public func image(root: URL, difficultyFile: String? = "difficulty.tsv") throws -> ImageTask {
        let key = root.path + "|" + (difficultyFile ?? "")
        if let t = images[key] { return t }
        let train = try CIFAR100.load(root: root, split: "train", difficultyFile: difficultyFile)
        let test = try CIFAR100.load(root: root, split: "test", difficultyFile: difficultyFile)
        let t = ImageTask(train: train, test: test, normalization: train.channelStatistics())
        images[key] = t
        return t
    }

    /// Training on `train-clean-100`, evaluation on `test-clean` and `test-other` (by
    /// default), with difficulty levels from each subset's `difficultyFile`.
    public func speech(root: URL, trainSubset: String = "train-clean-100",
                       evalSubsets: [String] = ["test-clean", "test-other"],
                       difficultyFile: String? = "difficulty.tsv") throws -> SpeechTask {
        let key = root.path + "|" + trainSubset + "|" + evalSubsets.joined(separator: ",") + "|" + (difficultyFile ?? "")
        if let t = speech[key] { return t }
        let mel = LogMel()
        let vocab = CharVocabulary.standard
        func load(_ subset: String) throws -> [SpeechExample] {
            let utts = try LibriSpeech.scan(root: root, subset: subset, difficultyFile: difficultyFile)
            return try utts.map { u in
                let samples = try u.loadSamples()
                let f = mel(samples, normalize: true)
                return SpeechExample(id: u.id, features: f.scalars, frames: f.shape[0], targets: try vocab.encode(u.transcript),
                                     transcript: u.transcript, difficulty: u.difficulty)
            }
        }
        let t = SpeechTask(train: try load(trainSubset), evals: try evalSubsets.map { ($0, try load($0)) })
        speech[key] = t
        return t
    }
}
