import Foundation
import NN

/// Training diverged (a non-finite loss).
public struct DivergenceError: Error, CustomStringConvertible {
    public let step: Int
    public let loss: Float
    public var description: String { "training diverged at step \(step): loss \(loss)" }
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
    }

    /// Runs the loop. `step(indices, &rng)` builds the loss of one batch of training
    /// examples (indices into the training set) with gradients enabled; the loop
    /// back-propagates, clips, and applies the optimizer.
    public func run(model: Module, rng: RNG, step: ([Int], inout RNG) throws -> Tensor,
                    progress: (TrainingProgress) -> Void) throws -> Outcome {
        precondition(trainCount > 0, "no training examples")
        let params = model.parameters()
        let optimizer = makeOptimizer(params)
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
        if let url = checkpointURL, FileManager.default.fileExists(atPath: url.path) {
            // A checkpoint that cannot be used (corrupt, other configuration) is discarded:
            // the cell starts over rather than failing.
            let loaded = Result { try TrainingCheckpoint.load(from: url, model: model, optimizer: optimizer, expectedConfigHash: configHash) }
            if let meta = try? loaded.get(),
               let e = meta.rngs["epoch"], let t = meta.rngs["train"], let c = meta.extra["cursor"].flatMap(Int.init) {
                start = meta.step
                epochRNG = e
                dataRNG = e
                order = dataRNG.permutation(trainCount)
                cursor = c
                trainRNG = t
                flopsBefore = Double(meta.extra["flops"] ?? "0") ?? 0
                resumed = start
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
            examples += batch.count
            progress(TrainingProgress(step: s + 1, totalSteps: total, loss: lastLoss,
                                      examplesPerSecond: Double(examples) / max(Date().timeIntervalSince(t0), 1e-9)))
            if let url = checkpointURL, spec.checkpointEvery > 0, (s + 1) % spec.checkpointEvery == 0, s + 1 < total {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try TrainingCheckpoint.save(to: url, model: model, optimizer: optimizer,
                                            metadata: TrainingMetadata(step: s + 1, rngs: ["epoch": epochRNG, "train": trainRNG],
                                                                       configHash: configHash,
                                                                       extra: ["flops": String(flopsBefore + Double(counter.total)),
                                                                               "cursor": String(cursor)]))
            }
        }
        return Outcome(steps: total, finalLoss: lastLoss, flops: flopsBefore + Double(counter.total), resumedFrom: resumed)
    }
}
