import Data
import Foundation
import Routing
import Tensor

/// The input kind of a suite; it selects the front end, head, loss and metrics.
public enum Modality: String, Codable, Sendable, CaseIterable {
    case text, image, speech
}

/// The model shape shared by every method of a suite (one modality).
public struct ModelSpec: Codable, Equatable, Sendable {
    public var d: Int
    public var depth: Int
    public var heads: Int
    public var ffnHidden: Int
    public var dropout: Double
    /// Text: maximum tokens per example; speech: maximum feature frames.
    public var maxLength: Int
    /// Text: vocabulary size built from the training split.
    public var vocabSize: Int
    /// Which blocks get the routed FFN (1 = every block).
    public var moeEvery: Int

    static let keys = ["d", "depth", "heads", "ffn_hidden", "dropout", "max_length", "vocab_size", "moe_every"]

    public static let `default` = ModelSpec(d: 64, depth: 4, heads: 4, ffnHidden: 256, dropout: 0.1,
                                            maxLength: 64, vocabSize: 4000, moeEvery: 1)

    /// Upper limits of the sizes: far above every suite's full tier (d 256, depth 12,
    /// ffn_hidden 1024, max_length 3500, vocab_size 16000), low enough that no product of
    /// them overflows and that a typo (an extra zero or two) is an error, not an
    /// allocation that takes the machine down.
    static let maxD = 8192, maxDepth = 128, maxFFNHidden = 65536, maxLength = 65536, maxVocab = 1_000_000

    /// Applies the keys present in `r` on top of `self`, each checked where it is written;
    /// `origins` records which reader set each key (for checks that need the whole suite).
    func overridden(by r: YAMLReader, origins: inout [String: YAMLReader]) throws -> ModelSpec {
        var m = self
        for (k, v) in try r.mapping(allowed: ModelSpec.keys) {
            switch k {
            case "d": m.d = try v.int(in: 1...ModelSpec.maxD, "the model width")
            case "depth": m.depth = try v.int(in: 1...ModelSpec.maxDepth, "Transformer blocks")
            case "heads": m.heads = try v.int(in: 1...ModelSpec.maxD, "attention heads, dividing d")
            case "ffn_hidden": m.ffnHidden = try v.int(in: 1...ModelSpec.maxFFNHidden, "the FFN's hidden width")
            case "dropout": m.dropout = try v.double(in: 0...1, openAbove: true, "a probability below 1")
            case "max_length":
                m.maxLength = try v.int(in: 1...ModelSpec.maxLength,
                                        "text: tokens per example with [CLS] and [SEP]; speech: feature frames")
            case "vocab_size":
                m.vocabSize = try v.int(in: WordPieceVocabulary.specialTokens.count...ModelSpec.maxVocab,
                                        "the vocabulary holds the \(WordPieceVocabulary.specialTokens.count) special tokens "
                                        + WordPieceVocabulary.specialTokens.joined(separator: " "))
            case "moe_every": m.moeEvery = try v.int(in: 1...ModelSpec.maxDepth, "every N-th block is routed")
            default: break
            }
            origins[k] = v
        }
        guard m.d % m.heads == 0 else {
            throw (origins["heads"] ?? origins["d"] ?? r).error("d (\(m.d)) must be divisible by heads (\(m.heads))")
        }
        guard m.moeEvery <= m.depth else {
            throw (origins["moe_every"] ?? origins["depth"] ?? r).error(
                "moe_every (\(m.moeEvery)) must be at most depth (\(m.depth)): every moe_every-th block is routed, so a larger value routes none")
        }
        return m
    }

    func overridden(by r: YAMLReader) throws -> ModelSpec {
        var o: [String: YAMLReader] = [:]
        return try overridden(by: r, origins: &o)
    }

