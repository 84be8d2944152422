import Data
import Foundation
import NN
import Routing

/// Suite task names (lower case, as in suite files) mapped to GLUE tasks.
public let glueTaskByName: [String: GLUETask] = [
    "cola": .cola, "sst2": .sst2, "mrpc": .mrpc, "stsb": .stsb, "qqp": .qqp,
    "mnli": .mnli, "qnli": .qnli, "rte": .rte, "wnli": .wnli,
]

/// The task id DLR's task embedding reads: one id per suite task.
public func taskID(_ task: String) -> Int {
    let order = ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "cifar100", "librispeech"]
    return order.firstIndex(of: task) ?? 0
}

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

/// Trains and evaluates one cell of the grid: loads the data (writing the proxy when
/// needed), builds the model with the cell's method, runs the training loop, evaluates on
/// the dev/test splits, and assembles the result with FLOPs, parameters and routing.
public final class Trainer: CellRunner {
    public let dataDir: URL
    public let realData: URL?
    public let resultsRoot: URL
    public let environment: EnvironmentRecord
    public var log: (String) -> Void
    /// Evaluate during training for the learning curve's metric points (`LossCurve`).
    public var recordsCurveMetric = true

    public init(dataDir: URL, realData: URL?, resultsRoot: URL, environment: EnvironmentRecord,
                log: @escaping (String) -> Void = { print($0) }) {
        self.dataDir = dataDir
        self.realData = realData
        self.resultsRoot = resultsRoot
        self.environment = environment
        self.log = log
    }

    func source(_ cfg: CellConfig) throws -> DataSource {
        if cfg.data == "real" {
            guard let realData else {
                throw HarnessError("tier '\(cfg.tier)' reads the real datasets: pass --data DIR (a folder holding glue/, cifar-100-binary/, LibriSpeech/)")
            }
            return DataSource(root: realData, isProxy: false)
        }
        guard let scale = ProxyScale(rawValue: cfg.data) else { throw HarnessError("unknown data kind '\(cfg.data)'") }
        let s = DataSource.proxy(scale, dataDir: dataDir)
        try s.ensureProxy(for: cfg.modality, scale: scale, log: log)
        return s
    }

    func prepare(_ cfg: CellConfig, source: DataSource) throws -> PreparedTask {
        switch cfg.modality {
        case .text:
            guard let task = glueTaskByName[cfg.task] else { throw HarnessError("unknown GLUE task '\(cfg.task)'") }
            let vocabURL = resultsRoot.appendingPathComponent(cfg.tier).appendingPathComponent(cfg.suite)
                .appendingPathComponent("vocab").appendingPathComponent("\(cfg.task).txt")
            return try TextTask(root: source.root, task: task, model: cfg.model, training: cfg.training, vocabURL: vocabURL)
        case .image:
            return ImageTaskPrep(data: try DatasetCache.shared.image(root: source.root), training: cfg.training)
        case .speech:
            return SpeechTaskPrep(data: try DatasetCache.shared.speech(root: source.root), model: cfg.model, training: cfg.training)
        }
    }

