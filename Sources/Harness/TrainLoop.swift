import Foundation
import NN

/// Training diverged (a non-finite loss).
public struct DivergenceError: Error, CustomStringConvertible {
    public let step: Int
    public let loss: Float
    public var description: String { "training diverged at step \(step): loss \(loss)" }
}

/// A run's learning curve: the mean training loss over each twentieth of the steps, and the
/// task's primary metric on a fixed evaluation subset after a third, two thirds and all of
/// the steps.
public struct LossCurve: Codable, Equatable, Sendable {
    /// Mean training loss (the loss the optimizer minimised, auxiliary losses included) over
    /// steps `firstStep...lastStep` (1-based).
    public struct Segment: Codable, Equatable, Sendable {
        public var firstStep: Int
        public var lastStep: Int
        public var meanLoss: Double

        public init(firstStep: Int, lastStep: Int, meanLoss: Double) {
            self.firstStep = firstStep
            self.lastStep = lastStep
            self.meanLoss = meanLoss
        }
    }
    /// The primary metric after `step` optimizer steps.
    public struct EvalPoint: Codable, Equatable, Sendable {
        public var step: Int
        public var value: Double

        public init(step: Int, value: Double) {
            self.step = step
            self.value = value
        }
    }

    public var segments: [Segment]
    /// Metric key (as in `CellResult.metrics`) of the evaluation points.
    public var metric: String
    /// Which examples the points are evaluated on.
    public var evalSubset: String
    public var eval: [EvalPoint]

    public init(segments: [Segment], metric: String, evalSubset: String, eval: [EvalPoint]) {
        self.segments = segments
        self.metric = metric
        self.evalSubset = evalSubset
        self.eval = eval
    }

    public static let segmentCount = 20

    /// The 0-based step ranges of the segments: segment k holds steps
    /// `⌊k·T/20⌋ ..< ⌊(k+1)·T/20⌋` (empty segments, when T < 20, are left out).
    public static func segmentBounds(totalSteps t: Int) -> [Range<Int>] {
        (0..<segmentCount).map { k in (k * t / segmentCount)..<((k + 1) * t / segmentCount) }.filter { !$0.isEmpty }
    }

    /// The steps after which the metric is evaluated: ⌊T/3⌋, ⌊2T/3⌋ and T (distinct, positive).
    public static func evalSteps(totalSteps t: Int) -> [Int] {
        var out: [Int] = []
        for s in [t / 3, 2 * t / 3, t] where s > 0 && !out.contains(s) { out.append(s) }
        return out
    }
}

/// The loop's running record of the curve, saved in checkpoints.
struct CurveState: Codable, Equatable {
    var sums: [Double]
    var counts: [Int]
    var eval: [LossCurve.EvalPoint]
}

/// Intermediate evaluation during training: `evaluate()` returns the primary metric of the
/// model as it stands. It must leave the model's parameters, mode and every random stream
/// as they were (the trainer's runs in evaluation mode, with a fixed routing seed, without
/// gradients or FLOP counting), so that training with and without it ends the same.
public struct CurveEvaluation {
    public var metric: String
    public var subset: String
    public var evaluate: () throws -> Double

    public init(metric: String, subset: String, evaluate: @escaping () throws -> Double) {
        self.metric = metric
        self.subset = subset
        self.evaluate = evaluate
    }
}

/// The optimisation loop shared by every modality: data order, optimizer, schedule,
/// clipping, periodic atomic checkpoints and resume, FLOP counting, progress.
///
/// Determinism: the data order comes from the `data` stream and everything random inside
/// a step (dropout, routing noise) from the `train` stream of the cell's RNG; both are
/// saved in checkpoints, so a resumed run ends with the same result as an uninterrupted one.
public struct TrainLoop {
    public var spec: TrainingSpec
    public var trainCount: Int
    public var configHash: String
    /// Where periodic checkpoints go (nil: never checkpoint).
    public var checkpointURL: URL?
    /// Parameter groups with their own learning rate and weight decay, found by the
    /// parameters' names in the model (`ParameterGroup`); empty: one learning rate and
    /// weight decay for every parameter.
    public var parameterGroups: [ParameterGroup] = []