    /// The smallest `max_length` the code accepts for `modality` and `tasks`, and why.
    /// Text: the tokenizer keeps `[CLS] a [SEP]` (2 tokens, single-sentence tasks) or
    /// `[CLS] a [SEP] b [SEP]` (3, sentence-pair tasks) and truncates the texts to the rest.
    /// Speech: the front end's two stride-2 convolutions map n frames to ceil(ceil(n/2)/2) >= 1
    /// positions, so 1 frame runs (CTC then scores transcripts that cannot fit as zero loss).
    /// Image: the ViT uses its 65 positions (64 patches and the class token) whatever is set.
    static func minimumLength(modality: Modality, tasks: [String]) -> (Int, String) {
        switch modality {
        case .text:
            if let pair = tasks.first(where: { TaskRegistry.declaration($0)?.glueFormat?.isPair ?? false }) {
                return (3, "sentence-pair task '\(pair)' needs [CLS] a [SEP] b [SEP]: 3 tokens before any text")
            }
            return (2, "[CLS] and [SEP] take 2 tokens before any text")
        case .speech: return (1, "feature frames")
        case .image: return (1, "unused by the image model: 65 positions")
        }
    }
}

/// One method column of a suite: a label, a registered method and its options.
public struct MethodEntry: Codable, Equatable, Sendable {
    public var label: String
    public var method: String
    public var options: [String: OptionValue]

    public init(label: String, method: String, options: [String: OptionValue]) {
        self.label = label
        self.method = method
        self.options = options
    }
}

/// Training settings of one tier (and, within it, one task).
public struct TrainingSpec: Codable, Equatable, Sendable {
    public var steps: Int?
    public var epochs: Double?
    public var batchSize: Int
    public var optimizer: String
    public var lr: Double
    public var weightDecay: Double
    public var warmupFraction: Double
    public var schedule: String
    public var clipNorm: Double?
    /// Caps on the number of examples read (nil = the whole split).
    public var trainExamples: Int?
    public var evalExamples: Int?
    /// Steps between checkpoints (0 = never).
    public var checkpointEvery: Int

    static let keys = ["steps", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "warmup",
                       "schedule", "clip_norm", "train_examples", "eval_examples", "checkpoint_every"]
    static let optimizers = ["sgd", "adam", "adamw"]
    static let schedules = ["constant", "linear", "cosine"]

    public static let `default` = TrainingSpec(steps: 200, epochs: nil, batchSize: 32, optimizer: "adamw", lr: 1e-3,
                                               weightDecay: 0.01, warmupFraction: 0.06, schedule: "linear",
                                               clipNorm: 1.0, trainExamples: nil, evalExamples: nil,
                                               checkpointEvery: 0)

    /// Upper limits: far above every suite's full tier, low enough that step counts and
    /// the epoch arithmetic (`epochs · examples / batch_size`) cannot overflow.
    static let maxSteps = 100_000_000, maxEpochs = 100_000.0, maxBatch = 65536, maxLR = 10.0

    func overridden(by r: YAMLReader, extraKeys: [String] = []) throws -> TrainingSpec {
        var t = self
        for (k, v) in try r.mapping(allowed: TrainingSpec.keys + extraKeys) {
            switch k {
            case "steps": t.steps = try v.int(in: 1...TrainingSpec.maxSteps, "optimizer steps"); t.epochs = nil
            case "epochs":
                t.epochs = try v.double(in: 0...TrainingSpec.maxEpochs, openBelow: true, "passes over the training examples")
                t.steps = nil
            case "batch_size": t.batchSize = try v.int(in: 1...TrainingSpec.maxBatch, "examples per step")
            case "optimizer":
                let o = try v.string()
                guard TrainingSpec.optimizers.contains(o) else {
                    throw v.error("unknown optimizer '\(o)'; allowed: \(TrainingSpec.optimizers.joined(separator: ", "))")
                }
                t.optimizer = o
            case "lr": t.lr = try v.double(in: 0...TrainingSpec.maxLR, openBelow: true, "the peak learning rate")
            case "weight_decay": t.weightDecay = try v.double(in: 0...1, "decay per step, scaled by the learning rate")
            case "warmup": t.warmupFraction = try v.double(in: 0...1, openAbove: true, "a fraction of the steps")
            case "schedule":
                let s = try v.string()
                guard TrainingSpec.schedules.contains(s) else {
                    throw v.error("unknown schedule '\(s)'; allowed: \(TrainingSpec.schedules.joined(separator: ", "))")
                }
                t.schedule = s
            case "clip_norm":
                // null turns clipping off; otherwise the largest gradient norm kept.
                t.clipNorm = v.isNull ? nil
                    : try v.double(in: 0...1e6, openBelow: true, "the largest gradient norm kept; null for no clipping")
            case "train_examples":
                t.trainExamples = try v.int(in: 1...Int.max, "a cap on the training examples read; omit it for the whole split")
            case "eval_examples":
                t.evalExamples = try v.int(in: 1...Int.max, "a cap on the evaluation examples read; omit it for the whole split")
            case "checkpoint_every": t.checkpointEvery = try v.int(in: 0...Int.max, "steps between checkpoints, 0 for none")
            default: break
            }
        }
        return t
    }
}