    public func run(_ cell: Cell, progress: (TrainingProgress) -> Void) throws -> CellResult {
        let cfg = cell.config
        if cfg.pretrained != nil { return try PretrainedTrainer(trainer: self).run(cell, progress: progress) }
        let start = Date()
        let src = try source(cfg)
        let task = try prepare(cfg, source: src)
        let master = RNG(seed: UInt64(cfg.seed)).split("moebench")
        var initRNG = master.split("init")
        let model = try Model(config: task.modelConfig(cfg.model), method: cfg.method.method, options: cfg.method.options,
                              rng: &initRNG)
        let tid = taskID(cfg.task)
        let (loop, ckpt) = trainLoop(cell, trainCount: task.trainCount)
        model.train()
        let outcome = try loop.run(model: model, rng: master.split("loop:\(cfg.task)"), step: { idx, rng in
            let b = task.trainBatch(idx, rng: &rng)
            var ctx = RoutingContext(training: true, rng: rng.split("routing"), taskID: tid, sequenceOffsets: [])
            let l = model.loss(b.input, targets: b.targets, context: &ctx)
            _ = rng.next()
            return l.total
        }, curveEvaluation: recordsCurveMetric ? curveEvaluation(task, taskName: cfg.task, model: model, taskID: tid) : nil,
           progress: progress)

        model.eval()
        var activeParams: Double?
        // Specialization is counted on the main evaluation pass only (the first counter
        // `evaluate` passes); the length-binned routing pass reruns examples with another.
        var specialization = Specialization.Counts()
        var mainCounter: FlopCounter?
        let ev = try evaluate(task) { si, chunk, counter in
            let b = task.evalBatch(set: si, chunk)
            if mainCounter == nil { mainCounter = counter }
            let trace = RoutingTrace.Recorder()
            let out = RoutingTrace.$recorder.withValue(trace) {
                Flops.counting(into: counter) { model.predict(b.input, taskID: tid) }
            }
            if counter === mainCounter { specialization.add(trace, batch: b, output: out) }
            if activeParams == nil {
                activeParams = Double(try FlopsModel.measure(model: model, input: b.input, taskID: tid).activeParams)
            }
            let analytic = try FlopsModel.analytic(model: model, input: b.input, stats: out.stats).total
            return (out.stats, analytic, decode(out, batch: b, count: chunk.count))
        }
        try? FileManager.default.removeItem(at: ckpt)
        var result = CellResult(
            suite: cfg.suite, task: cfg.task, method: cfg.method.label, seed: cfg.seed, tier: cfg.tier,
            data: src.isProxy ? "proxy" : "real", status: "ok", failure: nil, config: cfg, configHash: cfg.hash,
            metrics: ev.metrics, flops: ev.flops(training: outcome.flops),
            params: ParamsRecord(total: model.parameterCount, active: activeParams ?? Double(model.parameterCount)),
            routing: ev.routing, byDifficulty: ev.byDifficulty, trainSteps: outcome.steps,
            finalTrainLoss: outcome.finalLoss, wallSeconds: Date().timeIntervalSince(start),
            environment: environment, finishedAt: ISO8601DateFormatter().string(from: Date()))
        result.routingByLevelLength = ev.routingByLevelLength
        result.specialization = specialization.record
        result.curve = outcome.curve
        if cfg.shiftedEval == true {
            result.shifted = try ShiftedEval.evaluate(task, root: src.root, log: log) { b, n in
                decode(model.predict(b.input, taskID: tid), batch: b, count: n)
            }
            result.wallSeconds = Date().timeIntervalSince(start)
        }
        return result
    }

    /// The training loop of `cell`, checkpointing (when its `checkpoint_every` is set) to
    /// `results/<tier>/<suite>/.checkpoints/<cell>.ckpt`, and that checkpoint's path.
    func trainLoop(_ cell: Cell, trainCount: Int) -> (TrainLoop, URL) {
        let cfg = cell.config
        let ckpt = resultsRoot.appendingPathComponent(cfg.tier).appendingPathComponent(cfg.suite)
            .appendingPathComponent(".checkpoints").appendingPathComponent(cell.id + ".ckpt")
        let loop = TrainLoop(spec: cfg.training, trainCount: trainCount, configHash: cfg.hash,
                             checkpointURL: cfg.training.checkpointEvery > 0 ? ckpt : nil)
        return (loop, ckpt)
    }

    /// Decodes a batch's outputs into predictions.
    func decode(_ out: ModelOutput, batch: Batch, count: Int) -> [Prediction] {
        let o = out.output
        switch batch.targets {
        case .classes:
            let c = o.shape[1]
            return (0..<count).map { i in
                let row = Array(UnsafeBufferPointer(start: o.data + i * c, count: c))
                var best = 0
                for j in 1..<c where row[j] > row[best] { best = j }
                return .label(best, scores: row)
            }
        case .scores:
            return (0..<count).map { .score(o.data[$0]) }
        case .transcripts:
            let T = o.shape[1], V = o.shape[2]
            let lengths = out.outputLengths ?? [Int](repeating: T, count: count)
            return (0..<count).map { i in
                var ids: [Int] = []
                for t in 0..<min(lengths[i], T) {
                    let row = o.data + (i * T + t) * V
                    var best = 0
                    for j in 1..<V where row[j] > row[best] { best = j }
                    ids.append(best)
                }
                return .transcript(CharVocabulary.standard.decodeCTC(ids))
            }
        }
    }
}

