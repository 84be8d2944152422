import Data
import Foundation
import NN
import Pretrained
import Routing

/// The pretrained tier's model and recipe: which BERT-family folder is fine-tuned, where
/// its LoRA adapters go, how the head pools. Part of the cell configuration (and its hash)
/// of the pretrained tier only.
///
/// Suite keys of the `pretrained` tier (all optional):
///
///     pretrained_model: .pretrained/all-MiniLM-L6-v2   # a folder with config.json, model.safetensors, vocab.txt
///     lora: {rank: 8, alpha: 16, targets: [query, value]}
///     pooling: cls                                      # or mean
///     scratch_baseline: true                            # adds the `dense-scratch` cells
///     param_groups:                                     # optimizer groups by parameter name
///       - {name: gate, contains: [mixer.gates], lr: 0.1, weight_decay: 0.1}
///
/// `param_groups` (`ParameterGroup`): each group lists `prefixes` and/or `contains` (name
/// fragments of `namedParameters()`, e.g. `mixer.gates`, `upcycled.`, `.router`), and its own
/// peak `lr` and/or `weight_decay`; the schedule scales every group's `lr` as it scales the
/// tier's; the first matching group wins; unmatched parameters use the tier's training spec.
///
/// With `scratch_baseline`, every task and seed also runs `dense-scratch`: the same encoder
/// architecture (the folder's `config.json`, tokenizer and vocabulary) randomly initialised
/// as BERT initialises (`BertEncoder(config:rng:)`), without adapters, every weight trained,
/// with the tier's recipe: the from-scratch model of the same size that pretrained
/// fine-tuning is compared with.
///
/// The encoder's shape comes from the folder's `config.json`; of the tier's `model`, only
/// `max_length` (tokens per example) is read. `moebench replicate --pretrained-model DIR`
/// overrides the folder.
public struct PretrainedSpec: Codable, Equatable, Sendable {
    public var model: String
    public var loraRank: Int
    public var loraAlpha: Double
    public var loraTargets: [String]
    public var pooling: String
    /// Whether the tier adds the same-size from-scratch baseline (`dense-scratch`).
    public var scratchBaseline: Bool
    /// Optimizer parameter groups (empty: one learning rate and weight decay).
    public var parameterGroups: [ParameterGroup] = []

    public init(model: String = PretrainedFolder.defaultPath, loraRank: Int = 8, loraAlpha: Double = 16,
                loraTargets: [String] = ["query", "value"], pooling: String = "cls", scratchBaseline: Bool = false) {
        self.model = model
        self.loraRank = loraRank
        self.loraAlpha = loraAlpha
        self.loraTargets = loraTargets
        self.pooling = pooling
        self.scratchBaseline = scratchBaseline
    }

