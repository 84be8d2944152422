import Data
import Foundation
import Routing

/// Examples of the curve's evaluation subset: the first ones of the task's first evaluation
/// split (dev, dev_matched, test or test-clean).
let curveEvalExamples = 512

extension Trainer {
    /// The intermediate evaluation of a cell's learning curve: the task's headline metric on
    /// the first `curveEvalExamples` examples of its first evaluation split, predicted in batches of 64 in evaluation mode. `Model.predict`
    /// switches to evaluation mode and back, draws no training randomness (its routing
    /// context has a fixed seed of its own), records no gradients; no FLOP counter is active,
    /// so the training FLOPs are unchanged.
    func curveEvaluation(_ task: PreparedTask, taskName: String, model: Model, taskID: Int) -> CurveEvaluation? {
        guard let set = task.evalSets.first, set.count > 0,
              let metric = TaskRegistry.declaration(taskName)?.headlineMetric else { return nil }
        let n = min(curveEvalExamples, set.count)
        return CurveEvaluation(metric: metric, subset: "the first \(n) examples of \(set.name)") { [self] in
            var preds: [Prediction] = []
            for s in stride(from: 0, to: n, by: 64) {
                let idx = Array(s..<min(s + 64, n))
                let b = task.evalBatch(set: 0, idx)
                preds += decode(model.predict(b.input, taskID: taskID), batch: b, count: idx.count)
            }
            return task.headlineMetric(metric, count: n, predictions: preds)
        }
    }
}