/// Only layers that route (more than one unit, or a block mixer's choices).
/// What evaluating a trained model on a task's evaluation sets gives.
struct Evaluation {
    var metrics: [String: Double]
    var byDifficulty: [String: DifficultyRecord]
    /// Routing statistics of the routed layers, merged over every evaluation batch.
    var routing: [LayerStats]
    /// Counted FLOPs of every evaluation forward pass.
    var counter: FlopCounter
    var analytic: Double
    var examples: Int
    /// Routing per (set, difficulty level, length bin); nil without levels or routed layers.
    var routingByLevelLength: [LevelLengthRouting]? = nil

    func flops(training: Double) -> FlopsRecord {
        let n = Double(max(examples, 1))
        return FlopsRecord(forwardPerExampleAnalytic: analytic / n, forwardPerExampleCounted: Double(counter.forwardTotal) / n,
                           routerPerExample: Double(counter.forward(.router)) / n, training: training)
    }
}

/// Evaluates per set, per difficulty level, in batches of 64 examples. `predict(set,
/// indices, counter)` runs one batch of set `set`, counting its forward FLOPs into `counter`,
/// and returns its routing statistics, analytic forward FLOPs and one prediction per index.
func evaluate(_ task: PreparedTask,
              predict: (Int, [Int], FlopCounter) throws -> (stats: [LayerStats], analytic: Double, predictions: [Prediction])) throws -> Evaluation {
    let counter = FlopCounter()
    var analytic = 0.0
    var examples = 0
    var allStats: [LayerStats] = []
    var levelStats: [Int: [LayerStats]] = [:]
    var levelIndices: [Int: [(Int, Int)]] = [:]
    var setLevelStats: [Int: [Int: [LayerStats]]] = [:]
    var predictions: [[Prediction]] = []
    let evalBatch = 64
    for (si, set) in task.evalSets.enumerated() {
        var preds = [Prediction?](repeating: nil, count: set.count)
        let groups: [(Int?, [Int])]
        if let levels = set.levels {
            groups = Dictionary(grouping: 0..<set.count) { levels[$0] }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        } else {
            groups = [(nil, Array(0..<set.count))]
        }
        for (level, idxs) in groups {
            for chunkStart in stride(from: 0, to: idxs.count, by: evalBatch) {
                let chunk = Array(idxs[chunkStart..<min(chunkStart + evalBatch, idxs.count)])
                let out = try predict(si, chunk, counter)
                analytic += out.analytic
                examples += chunk.count
                allStats = mergeStats(allStats, out.stats)
                if let level {
                    levelStats[level] = mergeStats(levelStats[level] ?? [], out.stats)
                    setLevelStats[si, default: [:]][level] = mergeStats(setLevelStats[si]?[level] ?? [], out.stats)
                }
                for (k, p) in out.predictions.enumerated() { preds[chunk[k]] = p }
            }
            if let level { levelIndices[level, default: []] += idxs.map { (si, $0) } }
        }
        predictions.append(preds.map { $0! })
    }
    var byDifficulty: [String: DifficultyRecord] = [:]
    for (level, pairs) in levelIndices {
        // The level metric on the first evaluation set that has the level.
        let si = pairs[0].0
        let idx = pairs.filter { $0.0 == si }.map(\.1)
        let st = routedOnly(levelStats[level] ?? [])
        let chosen = st.isEmpty ? 0 : st.map(\.meanChosen).reduce(0, +) / Double(st.count)
        byDifficulty["\(level)"] = DifficultyRecord(examples: pairs.count,
                                                    metric: task.levelMetric(set: si, idx, predictions[si]),
                                                    meanChosen: chosen)
    }
    var ev = Evaluation(metrics: task.metrics(predictions), byDifficulty: byDifficulty, routing: routedOnly(allStats),
                        counter: counter, analytic: analytic, examples: examples)
    if !ev.routing.isEmpty, task.evalSets.contains(where: { $0.levels != nil }) {
        ev.routingByLevelLength = try levelLengthRouting(task, setLevelStats: setLevelStats, predict: predict)
    }
    return ev
}