    enum CodingKeys: String, CodingKey { case model, loraRank, loraAlpha, loraTargets, pooling, scratchBaseline, parameterGroups }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        loraRank = try c.decode(Int.self, forKey: .loraRank)
        loraAlpha = try c.decode(Double.self, forKey: .loraAlpha)
        loraTargets = try c.decode([String].self, forKey: .loraTargets)
        pooling = try c.decode(String.self, forKey: .pooling)
        scratchBaseline = try c.decodeIfPresent(Bool.self, forKey: .scratchBaseline) ?? false
        parameterGroups = try c.decodeIfPresent([ParameterGroup].self, forKey: .parameterGroups) ?? []
    }

    /// `scratchBaseline` and `parameterGroups` are written only when set, so the
    /// configuration hashes of tiers without them do not depend on the keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(loraRank, forKey: .loraRank)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraTargets, forKey: .loraTargets)
        try c.encode(pooling, forKey: .pooling)
        if scratchBaseline { try c.encode(true, forKey: .scratchBaseline) }
        if !parameterGroups.isEmpty { try c.encode(parameterGroups, forKey: .parameterGroups) }
    }

    /// The label of the same-size from-scratch baseline's cells.
    public static let scratchLabel = "dense-scratch"
    /// The method entry of the same-size from-scratch baseline: `dense`, its encoder
    /// randomly initialised and fully trained (`init: random`).
    public static let scratchEntry = MethodEntry(label: scratchLabel, method: "dense", options: ["init": .string("random")])

    /// Whether a cell's method is the from-scratch baseline.
    public static func isScratch(_ entry: MethodEntry) -> Bool { entry.options["init"] == .string("random") }

    /// The tier keys this spec reads.
    static let tierKeys = ["pretrained_model", "lora", "pooling", "scratch_baseline", "param_groups"]
    /// The tier that fine-tunes a pretrained model.
    public static let tierName = "pretrained"

    public var loraConfig: LoRAConfig {
        LoRAConfig(rank: loraRank, alpha: Float(loraAlpha), targets: loraTargets.compactMap(LoRATarget.init(rawValue:)))
    }

    public var poolingKind: PretrainedPooling { PretrainedPooling(rawValue: pooling) ?? .cls }

    /// Whether a suite method runs on the pretrained encoder (dense without options, MoLEx,
    /// DLR, and Switch, top-2 and top-p by sparse upcycling).
    public static func runs(_ entry: MethodEntry) -> Bool {
        RoutedPretrainedClassifier.methods.contains(entry.method) && (entry.method != "dense" || entry.options.isEmpty)
    }

    /// The spec of tier `tier` from its fields: nil for the other tiers (which must not use
    /// the keys), the defaults overridden by the keys present for the pretrained tier.
    static func parse(tier: String, tierReader: YAMLReader, fields: [(String, YAMLReader)], modality: Modality) throws -> PretrainedSpec? {
        func f(_ k: String) -> YAMLReader? { fields.first { $0.0 == k }?.1 }
        guard tier == tierName else {
            for k in tierKeys { if let r = f(k) { throw r.error("'\(k)' is read only by the '\(tierName)' tier") } }
            return nil
        }
        guard modality == .text else {
            throw tierReader.error("the '\(tierName)' tier fine-tunes a pretrained text encoder; this suite's modality is \(modality.rawValue)")
        }
        var spec = PretrainedSpec()
        if let r = f("pretrained_model") {
            spec.model = try r.string()
            if spec.model.isEmpty { throw r.error("pretrained_model must be a folder path") }
        }
        if let r = f("lora") {
            for (k, v) in try r.mapping(allowed: ["rank", "alpha", "targets"]) {
                switch k {
                case "rank":
                    spec.loraRank = try v.int()
                    if spec.loraRank < 1 { throw v.error("lora rank must be at least 1, got \(spec.loraRank)") }
                case "alpha":
                    spec.loraAlpha = try v.double()
                    if !(spec.loraAlpha > 0) { throw v.error("lora alpha must be positive") }
                case "targets":
                    let ts = try v.stringList()
                    let allowed = LoRATarget.allCases.map(\.rawValue)
                    for t in ts where !allowed.contains(t) {
                        throw v.error("unknown LoRA target '\(t)'; allowed: \(allowed.joined(separator: ", "))")
                    }
                    if ts.isEmpty || Set(ts).count != ts.count { throw v.error("lora targets must be a non-empty list without repeats") }
                    spec.loraTargets = ts
                default: break
                }
            }
        }
        if let r = f("pooling") {
            let p = try r.string()
            guard PretrainedPooling(rawValue: p) != nil else {
                throw r.error("unknown pooling '\(p)'; allowed: \(PretrainedPooling.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            spec.pooling = p
        }
        if let r = f("scratch_baseline") {
            guard case .bool(let b) = try r.optionValue() else { throw r.error("scratch_baseline must be true or false") }
            spec.scratchBaseline = b
        }
        if let r = f("param_groups") {
            for g in try r.sequence() {
                var group = ParameterGroup(name: "")
                for (k, v) in try g.mapping(allowed: ["name", "prefixes", "contains", "lr", "weight_decay"]) {
                    switch k {
                    case "name": group.name = try v.string()
                    case "prefixes": group.prefixes = try v.stringList()
                    case "contains": group.contains = try v.stringList()
                    case "lr":
                        let lr = try v.double()
                        if !(lr > 0 && lr <= TrainingSpec.maxLR) { throw v.error("a group's lr must be in (0, \(TrainingSpec.maxLR)], got \(lr)") }
                        group.lr = Float(lr)
                    case "weight_decay":
                        let wd = try v.double()
                        if !(wd >= 0 && wd <= 1) { throw v.error("a group's weight_decay must be in [0, 1], got \(wd)") }
                        group.weightDecay = Float(wd)
                    default: break
                    }
                }
                if group.name.isEmpty { throw g.error("a parameter group needs a name") }
                if group.prefixes.isEmpty && group.contains.isEmpty { throw g.error("parameter group '\(group.name)' needs 'prefixes' or 'contains'") }
                if spec.parameterGroups.contains(where: { $0.name == group.name }) { throw g.error("duplicate parameter group '\(group.name)'") }
                spec.parameterGroups.append(group)
            }
        }
        return spec
    }
}

/// Runs one cell of the pretrained tier: loads the GLUE task tokenized with the model's own
/// `vocab.txt`, loads the pretrained encoder, adds LoRA adapters (everything pretrained
/// frozen), the task head (trained fully) and the method (dense; MoLEx or DLR over the
/// encoder's layers; Switch, top-2 or top-p with experts upcycled from each layer's FFN), trains with the shared `TrainLoop`, and evaluates as the from-scratch
/// cells are evaluated (dev splits, per difficulty level, counted and analytic FLOPs,
/// routing statistics).
public struct PretrainedTrainer {
    public let trainer: Trainer

    public init(trainer: Trainer) { self.trainer = trainer }

    public func run(_ cell: Cell, progress: (TrainingProgress) -> Void) throws -> CellResult {
        let cfg = cell.config
        guard let spec = cfg.pretrained else { throw HarnessError("cell \(cell.id) has no pretrained model") }
        guard cfg.modality == .text, let declaration = TaskRegistry.declaration(cfg.task),
              let format = declaration.glueFormat else {
            throw HarnessError("the pretrained tier runs GLUE-format text tasks only, got '\(cfg.task)'")
        }
        let start = Date()
        let dir = URL(fileURLWithPath: spec.model)
        try PretrainedFolder.check(dir, files: SentenceEncoder.requiredFiles)
        let tokenizer = try SentenceEncoder.loadTokenizer(directory: dir)
        let encoder = try BertEncoder.load(directory: dir)
        let encoderParameters = encoder.parameters().map(\.count).reduce(0, +)
        guard tokenizer.vocabulary.count == encoder.config.vocabSize else {
            throw HarnessError("\(dir.path): vocab.txt has \(tokenizer.vocabulary.count) tokens, config.json vocab_size \(encoder.config.vocabSize)")
        }
        guard cfg.model.maxLength <= encoder.config.maxPositions else {
            throw HarnessError("max_length \(cfg.model.maxLength) exceeds the \(encoder.config.maxPositions) positions of \(dir.path)")
        }
        let src = try trainer.source(cfg)
        let task = try TextTaskPreparation(root: src.root, task: declaration, model: cfg.model, training: cfg.training,
                                vocabURL: dir.appendingPathComponent("vocab.txt"), tokenizer: tokenizer)
        let padID = encoder.config.padTokenID
        func bertInput(_ b: Batch) -> BertInput {
            guard case .text(let tokens, let segments) = b.input else { preconditionFailure("pretrained tier: text input expected") }
            return BertInput(ids: tokens, segments: segments, padID: padID)
        }

        let master = RNG(seed: UInt64(cfg.seed)).split("moebench")
        var initRNG = master.split("init")
        // The same-size from-scratch baseline: the folder's architecture, BERT's random
        // initialisation, no adapters, every weight trained.
        let scratch = PretrainedSpec.isScratch(cfg.method)
        var scratchRNG = master.split("scratch-encoder")
        let model = try RoutedPretrainedClassifier(
            encoder: scratch ? BertEncoder(config: encoder.config, rng: &scratchRNG) : encoder,
            outputs: format.isRegression ? 1 : format.numLabels,
            method: cfg.method.method, options: cfg.method.options.filter { !(scratch && $0.key == "init") },
            pooling: spec.poolingKind, lora: scratch ? nil : spec.loraConfig, rng: &initRNG)
        let tid = taskID(cfg.task)
        var (loop, ckpt) = trainer.trainLoop(cell, trainCount: task.trainCount)
        loop.parameterGroups = spec.parameterGroups
        model.train()
        let outcome = try loop.run(model: model, rng: master.split("loop:\(cfg.task)"), step: { idx, rng in
            let b = task.trainBatch(idx, rng: &rng)
            var ctx = RoutingContext(training: true, rng: rng.split("routing"), taskID: tid, sequenceOffsets: [])
            let out = model.forward(bertInput(b), context: &ctx)
            let loss: Tensor = Flops.withCategory(.other) {
                switch b.targets {
                case .classes(let labels): return crossEntropy(out.logits, labels: labels)
                case .scores(let s): return mseLoss(out.logits, Tensor(shape: [s.count, 1], scalars: s))
                case .transcripts: preconditionFailure("pretrained tier: no speech targets")
                }
            }
            _ = rng.next()
            return out.auxLoss.map { a in Flops.withCategory(.router) { loss + a } } ?? loss
        }, progress: progress)

        // Evaluation, as the from-scratch cells: per set, per difficulty level, in batches.
        model.eval()
        let ev = try evaluate(task) { si, chunk, counter in
            let input = bertInput(task.evalBatch(set: si, chunk))
            let out = Flops.counting(into: counter) { model.predict(input, taskID: tid) }
            let o = out.logits, c = o.shape[1]
            let preds = (0..<chunk.count).map { k -> Prediction in
                if format.isRegression { return .score(o.data[k * c]) }
                let row = Array(UnsafeBufferPointer(start: o.data + k * c, count: c))
                var best = 0
                for j in 1..<c where row[j] > row[best] { best = j }
                return .label(best, scores: row)
            }
            return (out.stats, model.analyticFlops(input, stats: out.stats).total, preds)
        }
        try? FileManager.default.removeItem(at: ckpt)
        // Block mixers use all of the encoder's layers for every example (no copies); with
        // sparse upcycling the experts not chosen are not active.
        let total = model.totalParameterCount
        var result = CellResult(
            suite: cfg.suite, task: cfg.task, method: cfg.method.label, seed: cfg.seed, tier: cfg.tier,
            data: src.isProxy ? "proxy" : "real", status: "ok", failure: nil, config: cfg, configHash: cfg.hash,
            metrics: ev.metrics, flops: ev.flops(training: outcome.flops),
            params: ParamsRecord(total: total, active: model.activeParameterCount(stats: ev.routing)),
            routing: ev.routing, byDifficulty: ev.byDifficulty, trainSteps: outcome.steps,
            finalTrainLoss: outcome.finalLoss, wallSeconds: Date().timeIntervalSince(start),
            environment: trainer.environment, finishedAt: ISO8601DateFormatter().string(from: Date()))
        // Routing per (difficulty level, length bin), for the length-controlled difficulty
        // claim, as the from-scratch cells record it.
        result.routingByLevelLength = ev.routingByLevelLength
        // The training-loss part of the learning curve (no intermediate evaluation here).
        result.curve = outcome.curve
        let c = encoder.config
        let digests = try ["config.json", "model.safetensors", "vocab.txt"].map { try MD5.hex(ofFile: dir.appendingPathComponent($0)) }
        result.encoder = EncoderRecord(folder: dir.lastPathComponent, layers: c.layers, hidden: c.hiddenSize, heads: c.heads,
                                       intermediate: c.intermediateSize, vocabSize: c.vocabSize, maxPositions: c.maxPositions,
                                       parameters: encoderParameters, checksum: MD5.hex(Array(digests.joined(separator: " ").utf8)))
        return result
    }
}
