import Foundation
import Routing

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

    /// Applies the keys present in `r` on top of `self`.
    func overridden(by r: YAMLReader) throws -> ModelSpec {
        var m = self
        for (k, v) in try r.mapping(allowed: ModelSpec.keys) {
            switch k {
            case "d": m.d = try v.int()
            case "depth": m.depth = try v.int()
            case "heads": m.heads = try v.int()
            case "ffn_hidden": m.ffnHidden = try v.int()
            case "dropout": m.dropout = try v.double()
            case "max_length": m.maxLength = try v.int()
            case "vocab_size": m.vocabSize = try v.int()
            case "moe_every": m.moeEvery = try v.int()
            default: break
            }
        }
        guard m.d > 0, m.depth > 0, m.heads > 0, m.ffnHidden > 0, m.maxLength > 0, m.vocabSize > 0, m.moeEvery > 0 else {
            throw r.error("sizes must be positive")
        }
        guard m.d % m.heads == 0 else { throw r.error("d (\(m.d)) must be divisible by heads (\(m.heads))") }
        guard (0..<1).contains(m.dropout) else { throw r.error("dropout must be in [0, 1)") }
        return m
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

    func overridden(by r: YAMLReader, extraKeys: [String] = []) throws -> TrainingSpec {
        var t = self
        for (k, v) in try r.mapping(allowed: TrainingSpec.keys + extraKeys) {
            switch k {
            case "steps": t.steps = try v.int(); t.epochs = nil
            case "epochs": t.epochs = try v.double(); t.steps = nil
            case "batch_size": t.batchSize = try v.int()
            case "optimizer":
                let o = try v.string()
                guard TrainingSpec.optimizers.contains(o) else {
                    throw v.error("unknown optimizer '\(o)'; allowed: \(TrainingSpec.optimizers.joined(separator: ", "))")
                }
                t.optimizer = o
            case "lr": t.lr = try v.double()
            case "weight_decay": t.weightDecay = try v.double()
            case "warmup": t.warmupFraction = try v.double()
            case "schedule":
                let s = try v.string()
                guard TrainingSpec.schedules.contains(s) else {
                    throw v.error("unknown schedule '\(s)'; allowed: \(TrainingSpec.schedules.joined(separator: ", "))")
                }
                t.schedule = s
            case "clip_norm": t.clipNorm = try v.double()
            case "train_examples": t.trainExamples = try v.int()
            case "eval_examples": t.evalExamples = try v.int()
            case "checkpoint_every": t.checkpointEvery = try v.int()
            default: break
            }
        }
        if let s = t.steps, s <= 0 { throw r.error("steps must be positive") }
        if let e = t.epochs, e <= 0 { throw r.error("epochs must be positive") }
        guard t.batchSize > 0 else { throw r.error("batch_size must be positive") }
        guard t.lr > 0 else { throw r.error("lr must be positive") }
        guard (0..<1).contains(t.warmupFraction) else { throw r.error("warmup is a fraction of the steps, in [0, 1)") }
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
        let name = try require("suite").string()
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
        let model = try get("model").map { try ModelSpec.default.overridden(by: $0) } ?? .default

        var methods: [MethodEntry] = []
        for m in try require("methods").sequence() {
            let fields = try m.mapping(allowed: ["name", "method", "options"])
            func f(_ k: String) -> YAMLReader? { fields.first { $0.0 == k }?.1 }
            guard let methodReader = f("method") ?? f("name") else { throw m.error("a method entry needs 'method' (and optionally 'name')") }
            let method = try methodReader.string()
            guard let allowed = knownMethods[method] else {
                throw methodReader.error("unknown method '\(method)'; registered: \(knownMethods.keys.sorted().joined(separator: ", "))")
            }
            let label = try f("name")?.string() ?? method
            var options: [String: OptionValue] = [:]
            if let o = f("options") {
                for (k, v) in try o.mapping(allowed: allowed.sorted()) { options[k] = try v.optionValue() }
            }
            if methods.contains(where: { $0.label == label }) { throw m.error("duplicate method name '\(label)'") }
            methods.append(MethodEntry(label: label, method: method, options: options))
        }
        if methods.isEmpty { throw SuiteError(file: file, line: nil, key: "methods", "no methods listed") }

        let baseSeeds = try get("seeds").map { try seedList($0) } ?? [1, 2, 3]
        let baseTraining = try get("training").map { try TrainingSpec.default.overridden(by: $0) } ?? .default

        var tiers: [String: TierSpec] = [:]
        for (tierName, t) in try require("tiers").mapping(allowed: tierNames) {
            let fields = try t.mapping(allowed: ["data", "model", "training", "task_training", "tasks", "methods", "seeds"]
                                          + PretrainedSpec.tierKeys)
            func f(_ k: String) -> YAMLReader? { fields.first { $0.0 == k }?.1 }
            let dataReader = f("data")
            let data = try dataReader?.string() ?? (tierName == "full" ? "real" : tierName == "smoke" ? "smoke" : "proxy")
            guard ["smoke", "proxy", "real"].contains(data) else {
                throw (dataReader ?? t).error("data must be smoke, proxy or real, got '\(data)'")
            }
            let tierModel = try f("model").map { try model.overridden(by: $0) } ?? model
            let training = try f("training").map { try baseTraining.overridden(by: $0) } ?? baseTraining
            let tierTasks = try f("tasks").map { try checkTasks($0, within: tasks) } ?? tasks
            var taskTraining: [String: TrainingSpec] = [:]
            if let tt = f("task_training") {
                for (task, spec) in try tt.mapping(allowed: tasks) { taskTraining[task] = try training.overridden(by: spec) }
            }
            let pretrained = try PretrainedSpec.parse(tier: tierName, tierReader: t, fields: fields, modality: modality)
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
            let seeds = try f("seeds").map { try seedList($0) } ?? baseSeeds
            tiers[tierName] = TierSpec(name: tierName, data: data, model: tierModel, training: training,
                                       taskTraining: taskTraining, tasks: tierTasks, methods: tierMethods, seeds: seeds,
                                       pretrained: pretrained)
        }
        return Suite(name: name, file: file, modality: modality, tasks: tasks, methods: methods, tiers: tiers)
    }

    /// `seeds: 3` means seeds 1, 2, 3; `seeds: [7, 8]` lists them.
    static func seedList(_ r: YAMLReader) throws -> [Int] {
        if case .scalar = r.node {
            let n = try r.int()
            guard n >= 1 else { throw r.error("seeds must be at least 1") }
            return Array(1...n)
        }
        let s = try r.sequence().map { try $0.int() }
        guard !s.isEmpty, Set(s).count == s.count else { throw r.error("seeds must be a non-empty list of distinct integers") }
        return s
    }

    public func method(_ label: String) -> MethodEntry? { methods.first { $0.label == label } }
}