/// Routing per (difficulty level, length bin) of every evaluation set with levels. Each set's
/// lengths are cut into `DifficultyTrend.lengthBins` equal-count bins; when a set has more
/// than one bin its examples are run again, in batches of at most 64 drawn from one
/// (level, bin) group, with the FLOPs of this pass counted nowhere and its predictions
/// discarded (the metrics and FLOPs come from the main pass alone). A set whose inputs all
/// have one length (images) reuses the main pass's per-level statistics.
func levelLengthRouting(_ task: PreparedTask, setLevelStats: [Int: [Int: [LayerStats]]],
                        predict: (Int, [Int], FlopCounter) throws -> (stats: [LayerStats], analytic: Double, predictions: [Prediction])) throws -> [LevelLengthRouting] {
    var out: [LevelLengthRouting] = []
    let scratch = FlopCounter()
    for (si, set) in task.evalSets.enumerated() {
        guard let levels = set.levels, set.count > 0 else { continue }
        let lengths = task.evalLengths(set: si)
        guard lengths.count == set.count else { continue }
        let bins = DifficultyTrend.bins(lengths)
        let binCount = (bins.max() ?? 0) + 1
        var binRange: [Int: (Int, Int)] = [:]
        for (i, b) in bins.enumerated() {
            let r = binRange[b] ?? (lengths[i], lengths[i])
            binRange[b] = (min(r.0, lengths[i]), max(r.1, lengths[i]))
        }
        struct Key: Hashable, Comparable {
            var level: Int, bin: Int
            static func < (a: Key, b: Key) -> Bool { (a.level, a.bin) < (b.level, b.bin) }
        }
        let groups = Dictionary(grouping: 0..<set.count) { Key(level: levels[$0], bin: bins[$0]) }
        for (key, idxs) in groups.sorted(by: { $0.key < $1.key }) {
            var stats: [LayerStats] = []
            if binCount == 1, let st = setLevelStats[si]?[key.level] {
                stats = st
            } else {
                for chunkStart in stride(from: 0, to: idxs.count, by: 64) {
                    let chunk = Array(idxs[chunkStart..<min(chunkStart + 64, idxs.count)])
                    stats = mergeStats(stats, try predict(si, chunk, scratch).stats)
                }
            }
            let routed = routedOnly(stats)
            guard !routed.isEmpty else { continue }
            let range = binRange[key.bin]!
            out.append(LevelLengthRouting(set: set.name, level: key.level, lengthBin: key.bin, minLength: range.0, maxLength: range.1,
                                          examples: idxs.count, meanLength: idxs.map { Double(lengths[$0]) }.reduce(0, +) / Double(idxs.count),
                                          meanChosen: routed.map(\.meanChosen).reduce(0, +) / Double(routed.count)))
        }
    }
    return out
}

extension PreparedTask {
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

func routedOnly(_ stats: [LayerStats]) -> [LayerStats] {
    stats.filter { $0.assignedPerUnit.count > 1 }
}

/// Adds the statistics of one more batch to running totals (layer by layer): counts are
/// summed, the gate entropy and auxiliary values are averaged weighted by tokens routed.
func mergeStats(_ a: [LayerStats], _ b: [LayerStats]) -> [LayerStats] {
    if a.isEmpty { return b.map { var s = $0; s.chosenBlocks = nil; return s } }
    var out = a
    for (i, s) in b.enumerated() where i < out.count {
        var m = out[i]
        let wa = Double(m.routed), wb = Double(s.routed), w = max(wa + wb, 1)
        if m.assignedPerUnit.count == s.assignedPerUnit.count {
            for k in 0..<m.assignedPerUnit.count { m.assignedPerUnit[k] += s.assignedPerUnit[k] }
        }
        m.dropped += s.dropped
        m.routed += s.routed
        if s.chosenHistogram.count > m.chosenHistogram.count {
            m.chosenHistogram += [Int](repeating: 0, count: s.chosenHistogram.count - m.chosenHistogram.count)
        }
        for (k, v) in s.chosenHistogram.enumerated() { m.chosenHistogram[k] += v }
        m.gateEntropy = (m.gateEntropy * wa + s.gateEntropy * wb) / w
        for (k, v) in s.aux { m.aux[k] = ((m.aux[k] ?? 0) * wa + v * wb) / w }
        out[i] = m
    }
    return out
}

// MARK: Text (GLUE)

final class TextTask: PreparedTask {
    let task: GLUETask
    let maxLength: Int
    let train: [WordPieceEncoding]
    let trainLabels: [Int]
    let trainScores: [Float]
    let evals: [(name: String, enc: [WordPieceEncoding], labels: [Int], scores: [Float], levels: [Int]?)]
    let vocabSize: Int
    /// The tokenizer the examples were encoded with (for extra evaluation sets).
    let tokenizer: WordPieceTokenizer

