import Data
import Foundation
import Routing

/// A text task in the GLUE format prepared for a cell: the training and dev splits
/// tokenized (with a vocabulary built from the training split and written beside the
/// results, or a pretrained model's own), difficulty levels from the task's side file, and
/// the task's text metrics (`TaskDeclaration.textMetrics`).
final class TextTaskPreparation: PreparedTask {
    let declaration: TaskDeclaration
    let format: GLUEFormat
    let maxLength: Int
    let train: [WordPieceEncoding]
    let trainLabels: [Int]
    let trainScores: [Float]
    let evals: [(name: String, enc: [WordPieceEncoding], labels: [Int], scores: [Float], levels: [Int]?)]
    let vocabSize: Int
    /// The tokenizer the examples were encoded with (for extra evaluation sets).
    let tokenizer: WordPieceTokenizer

    /// With `tokenizer` (a pretrained model's own vocabulary) no vocabulary is built.
    init(root: URL, task: TaskDeclaration, model: ModelSpec, training: TrainingSpec, vocabURL: URL,
         tokenizer pretrainedTokenizer: WordPieceTokenizer? = nil) throws {
        guard let format = task.glueFormat else { throw HarnessError("task '\(task.name)' is not a GLUE-format text task") }
        declaration = task
        self.format = format
        maxLength = model.maxLength
        let trainSplit = try GLUE.load(root: root, format: format, split: format.trainSplit)
        let trainExamples = Array(trainSplit.examples.prefix(training.trainExamples ?? Int.max))
        guard !trainExamples.isEmpty else {
            throw DataError(file: trainSplit.file.path, "no training examples")
        }
        // The from-scratch track builds its vocabulary from the training split and writes
        // it beside the results.
        let tok: WordPieceTokenizer
        if let pretrainedTokenizer {
            tok = pretrainedTokenizer
        } else {
            let texts = trainExamples.flatMap { [$0.textA] + ($0.textB.map { [$0] } ?? []) }
            let vocab = WordPieceVocabulary.build(from: texts, size: model.vocabSize)
            try FileManager.default.createDirectory(at: vocabURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try vocab.write(to: vocabURL)
            tok = try WordPieceTokenizer(vocabulary: vocab)
        }
        vocabSize = tok.vocabulary.count
        tokenizer = tok
        func enc(_ e: GLUEExample) -> WordPieceEncoding { tok.encode(e.textA, e.textB, maxLength: model.maxLength) }
        train = trainExamples.map(enc)
        trainLabels = trainExamples.map { $0.label ?? 0 }
        trainScores = trainExamples.map { $0.score ?? 0 }
        var evals: [(String, [WordPieceEncoding], [Int], [Float], [Int]?)] = []
        for split in format.devSplits {
            let s = try GLUE.load(root: root, format: format, split: split)
            guard s.hasLabels else { throw DataError(file: s.file.path, "the evaluation split has no labels") }
            let ex = Array(s.examples.prefix(training.evalExamples ?? Int.max))
            let diff = try task.difficultyFile.flatMap {
                try GLUE.loadDifficulty(root: root, folderName: format.folderName, split: split, fileName: $0)
            }
            let levels = diff.map { d in ex.map { d[$0.index] ?? 0 } }
            evals.append((split, ex.map(enc), ex.map { $0.label ?? 0 }, ex.map { $0.score ?? 0 }, levels))
        }
        self.evals = evals
    }

    var trainCount: Int { train.count }

    func modelConfig(_ spec: ModelSpec) -> ModelConfig {
        ModelConfig(frontEnd: .text, backbone: backboneConfig(spec),
                    head: format.isRegression ? .regression : .classification(classes: format.numLabels),
                    vocabSize: vocabSize, segments: 2)
    }

    func batch(_ encs: [WordPieceEncoding], labels: [Int], scores: [Float]) -> Batch {
        Batch(input: .text(tokens: encs.map(\.ids), segments: encs.map(\.segmentIds)),
              targets: format.isRegression ? .scores(scores) : .classes(labels))
    }

    func trainBatch(_ indices: [Int], rng: inout RNG) -> Batch {
        batch(indices.map { train[$0] }, labels: indices.map { trainLabels[$0] }, scores: indices.map { trainScores[$0] })
    }

    var evalSets: [EvalSet] { evals.map { EvalSet(name: $0.name, count: $0.enc.count, levels: $0.levels) } }

    func evalBatch(set: Int, _ indices: [Int]) -> Batch {
        let e = evals[set]
        return batch(indices.map { e.enc[$0] }, labels: indices.map { e.labels[$0] }, scores: indices.map { e.scores[$0] })
    }

    func labels(_ p: [Prediction]) -> [Int] { p.map { if case .label(let l, _) = $0 { return l } else { return -1 } } }
    func scores(_ p: [Prediction]) -> [Float] { p.map { if case .score(let s) = $0 { return s } else { return .nan } } }

    func metrics(_ predictions: [[Prediction]]) -> [String: Double] {
        declaration.textMetricValues(splits: evals.map(\.name), labels: evals.map(\.labels), scores: evals.map(\.scores),
                                     predictedLabels: predictions.map(labels), predictedScores: predictions.map(scores))
    }

    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double {
        let e = evals[set]
        let p = indices.map { predictions[$0] }
        if format.isRegression { return Metrics.pearson(scores(p), indices.map { e.scores[$0] }) }
        return Metrics.accuracy(predictions: labels(p), labels: indices.map { e.labels[$0] })
    }

    /// The headline metric on the first `count` examples of the first dev split.
    func headlineMetric(_ metric: String, count n: Int, predictions p: [Prediction]) -> Double {
        let e = evals[0]
        return (TextMetric(key: metric) ?? .accuracy).value(predictedLabels: labels(p), labels: Array(e.labels.prefix(n)),
                                                            predictedScores: scores(p), scores: Array(e.scores.prefix(n)))
    }
}
