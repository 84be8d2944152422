import Data
import Foundation
import Routing

/// Examples of the curve's evaluation subset: the first ones of the task's first evaluation
/// split (dev, dev_matched, test or test-clean).
let curveEvalExamples = 512

extension Trainer {
    /// The intermediate evaluation of a cell's learning curve: the task's primary metric
    /// (its first metric column) on the first `curveEvalExamples` examples of its first
    /// evaluation split, predicted in batches of 64 in evaluation mode. `Model.predict`
    /// switches to evaluation mode and back, draws no training randomness (its routing
    /// context has a fixed seed of its own), records no gradients; no FLOP counter is active,
    /// so the training FLOPs are unchanged.
    func curveEvaluation(_ task: PreparedTask, taskName: String, model: Model, taskID: Int) -> CurveEvaluation? {
        guard let set = task.evalSets.first, set.count > 0,
              let metric = TaskCatalog.info(taskName)?.metrics.first else { return nil }
        let n = min(curveEvalExamples, set.count)
        return CurveEvaluation(metric: metric, subset: "the first \(n) examples of \(set.name)") { [self] in
            var preds: [Prediction] = []
            for s in stride(from: 0, to: n, by: 64) {
                let idx = Array(s..<min(s + 64, n))
                let b = task.evalBatch(set: 0, idx)
                preds += decode(model.predict(b.input, taskID: taskID), batch: b, count: idx.count)
            }
            return primaryMetric(task, metric: metric, count: n, predictions: preds)
        }
    }
}

/// The metric `metric` of the predictions of the first `count` examples of a task's first
/// evaluation split.
func primaryMetric(_ task: PreparedTask, metric: String, count n: Int, predictions p: [Prediction]) -> Double {
    switch task {
    case let t as TextTask:
        let e = t.evals[0]
        let labels = Array(e.labels.prefix(n))
        switch metric {
        case "mcc": return Metrics.matthews(predictions: t.labels(p), labels: labels)
        case "pearson": return Metrics.pearson(t.scores(p), Array(e.scores.prefix(n)))
        case "f1": return Metrics.f1(predictions: t.labels(p), labels: labels)
        default: return Metrics.accuracy(predictions: t.labels(p), labels: labels)
        }
    case let t as SpeechTaskPrep:
        let refs = t.data.evals[0].examples.prefix(n).map(\.transcript)
        return Metrics.wordErrorRate(hypotheses: t.hyps(p), references: refs).rate
    default:
        // Accuracy (CIFAR-100 top-1): the level metric over every index.
        return task.levelMetric(set: 0, Array(0..<n), p)
    }
}