/// One tier of a suite: which data, which model, which training budget.
public struct TierSpec: Codable, Equatable, Sendable {
    public var name: String
    /// "smoke" or "proxy" (generated proxy data of that scale), or "real" (`--data DIR`).
    public var data: String
    public var model: ModelSpec
    public var training: TrainingSpec
    public var taskTraining: [String: TrainingSpec]
    public var tasks: [String]
    public var methods: [String]
    public var seeds: [Int]
    /// The pretrained tier: the model folder and the fine-tuning recipe (nil elsewhere).
    public var pretrained: PretrainedSpec? = nil
    /// Tier key `method_options`: per method label, options set in this tier on top of the
    /// method entry's own (`method_options: {switch: {renormalize: true}}`).
    public var methodOptions: [String: [String: OptionValue]] = [:]
    /// Tier key `task_method_options`: per task, then per method label, options on top of
    /// those (`task_method_options: {mrpc: {molex: {balance_weight: 0}}}`).
    public var taskMethodOptions: [String: [String: [String: OptionValue]]] = [:]

    /// The method entry `entry` as this tier runs it on `task`: its options, then the tier's
    /// `method_options`, then the task's `task_method_options` (later ones win). Without
    /// either key the entry is returned unchanged (and the cell hashes do not change).
    public func methodEntry(_ entry: MethodEntry, task: String) -> MethodEntry {
        var e = entry
        if let o = methodOptions[entry.label] { e.options.merge(o) { $1 } }
        if let o = taskMethodOptions[task]?[entry.label] { e.options.merge(o) { $1 } }
        return e
    }
    /// Evaluate every cell on the task's shifted sets too (`shifted_eval: true`); nil when off.
    public var shiftedEval: Bool? = nil
}

/// A validated suite file.
public struct Suite: Equatable, Sendable {
    public var name: String
    public var file: String
    public var modality: Modality
    public var tasks: [String]
    public var methods: [MethodEntry]
    public var tiers: [String: TierSpec]

    public static let tierNames = ["smoke", "proxy", "full", "pretrained"]

    public func tier(_ name: String) throws -> TierSpec {
        guard let t = tiers[name] else {
            throw SuiteError(file: file, line: nil, key: "tiers",
                             "tier '\(name)' is not defined; defined: \(tiers.keys.sorted().joined(separator: ", "))")
        }
        return t
    }

