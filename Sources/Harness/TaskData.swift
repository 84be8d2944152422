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

    public func image(root: URL) throws -> ImageTask {
        if let t = images[root.path] { return t }
        let train = try CIFAR100.load(root: root, split: "train")
        let test = try CIFAR100.load(root: root, split: "test")
        let t = ImageTask(train: train, test: test, normalization: train.channelStatistics())
        images[root.path] = t
        return t
    }

    /// Training on `train-clean-100`, evaluation on `test-clean` and `test-other`.
    public func speech(root: URL, trainSubset: String = "train-clean-100",
                       evalSubsets: [String] = ["test-clean", "test-other"]) throws -> SpeechTask {
        let key = root.path + "|" + trainSubset + "|" + evalSubsets.joined(separator: ",")
        if let t = speech[key] { return t }
        let mel = LogMel()
        let vocab = CharVocabulary.standard
        func load(_ subset: String) throws -> [SpeechExample] {
            let utts = try LibriSpeech.scan(root: root, subset: subset)
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