    /// With `tokenizer` (a pretrained model's own vocabulary) no vocabulary is built.
    init(root: URL, task: GLUETask, model: ModelSpec, training: TrainingSpec, vocabURL: URL,
         tokenizer pretrainedTokenizer: WordPieceTokenizer? = nil) throws {
        self.task = task
        maxLength = model.maxLength
        let trainSplit = try GLUE.load(root: root, task: task, split: task.trainSplit)
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
        for split in task.devSplits {
            let s = try GLUE.load(root: root, task: task, split: split)
            guard s.hasLabels else { throw DataError(file: s.file.path, "the evaluation split has no labels") }
            let ex = Array(s.examples.prefix(training.evalExamples ?? Int.max))
            let diff = try GLUE.loadDifficulty(root: root, task: task, split: split)
            let levels = diff.map { d in ex.map { d[$0.index] ?? 0 } }
            evals.append((split, ex.map(enc), ex.map { $0.label ?? 0 }, ex.map { $0.score ?? 0 }, levels))
        }
        self.evals = evals
    }

    var trainCount: Int { train.count }

    func modelConfig(_ spec: ModelSpec) -> ModelConfig {
        ModelConfig(frontEnd: .text, backbone: backboneConfig(spec),
                    head: task.isRegression ? .regression : .classification(classes: task.numLabels),
                    vocabSize: vocabSize, segments: 2)
    }

    func batch(_ encs: [WordPieceEncoding], labels: [Int], scores: [Float]) -> Batch {
        Batch(input: .text(tokens: encs.map(\.ids), segments: encs.map(\.segmentIds)),
              targets: task.isRegression ? .scores(scores) : .classes(labels))
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
        var m: [String: Double] = [:]
        for (si, e) in evals.enumerated() {
            let p = predictions[si]
            switch task {
            case .cola: m["mcc"] = Metrics.matthews(predictions: labels(p), labels: e.labels)
            case .stsb:
                m["pearson"] = Metrics.pearson(scores(p), e.scores)
                m["spearman"] = Metrics.spearman(scores(p), e.scores)
            case .mrpc, .qqp:
                m["f1"] = Metrics.f1(predictions: labels(p), labels: e.labels)
                m["accuracy"] = Metrics.accuracy(predictions: labels(p), labels: e.labels)
            case .mnli:
                m[e.name == "dev_mismatched" ? "accuracy_mismatched" : "accuracy_matched"] =
                    Metrics.accuracy(predictions: labels(p), labels: e.labels)
            default: m["accuracy"] = Metrics.accuracy(predictions: labels(p), labels: e.labels)
            }
        }
        return m
    }

    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double {
        let e = evals[set]
        let p = indices.map { predictions[$0] }
        if task.isRegression { return Metrics.pearson(scores(p), indices.map { e.scores[$0] }) }
        return Metrics.accuracy(predictions: labels(p), labels: indices.map { e.labels[$0] })
    }
}

func backboneConfig(_ spec: ModelSpec, maxLength: Int? = nil) -> BackboneConfig {
    BackboneConfig(d: spec.d, depth: spec.depth, heads: spec.heads, ffnHidden: spec.ffnHidden, dropout: spec.dropout,
                   moeEvery: spec.moeEvery, maxLength: maxLength ?? spec.maxLength)
}

// MARK: Image (CIFAR-100)

final class ImageTaskPrep: PreparedTask {
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
        let p = ImageTaskPrep.patchSize(maxLength: spec.maxLength)
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
        let p = predictions[0]
        let labels = Array(data.test.fineLabels.prefix(evalCount))
        var top1 = 0, top5 = 0
        for (i, pr) in p.enumerated() {
            guard case .label(let l, let scores) = pr else { continue }
            if l == labels[i] { top1 += 1 }
            let target = scores[labels[i]]
            // Rank of the true class: number of classes scoring strictly higher (ties to the true class).
            if scores.filter({ $0 > target }).count < 5 { top5 += 1 }
        }
        return ["top1": Double(top1) / Double(max(p.count, 1)), "top5": Double(top5) / Double(max(p.count, 1))]
    }

    func levelMetric(set: Int, _ indices: [Int], _ predictions: [Prediction]) -> Double {
        var ok = 0
        for i in indices { if case .label(let l, _) = predictions[i], l == data.test.fineLabels[i] { ok += 1 } }
        return Double(ok) / Double(max(indices.count, 1))
    }
}

// MARK: Speech (LibriSpeech)

final class SpeechTaskPrep: PreparedTask {
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
}