    /// Loads and validates a suite file. `knownTasks` lists the task names of each
    /// modality; `knownMethods` the registered method names with their allowed options.
    public static func load(file: String, knownTasks: [Modality: [String]],
                            knownMethods: [String: Set<String>]) throws -> Suite {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw SuiteError(file: file, line: nil, key: "", "cannot read the suite file: \(error.localizedDescription)")
        }
        return try parse(file: file, text: text, knownTasks: knownTasks, knownMethods: knownMethods)
    }

    public static func parse(file: String, text: String, knownTasks: [Modality: [String]],
                             knownMethods: [String: Set<String>]) throws -> Suite {
        let root = try YAMLReader.load(file: file, text: text)
        let top = try root.mapping(allowed: ["suite", "modality", "description", "tasks", "model", "methods", "seeds", "training", "tiers"])
        func get(_ k: String) -> YAMLReader? { top.first { $0.0 == k }?.1 }
        func require(_ k: String) throws -> YAMLReader {
            guard let v = get(k) else { throw SuiteError(file: file, line: nil, key: k, "missing required key") }
            return v
        }
        let nameReader = try require("suite")
        let name = try nameReader.string()
        try checkFileName(name, nameReader, what: "the suite name (a folder of the results)")
        let modalityReader = try require("modality")
        let modalityName = try modalityReader.string()
        guard let modality = Modality(rawValue: modalityName) else {
            throw modalityReader.error("unknown modality '\(modalityName)'; allowed: \(Modality.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let allowedTasks = knownTasks[modality] ?? []
        func checkTasks(_ r: YAMLReader, within: [String]) throws -> [String] {
            let ts = try r.stringList()
            for t in ts where !within.contains(t) {
                throw r.error("unknown task '\(t)'; allowed: \(within.joined(separator: ", "))")
            }
            if ts.isEmpty { throw r.error("no tasks listed") }
            return ts
        }
        let tasks = try checkTasks(try require("tasks"), within: allowedTasks)
        var modelOrigins: [String: YAMLReader] = [:]
        let model = try get("model").map { try ModelSpec.default.overridden(by: $0, origins: &modelOrigins) } ?? .default

        var methods: [MethodEntry] = []
        var methodReaders: [String: YAMLReader] = [:]
        for m in try require("methods").sequence() {
            let fields = try m.mapping(allowed: ["name", "method", "options"])
            func f(_ k: String) -> YAMLReader? { fields.first { $0.0 == k }?.1 }
            guard let methodReader = f("method") ?? f("name") else { throw m.error("a method entry needs 'method' (and optionally 'name')") }
            let method = try methodReader.string()
            guard let allowed = knownMethods[method] else {
                throw methodReader.error("unknown method '\(method)'; registered: \(knownMethods.keys.sorted().joined(separator: ", "))")
            }
            let label = try f("name")?.string() ?? method
            try checkFileName(label, f("name") ?? methodReader, what: "a method name (part of result file names)")
            var options: [String: OptionValue] = [:]
            var optionReaders: [String: YAMLReader] = [:]
            if let o = f("options") {
                for (k, v) in try o.mapping(allowed: allowed.sorted()) {
                    options[k] = try v.optionValue()
                    optionReaders[k] = v
                    try checkOptionLimit(k, options[k]!, v)
                }
            }
            try checkMethodOptions(method, options, readers: optionReaders, entry: m)
            if methods.contains(where: { $0.label == label }) { throw m.error("duplicate method name '\(label)'") }
            methods.append(MethodEntry(label: label, method: method, options: options))
            methodReaders[label] = f("options") ?? m
        }
        if methods.isEmpty { throw SuiteError(file: file, line: nil, key: "methods", "no methods listed") }

        let baseSeeds = try get("seeds").map { try seedList($0) } ?? [1, 2, 3]
        let baseTraining = try get("training").map { try TrainingSpec.default.overridden(by: $0) } ?? .default

        var tiers: [String: TierSpec] = [:]
        for (tierName, t) in try require("tiers").mapping(allowed: tierNames) {
            let fields = try t.mapping(allowed: ["data", "model", "training", "task_training", "tasks", "methods", "seeds",
                                                 "method_options", "task_method_options", "shifted_eval"]
                                          + PretrainedSpec.tierKeys)
            func f(_ k: String) -> YAMLReader? { fields.first { $0.0 == k }?.1 }
            let dataReader = f("data")
            let data = try dataReader?.string() ?? (tierName == "full" ? "real" : tierName == "smoke" ? "smoke" : "proxy")
            guard ["smoke", "proxy", "real"].contains(data) else {
                throw (dataReader ?? t).error("data must be smoke, proxy or real, got '\(data)'")
            }
            var tierOrigins = modelOrigins
            let tierModel = try f("model").map { try model.overridden(by: $0, origins: &tierOrigins) } ?? model
            let training = try f("training").map { try baseTraining.overridden(by: $0) } ?? baseTraining
            let tierTasks = try f("tasks").map { try checkTasks($0, within: tasks) } ?? tasks
            var taskTraining: [String: TrainingSpec] = [:]
            if let tt = f("task_training") {
                for (task, spec) in try tt.mapping(allowed: tasks) { taskTraining[task] = try training.overridden(by: spec) }
            }
            let (minLength, why) = ModelSpec.minimumLength(modality: modality, tasks: tierTasks)
            if tierModel.maxLength < minLength {
                throw (tierOrigins["max_length"] ?? f("model") ?? t).error(
                    "max_length \(tierModel.maxLength) is too short for tier '\(tierName)': expected at least \(minLength) (\(why))")
            }
            let pretrained = try PretrainedSpec.parse(tier: tierName, tierReader: t, fields: fields, modality: modality)
            if let p = pretrained, let lora = f("lora") {
                // LoRA's rank is at most the encoder's width (384 for the offline encoder, 1024 for
                // BERT-large); alpha scales the update by alpha / rank.
                let at = (try? lora.mapping())?.first { $0.0 == "rank" }?.1 ?? lora
                if p.loraRank > 1024 { throw at.error("expected a LoRA rank in 1...1024 (at most the encoder's width), got \(p.loraRank)") }
                let atAlpha = (try? lora.mapping())?.first { $0.0 == "alpha" }?.1 ?? lora
                if p.loraAlpha > 1e4 { throw atAlpha.error("expected a LoRA alpha in (0, 10000], got \(fmt(p.loraAlpha))") }
            }
            var tierMethods = methods.map(\.label)
            if pretrained != nil {
                // Methods that do not run on the pretrained encoder are not part of its tier.
                tierMethods = methods.filter { PretrainedSpec.runs($0) }.map(\.label)
            }
            if let mr = f("methods") {
                let ms = try mr.stringList()
                for m in ms where !tierMethods.contains(m) {
                    if pretrained != nil, methods.contains(where: { $0.label == m }) {
                        throw mr.error("method '\(m)' does not run on the pretrained encoder; the pretrained tier can run: \(tierMethods.joined(separator: ", "))")
                    }
                    throw mr.error("unknown method '\(m)'; this suite lists: \(tierMethods.joined(separator: ", "))")
                }
                tierMethods = ms
            }
            if tierMethods.isEmpty { throw t.error("no method of this suite runs in tier '\(tierName)'") }
            for label in tierMethods {
                guard let entry = methods.first(where: { $0.label == label }) else { continue }
                for spec in [training] + tierTasks.compactMap({ taskTraining[$0] }) {
                    try checkBudget(model: tierModel, training: spec, modality: modality, entry: entry,
                                    at: f("model") ?? f("training") ?? t, tier: tierName)
                }
                if entry.method == "dlr" {
                    let needed = (tierTasks.map(taskID).max() ?? 0) + 1
                    let last = tierTasks.max { taskID($0) < taskID($1) }!
                    if case .int(let n)? = entry.options["tasks"], n < needed {
                        throw methodReaders[label]!.error(
                            "method '\(label)': options.tasks \(n) is too small for tier '\(tierName)': expected at least \(needed), one task embedding per task id up to \(last)")
                    }
                    if entry.options["tasks"] == nil, DLR.defaultTasks < needed {
                        throw methodReaders[label]!.error(
                            "method '\(label)': task '\(last)' has DLR task id \(needed - 1), beyond the default of \(DLR.defaultTasks) task embeddings: set options.tasks to at least \(needed)")
                    }
                }
            }
            // Options per method label (and per task), validated as the entry's own options
            // merged with them.
            func readMethodOptions(_ r: YAMLReader, base: [String: [String: OptionValue]]) throws -> [String: [String: OptionValue]] {
                var out: [String: [String: OptionValue]] = [:]
                for (label, o) in try r.mapping(allowed: tierMethods) {
                    guard let entry = methods.first(where: { $0.label == label }) else { continue }
                    var opts: [String: OptionValue] = [:], readers: [String: YAMLReader] = [:]
                    for (k, v) in try o.mapping(allowed: (knownMethods[entry.method] ?? []).sorted()) {
                        opts[k] = try v.optionValue()
                        readers[k] = v
                        try checkOptionLimit(k, opts[k]!, v)
                    }
                    let merged = entry.options.merging(base[label] ?? [:]) { $1 }.merging(opts) { $1 }
                    try checkMethodOptions(entry.method, merged, readers: readers, entry: o)
                    out[label] = opts
                }
                return out
            }
            let methodOptions = try f("method_options").map { try readMethodOptions($0, base: [:]) } ?? [:]
            var taskMethodOptions: [String: [String: [String: OptionValue]]] = [:]
            if let r = f("task_method_options") {
                for (task, o) in try r.mapping(allowed: tierTasks) { taskMethodOptions[task] = try readMethodOptions(o, base: methodOptions) }
            }
            let seeds = try f("seeds").map { try seedList($0) } ?? baseSeeds
            var tier = TierSpec(name: tierName, data: data, model: tierModel, training: training,
                                taskTraining: taskTraining, tasks: tierTasks, methods: tierMethods, seeds: seeds,
                                pretrained: pretrained, methodOptions: methodOptions, taskMethodOptions: taskMethodOptions)
            if let r = f("shifted_eval") {
                let on = try r.bool()
                if on, modality == .text, !tierTasks.contains("mnli") {
                    throw r.error("shifted_eval: a text tier needs the task mnli (its lexical-overlap probe is the only shifted text set)")
                }
                if on, pretrained != nil {
                    throw r.error("shifted_eval: the pretrained tier does not evaluate on shifted sets")
                }
                tier.shiftedEval = on ? true : nil
            }
            tiers[tierName] = tier
        }
        return Suite(name: name, file: file, modality: modality, tasks: tasks, methods: methods, tiers: tiers)
    }

    /// Names that become folder and file names: letters, digits, '.', '_' and '-', not
    /// starting with '.' or '-', without '__' (which separates a result file's fields).
    static func checkFileName(_ s: String, _ r: YAMLReader, what: String) throws {
        let ok = s.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#, options: .regularExpression) != nil && !s.contains("__")
        guard ok else {
            throw r.error("expected \(what): 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '__'; got '\(s)'")
        }
    }

    /// At most this many seeds per tier (each is a full run of every method and task).
    static let maxSeeds = 1000

    /// `seeds: 3` means seeds 1, 2, 3; `seeds: [7, 8]` lists them (non-negative: a seed
    /// is the RNG's 64-bit seed).
    static func seedList(_ r: YAMLReader) throws -> [Int] {
        if case .scalar = r.node {
            let n = try r.int(in: 1...maxSeeds, "the number of seeds, run as seeds 1...N")
            return Array(1...n)
        }
        let s = try r.sequence().map { try $0.int(in: 0...Int.max, "a seed") }
        guard !s.isEmpty, Set(s).count == s.count else { throw r.error("seeds must be a non-empty list of distinct integers") }
        guard s.count <= maxSeeds else { throw r.error("expected at most \(maxSeeds) seeds, got \(s.count)") }
        return s
    }

    /// Limits of method options beyond what each method's initialiser checks: sizes that
    /// would allocate without bound and factors whose products become integer counts.
    static let optionLimits: [String: (ClosedRange<Double>, String)] = [
        "experts": (1...1024, "experts per routed layer"),
        "hidden_scale": (1...64, "a multiple of ffn_hidden"),
        "capacity_factor_train": (0...1000, "expert capacity as a multiple of tokens / experts"),
        "capacity_factor_eval": (0...1000, "expert capacity as a multiple of tokens / experts"),
        "min_capacity": (0...1_000_000, "tokens"),
        "k": (1...1024, "experts per token"),
        "k_max": (1...1024, "an upper bound on experts or blocks per token, or 'none'"),
        "groups": (1...1024, "expert groups"),
        "task_dim": (1...4096, "task embedding width"),
        "tasks": (1...10000, "task embeddings"),
        "temperature": (0...1000, "the gate's softmax temperature"),
        "balance_alpha": (0...1000, "a loss weight"), "balance_weight": (0...1000, "a loss weight"),
        "entropy_beta": (0...1000, "a loss weight"), "z_beta": (0...1000, "a loss weight"),
        "reg_weight": (0...1000, "a loss weight"),
    ]

    static func checkOptionLimit(_ key: String, _ value: OptionValue, _ r: YAMLReader) throws {
        guard let (range, what) = optionLimits[key] else { return }
        let v: Double
        switch value {
        case .int(let i): v = Double(i)
        case .double(let d): v = d
        default: return  // the method's own check names the expected type
        }
        guard range.contains(v) else {
            throw r.error("expected a value in \(fmt(range.lowerBound))...\(fmt(range.upperBound)) (\(what)), got \(fmt(v))")
        }
    }

    /// Builds the method once on a tiny model so that its own option checks (types, ranges,
    /// combinations) run before any cell, reported at the offending option's line.
    static func checkMethodOptions(_ name: String, _ options: [String: OptionValue], readers: [String: YAMLReader],
                                   entry: YAMLReader) throws {
        guard let reg = try? MethodRegistry.method(name) else { return }
        var rng = RNG(seed: 0)
        do {
            let opts = try reg.options(options)
            switch reg.kind {
            case .ffnSlot(let make, _): _ = try make(4, 8, opts, &rng)
            case .blockMixer(let make): _ = try make(4, 2, opts, &rng)
            }
        } catch let e as OptionError {
            throw (readers[e.key] ?? entry).error("method '\(name)': \(e.message)")
        } catch {
            throw entry.error("method '\(name)': \(error)")
        }
    }

    /// Largest model a cell may build (weights; gradients and Adam's moments take 3x more)
    /// and largest activation footprint of one step, in float32 elements.
    static let maxParameters = 500_000_000.0, maxActivations = 10_000_000_000.0

    /// Rejects models and batches too large to allocate (estimates: embeddings, attention,
    /// the routed FFNs with every expert; attention scores and FFN activations per step).
    static func checkBudget(model m: ModelSpec, training: TrainingSpec, modality: Modality, entry: MethodEntry,
                            at r: YAMLReader, tier: String) throws {
        func int(_ k: String, _ d: Int) -> Double { if case .int(let v)? = entry.options[k] { return Double(v) }; return Double(d) }
        let experts = ["switch", "top2", "topp", "soft", "noisy_topk", "hierarchical", "hard"].contains(entry.method) ? int("experts", 8) : 1
        let d = Double(m.d), h = Double(m.ffnHidden) * int("hidden_scale", 1), depth = Double(m.depth)
        let positions: Double
        switch modality {
        case .text: positions = Double(m.maxLength)
        case .speech: positions = Double(subsampledLength(m.maxLength))
        case .image: positions = 65
        }
        let embeddings = modality == .text ? Double(m.vocabSize) * d : 0  // only text reads vocab_size
        let params = embeddings + positions * d + depth * (4 * d * d + experts * 2 * d * h)
        if params > maxParameters {
            throw r.error("tier '\(tier)', method '\(entry.label)': about \(fmt(params.rounded())) parameters (vocab_size, d, depth, ffn_hidden, experts); expected at most \(fmt(maxParameters))")
        }
        let b = Double(training.batchSize)
        let acts = depth * b * positions * (Double(m.heads) * positions + 8 * d + 2 * h * min(experts, 2))
        if acts > maxActivations {
            throw r.error("tier '\(tier)', method '\(entry.label)': a step holds about \(fmt(acts.rounded())) activations (batch_size, max_length, heads, d, ffn_hidden, depth); expected at most \(fmt(maxActivations))")
        }
    }

    public func method(_ label: String) -> MethodEntry? { methods.first { $0.label == label } }
}
