import Foundation
import Routing

// What the trainer needs of a task: a modality preparation (`TextTaskPreparation`,
// `ImageTaskPreparation`, `SpeechTaskPreparation`) turns a task's data into batches,
// evaluation sets and metrics.

/// One batch of model inputs and targets.
struct Batch {
    var input: ModelInput
    var targets: ModelTargets
}

/// A task prepared for training and evaluation: what the trainer needs from a modality.
protocol PreparedTask {
    var trainCount: Int { get }
    func modelConfig(_ spec: ModelSpec) -> ModelConfig
    func trainBatch(_ indices: [Int], rng: inout RNG) -> Batch
    /// Evaluation sets, each with its examples grouped by difficulty level (one group,
    /// level nil, for real data).
    var evalSets: [EvalSet] { get }
    /// Batch of evaluation examples `indices` of set `set`.
    func evalBatch(set: Int, _ indices: [Int]) -> Batch
    /// The task's metrics from the predictions of every evaluation set.
    func metrics(_ predictions: [[Prediction]]) -> [String: Double]
    /// The primary metric of a subset of one set's predictions (per difficulty level).
    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double
    /// The metric `metric` (the task's headline metric) of the predictions of the first
    /// `count` examples of the first evaluation set (the learning curve's points).
    func headlineMetric(_ metric: String, count: Int, predictions: [Prediction]) -> Double
}

struct EvalSet {
    var name: String
    var count: Int
    /// Difficulty level of each example (nil for real data).
    var levels: [Int]?
}

/// One evaluation prediction.
enum Prediction {
    case label(Int, scores: [Float])
    case score(Float)
    case transcript(String)
}

/// The backbone of a task's model: the suite's model shape, with the input length
/// `maxLength` when the preparation fixes it (images).
func backboneConfig(_ spec: ModelSpec, maxLength: Int? = nil) -> BackboneConfig {
    BackboneConfig(d: spec.d, depth: spec.depth, heads: spec.heads, ffnHidden: spec.ffnHidden, dropout: spec.dropout,
                   moeEvery: spec.moeEvery, maxLength: maxLength ?? spec.maxLength)
}

extension PreparedTask {
    /// Accuracy (CIFAR-100 top-1): the level metric over the first `count` examples.
    func headlineMetric(_ metric: String, count n: Int, predictions p: [Prediction]) -> Double {
        levelMetric(set: 0, Array(0..<n), p)
    }

    /// Input length of every example of evaluation set `set`: real tokens for text, real
    /// frames for speech, 1 for images (whose length is fixed).
    func evalLengths(set: Int) -> [Int] {
        let n = evalSets[set].count
        var out: [Int] = []
        for start in stride(from: 0, to: n, by: 64) {
            let b = evalBatch(set: set, Array(start..<min(start + 64, n)))
            switch b.input {
            case .text(let tokens, _): out += tokens.map(\.count)
            case .speech(_, let l): out += l
            case .image: return [Int](repeating: 1, count: n)
            }
        }
        return out
    }
}
