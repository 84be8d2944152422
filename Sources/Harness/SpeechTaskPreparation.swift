import Data
import Foundation
import Routing
import Tensor

/// A LibriSpeech task prepared for a cell: log-mel features of the training subset and of
/// each evaluation subset (capped as the cell says), padded batches, WER and CER per subset.
final class SpeechTaskPreparation: PreparedTask {
    let data: SpeechTask
    let maxFrames: Int
    let trainCount: Int
    let evalCounts: [Int]

    init(data: SpeechTask, model: ModelSpec, training: TrainingSpec) {
        self.data = data
        maxFrames = model.maxLength
        trainCount = min(training.trainExamples ?? data.train.count, data.train.count)
        evalCounts = data.evals.map { min(training.evalExamples ?? $0.examples.count, $0.examples.count) }
    }

    func modelConfig(_ spec: ModelSpec) -> ModelConfig {
        ModelConfig(frontEnd: .speech, backbone: backboneConfig(spec), head: .ctc(vocabulary: CharVocabulary.standard.count))
    }

    /// Pads features to the longest utterance of the batch (at most `maxFrames`, longer
    /// utterances truncated).
    func batch(_ ex: [SpeechExample]) -> Batch {
        let T = min(maxFrames, ex.map(\.frames).max() ?? 1)
        let x = Tensor(zeros: [ex.count, T, 80])
        var lengths: [Int] = []
        for (b, e) in ex.enumerated() {
            let n = min(e.frames, T)
            e.features.withUnsafeBufferPointer { src in
                (x.data + b * T * 80).update(from: src.baseAddress!, count: n * 80)
            }
            lengths.append(n)
        }
        return Batch(input: .speech(features: x, lengths: lengths), targets: .transcripts(ex.map(\.targets)))
    }

    func trainBatch(_ indices: [Int], rng: inout RNG) -> Batch { batch(indices.map { data.train[$0] }) }

    var evalSets: [EvalSet] {
        data.evals.enumerated().map { i, e in
            let n = evalCounts[i]
            let lv = e.examples.prefix(n).map(\.difficulty)
            return EvalSet(name: e.name, count: n, levels: lv.allSatisfy { $0 != nil } ? lv.map { $0! } : nil)
        }
    }

    func evalBatch(set: Int, _ indices: [Int]) -> Batch { batch(indices.map { data.evals[set].examples[$0] }) }

    func hyps(_ p: [Prediction]) -> [String] { p.map { if case .transcript(let s) = $0 { return s } else { return "" } } }

    func metrics(_ predictions: [[Prediction]]) -> [String: Double] {
        var m: [String: Double] = [:]
        for (si, e) in data.evals.enumerated() {
            let refs = e.examples.prefix(evalCounts[si]).map(\.transcript)
            let h = hyps(predictions[si])
            m["wer_\(e.name)"] = Metrics.wordErrorRate(hypotheses: h, references: refs).rate
            m["cer_\(e.name)"] = Metrics.characterErrorRate(hypotheses: h, references: refs).rate
        }
        return m
    }

    /// WER of the subset (lower is better).
    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double {
        let refs = indices.map { data.evals[set].examples[$0].transcript }
        return Metrics.wordErrorRate(hypotheses: hyps(indices.map { predictions[$0] }), references: refs).rate
    }

    /// WER of the first `count` utterances of the first evaluation subset.
    func headlineMetric(_ metric: String, count n: Int, predictions p: [Prediction]) -> Double {
        let refs = data.evals[0].examples.prefix(n).map(\.transcript)
        return Metrics.wordErrorRate(hypotheses: hyps(p), references: refs).rate
    }
}