    public init(spec: TrainingSpec, trainCount: Int, configHash: String, checkpointURL: URL?) {
        self.spec = spec
        self.trainCount = trainCount
        self.configHash = configHash
        self.checkpointURL = checkpointURL
    }

    /// Optimizer steps: `steps`, or `ceil(epochs · trainCount / batchSize)`.
    public var totalSteps: Int {
        if let s = spec.steps { return s }
        let e = spec.epochs ?? 1
        return max(1, Int((e * Double(trainCount) / Double(spec.batchSize)).rounded(.up)))
    }

    public func makeOptimizer(_ params: [Tensor]) -> Optimizer {
        let lr = Float(spec.lr), wd = Float(spec.weightDecay)
        switch spec.optimizer {
        case "sgd": return SGD(params, lr: lr, momentum: 0.9, weightDecay: wd)
        case "adam": return Adam(params, lr: lr, weightDecay: wd)
        default: return AdamW(params, lr: lr, weightDecay: wd)
        }
    }

    public var schedule: LRSchedule {
        let total = totalSteps
        let warm = Int((spec.warmupFraction * Double(total)).rounded())
        switch spec.schedule {
        case "constant": return .constant(Float(spec.lr), warmup: warm)
        case "cosine": return .cosine(Float(spec.lr), warmup: warm, total: total)
        default: return .linear(Float(spec.lr), warmup: warm, total: total)
        }
    }

    public struct Outcome {
        public var steps: Int
        public var finalLoss: Double
        /// FLOPs counted over the whole run (forward and backward; a resumed run counts
        /// the steps it ran plus the count saved at the checkpoint).
        public var flops: Double
        public var resumedFrom: Int?
        /// The training-loss segments, and the evaluation points when an evaluation was given.
        public var curve: LossCurve
    }

