import Data
import Foundation
import NN
import Routing

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

    /// The cell's task (`TaskRegistry`) prepared by its dataset's modality preparation.
    func prepare(_ cfg: CellConfig, source: DataSource) throws -> PreparedTask {
        let task = try TaskRegistry.declaration(cfg.task, modality: cfg.modality)
        switch task.dataset {
        case .glueFormat:
            let vocabURL = resultsRoot.appendingPathComponent(cfg.tier).appendingPathComponent(cfg.suite)
                .appendingPathComponent("vocab").appendingPathComponent("\(cfg.task).txt")
            return try TextTaskPreparation(root: source.root, task: task, model: cfg.model, training: cfg.training,
                                           vocabURL: vocabURL)
        case .cifar100:
            return ImageTaskPreparation(data: try DatasetCache.shared.image(root: source.root, difficultyFile: task.difficultyFile),
                                        training: cfg.training)
        case .librispeech(let train, let evals):
            let data = try DatasetCache.shared.speech(root: source.root, trainSubset: train, evalSubsets: evals,
                                                      difficultyFile: task.difficultyFile)
            return SpeechTaskPreparation(data: data, model: cfg.model, training: cfg.training)
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
