import Foundation
import NN
import Routing
import Tensor

extension Bench {
    /// One full training step (forward, backward, gradient clipping, optimizer update) of
    /// the model of `cell` (its suite tier's model, batch size and optimizer) on its task's
    /// data, as the trainer runs it. The proxy data is written when missing.
    ///
    /// Memory: `held_mb` is what the step must hold (all engine buffers live at the end of
    /// the forward pass, which are the parameters, optimizer state, the batch and the
    /// activations saved for backward, plus one gradient per parameter); `peak_mb` is the
    /// most held at once during one step.
    public static func trainingStep(cell: Cell, trainer: Trainer, iterations: Int) throws -> Record {
        let cfg = cell.config
        let task = try trainer.prepare(cfg, source: try trainer.source(cfg))
        var initRNG = RNG(seed: UInt64(cfg.seed)).split("bench")
        let model = try Model(config: task.modelConfig(cfg.model), method: cfg.method.method,
                              options: cfg.method.options, rng: &initRNG)
        model.train()
        let loop = TrainLoop(spec: cfg.training, trainCount: task.trainCount, configHash: cfg.hash, checkpointURL: nil)
        let params = model.parameters()
        let optimizer = loop.makeOptimizer(params)
        let tid = taskID(cfg.task)
        var rng = RNG(seed: 7)
        var dataRNG = RNG(seed: 8)
        let bs = cfg.training.batchSize
        // Fixed batches, built before timing (data loading is not part of the step).
        let batches = (0..<4).map { _ in task.trainBatch((0..<bs).map { _ in Int(dataRNG.next() % UInt64(task.trainCount)) }, rng: &dataRNG) }
        var which = 0
        var heldBytes = 0
        let paramBytes = params.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
        func step(measure: Bool) {
            let b = batches[which % batches.count]
            which += 1
            if measure { TensorStorage.resetPeak() }
            var ctx = RoutingContext(training: true, rng: rng.split("routing"), taskID: tid, sequenceOffsets: [])
            let loss = model.loss(b.input, targets: b.targets, context: &ctx).total
            if measure { heldBytes = TensorStorage.liveBytes + paramBytes }
            loss.backward()
            if let c = cfg.training.clipNorm { clipGradNorm(params, maxNorm: Float(c)) }
            optimizer.step()
            optimizer.zeroGrad()
            _ = rng.next()
        }
        // One step first so that the optimizer state exists, then the memory measurement.
        step(measure: false)
        step(measure: true)
        let peak = TensorStorage.peakBytes
        let s = median(warmup: 1, iterations: iterations) { step(measure: false) }
        var r = Record(name: "step_\(cfg.suite)_\(cfg.method.label)", ms: s * 1e3, iterations: iterations)
        r.suite = cfg.suite
        r.task = cfg.task
        r.method = cfg.method.label
        r.batch_size = bs
        r.examples_per_s = Double(bs) / s
        r.held_mb = Double(heldBytes) / 1_048_576
        r.peak_mb = Double(peak) / 1_048_576
        r.peak_vs_held = Double(peak) / Double(max(heldBytes, 1))
        return r
    }
}