    /// Runs the loop. `step(indices, &rng)` builds the loss of one batch of training
    /// examples (indices into the training set) with gradients enabled; the loop
    /// back-propagates, clips, and applies the optimizer.
    ///
    /// The loop records the mean loss per twentieth of the run, and, with `curveEvaluation`,
    /// the metric after a third, two thirds and all of the steps (`LossCurve`); checkpoints
    /// carry the partial record, so a resumed run records the same curve.
    public func run(model: Module, rng: RNG, step: ([Int], inout RNG) throws -> Tensor,
                    curveEvaluation: CurveEvaluation? = nil,
                    progress: (TrainingProgress) -> Void) throws -> Outcome {
        precondition(trainCount > 0, "no training examples")
        let named = model.namedParameters()
        let params = named.map(\.1)
        let optimizer = makeOptimizer(params)
        if !parameterGroups.isEmpty { optimizer.setGroups(parameterGroups, names: named.map(\.0)) }
        let sched = schedule
        let total = totalSteps
        var dataRNG = rng.split("data"), trainRNG = rng.split("train")
        // The data stream as it was just before the current epoch's permutation was drawn,
        // and the position in that permutation: together they restore the data order.
        var epochRNG = dataRNG
        var order: [Int] = []
        var cursor = Int.max
        var start = 0
        var flopsBefore = 0.0
        var resumed: Int?
        let bounds = LossCurve.segmentBounds(totalSteps: total)
        var segmentOf = [Int](repeating: 0, count: total)
        for (k, r) in bounds.enumerated() { for st in r { segmentOf[st] = k } }
        let evalSteps = curveEvaluation.map { _ in LossCurve.evalSteps(totalSteps: total) } ?? []
        var curve = CurveState(sums: [Double](repeating: 0, count: bounds.count), counts: [Int](repeating: 0, count: bounds.count), eval: [])
        if let url = checkpointURL, FileManager.default.fileExists(atPath: url.path) {
            // A checkpoint that cannot be used (corrupt, other configuration) is discarded:
            // the cell starts over rather than failing.
            let loaded = Result { try TrainingCheckpoint.load(from: url, model: model, optimizer: optimizer, expectedConfigHash: configHash) }
            if let meta = try? loaded.get(),
               let e = meta.rngs["epoch"], let t = meta.rngs["train"], let c = meta.extra["cursor"].flatMap(Int.init),
               let cs = meta.extra["curve"].flatMap({ try? JSONDecoder().decode(CurveState.self, from: Data($0.utf8)) }),
               cs.sums.count == bounds.count {
                start = meta.step
                epochRNG = e
                dataRNG = e
                order = dataRNG.permutation(trainCount)
                cursor = c
                trainRNG = t
                flopsBefore = Double(meta.extra["flops"] ?? "0") ?? 0
                resumed = start
                curve = cs
            } else {
                FileHandle.standardError.write(Data("discarded checkpoint \(url.path): \({ if case .failure(let e) = loaded { return "\(e)" } else { return "incomplete metadata" } }()); starting the cell over\n".utf8))
                try? FileManager.default.removeItem(at: url)
            }
        }
        let counter = FlopCounter()
        func nextBatch() -> [Int] {
            var batch: [Int] = []
            batch.reserveCapacity(spec.batchSize)
            while batch.count < spec.batchSize {
                if cursor >= order.count {
                    epochRNG = dataRNG
                    order = dataRNG.permutation(trainCount)
                    cursor = 0
                }
                batch.append(order[cursor])
                cursor += 1
            }
            return batch
        }
        var lastLoss = Double.nan
        let t0 = Date()
        var examples = 0
        for s in start..<total {
            optimizer.lr = sched.lr(s)
            let batch = nextBatch()
            let loss = try Flops.counting(into: counter) { () -> Tensor in
                let l = try step(batch, &trainRNG)
                l.backward()
                return l
            }
            let lv = loss.item
            guard lv.isFinite else { throw DivergenceError(step: s, loss: lv) }
            if let c = spec.clipNorm { clipGradNorm(params, maxNorm: Float(c)) }
            optimizer.step()
            optimizer.zeroGrad()
            lastLoss = Double(lv)
            curve.sums[segmentOf[s]] += lastLoss
            curve.counts[segmentOf[s]] += 1
            examples += batch.count
            progress(TrainingProgress(step: s + 1, totalSteps: total, loss: lastLoss,
                                      examplesPerSecond: Double(examples) / max(Date().timeIntervalSince(t0), 1e-9)))
            if let ce = curveEvaluation, evalSteps.contains(s + 1) {
                curve.eval.append(LossCurve.EvalPoint(step: s + 1, value: try ce.evaluate()))
            }
            if let url = checkpointURL, spec.checkpointEvery > 0, (s + 1) % spec.checkpointEvery == 0, s + 1 < total {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try TrainingCheckpoint.save(to: url, model: model, optimizer: optimizer,
                                            metadata: TrainingMetadata(step: s + 1, rngs: ["epoch": epochRNG, "train": trainRNG],
                                                                       configHash: configHash,
                                                                       extra: ["flops": String(flopsBefore + Double(counter.total)),
                                                                               "cursor": String(cursor),
                                                                               "curve": String(decoding: try JSONEncoder().encode(curve), as: UTF8.self)]))
            }
        }
        let segments = bounds.enumerated().map { k, r in
            LossCurve.Segment(firstStep: r.lowerBound + 1, lastStep: r.upperBound,
                              meanLoss: curve.counts[k] > 0 ? curve.sums[k] / Double(curve.counts[k]) : .nan)
        }
        let record = LossCurve(segments: segments, metric: curveEvaluation?.metric ?? "", evalSubset: curveEvaluation?.subset ?? "",
                               eval: curve.eval)
        return Outcome(steps: total, finalLoss: lastLoss, flops: flopsBefore + Double(counter.total), resumedFrom: resumed,
                       curve: record)
    }
}
