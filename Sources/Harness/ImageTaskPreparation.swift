import Data
import Foundation
import Routing

/// CIFAR-100 prepared for a cell: the training and test images (capped as the cell says)
/// with the training split's channel statistics, patch batches, top-1 and top-5 accuracy.
final class ImageTaskPreparation: PreparedTask {
    let data: ImageTask
    let trainCount: Int
    let evalCount: Int

    init(data: ImageTask, training: TrainingSpec) {
        self.data = data
        trainCount = min(training.trainExamples ?? data.train.count, data.train.count)
        evalCount = min(training.evalExamples ?? data.test.count, data.test.count)
    }

    /// The suite's `max_length` picks the patch grid: the finest grid of square patches (side
    /// dividing 32) whose patches plus the class token fit, e.g. 65 -> 8x8 patches of 4x4 pixels,
    /// 17 -> 4x4 patches of 8x8 pixels, 5 (or less) -> 2x2 patches of 16x16. The backbone's
    /// length is then that grid's patches plus one.
    static func patchSize(maxLength: Int) -> Int {
        [1, 2, 4, 8, 16].first { (32 / $0) * (32 / $0) + 1 <= maxLength } ?? 16
    }

    func modelConfig(_ spec: ModelSpec) -> ModelConfig {
        let p = ImageTaskPreparation.patchSize(maxLength: spec.maxLength)
        return ModelConfig(frontEnd: .image, backbone: backboneConfig(spec, maxLength: (32 / p) * (32 / p) + 1),
                           head: .classification(classes: 100), patchSize: p)
    }

    /// Real CIFAR-100 training images get the standard crop-and-flip augmentation. Proxy images
    /// do not: the generator already draws a shift, rotation and scale per image, and a
    /// horizontal flip would map some proxy classes onto others (`bar_036` onto `bar_144`).
    func trainBatch(_ indices: [Int], rng: inout RNG) -> Batch {
        Batch(input: .image(data.train.batch(indices, normalization: data.normalization, augment: !data.train.isProxy,
                                             rng: &rng)),
              targets: .classes(indices.map { data.train.fineLabels[$0] }))
    }

    var evalSets: [EvalSet] {
        [EvalSet(name: "test", count: evalCount, levels: data.test.difficulty.map { Array($0.prefix(evalCount)) })]
    }

    func evalBatch(set: Int, _ indices: [Int]) -> Batch {
        Batch(input: .image(data.test.batch(indices, normalization: data.normalization)),
              targets: .classes(indices.map { data.test.fineLabels[$0] }))
    }

    func metrics(_ predictions: [[Prediction]]) -> [String: Double] {
        ShiftedEval.imageMetrics(predictions[0], labels: Array(data.test.fineLabels.prefix(evalCount)))
    }

    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double {
        var ok = 0
        for i in indices { if case .label(let l, _) = predictions[i], l == data.test.fineLabels[i] { ok += 1 } }
        return Double(ok) / Double(max(indices.count, 1))
    }
}
