import Foundation
import Routing

/// Everything that determines one cell's result. Its hash is the cache key: a result
/// whose stored hash equals the hash of the cell's configuration is reused.
public struct CellConfig: Codable, Equatable, Sendable {
    /// Bumped when the training or evaluation code changes what a configuration means.
    public static let schemaVersion = 1

    public var schema: Int = CellConfig.schemaVersion
    public var suite: String
    public var modality: Modality
    public var tier: String
    public var data: String
    public var task: String
    public var method: MethodEntry
    public var seed: Int
    public var model: ModelSpec
    public var training: TrainingSpec
    /// The pretrained tier's model folder and recipe; nil (and absent from the canonical
    /// JSON, so the hashes of the other tiers are unchanged) elsewhere.
    public var pretrained: PretrainedSpec?
    /// True when the cell also evaluates on the task's shifted sets (the tier's
    /// `shifted_eval`); nil, and absent from the canonical JSON, when off.
    public var shiftedEval: Bool?

    public init(suite: String, modality: Modality, tier: String, data: String, task: String, method: MethodEntry,
                seed: Int, model: ModelSpec, training: TrainingSpec, pretrained: PretrainedSpec? = nil) {
        self.suite = suite
        self.modality = modality
        self.tier = tier
        self.data = data
        self.task = task
        self.method = method
        self.seed = seed
        self.model = model
        self.training = training
        self.pretrained = pretrained
    }

    /// Canonical JSON (sorted keys) of the configuration.
    public var canonicalJSON: Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(self)) ?? Data()
    }

    /// 64-bit FNV-1a of the canonical JSON, as 16 hex digits.
    public var hash: String { fnv1a64Hex(canonicalJSON) }
}

public func fnv1a64Hex(_ data: Data) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// One cell of the grid: (suite, task, method, seed) under a tier.
public struct Cell: Equatable, Sendable {
    public var config: CellConfig

    public init(config: CellConfig) { self.config = config }

    public var id: String { "\(config.task)__\(config.method.label)__s\(config.seed)" }
    /// `results/<tier>/<suite>/<task>__<method>__s<seed>.json`
    public func resultPath(in resultsRoot: URL) -> URL {
        resultsRoot.appendingPathComponent(config.tier).appendingPathComponent(config.suite)
            .appendingPathComponent(id + ".json")
    }
}

/// A shard selector `I/N`: shard `I` (0-based) of `N` takes every `N`-th cell of the
/// deterministic grid order, starting at cell `I`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let all = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `I/N` with `0 <= I < N`.
    public init(parsing s: String) throws {
        let parts = s.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw HarnessError("--shard expects I/N with 0 <= I < N (0-based, e.g. 0/4 … 3/4), got '\(s)'")
        }
        self.init(index: i, count: n)
    }

    public func contains(_ position: Int) -> Bool { position % count == index }
    public var description: String { "\(index)/\(count)" }
}

/// A harness error for the user: bad options, missing inputs.
public struct HarnessError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Expands a suite tier into its cells, in a fixed order: tasks (suite order), then
/// methods (suite order), then seeds.
public func expandGrid(suite: Suite, tierName: String, seedCount: Int? = nil) throws -> [Cell] {
    let tier = try suite.tier(tierName)
    let seeds = seedCount.map { Array(tier.seeds.prefix($0)) } ?? tier.seeds
    if let n = seedCount, n > tier.seeds.count {
        throw HarnessError("--seeds \(n): tier '\(tierName)' of suite '\(suite.name)' defines only \(tier.seeds.count) seeds")
    }
    var cells: [Cell] = []
    // The pretrained tier's same-size from-scratch baseline runs right after `dense`.
    var entries = tier.methods.compactMap { suite.method($0) }
    if tier.pretrained?.scratchBaseline == true {
        entries.insert(PretrainedSpec.scratchEntry, at: (entries.firstIndex { $0.label == "dense" }).map { $0 + 1 } ?? entries.count)
    }
    for task in tier.tasks {
        for entry in entries {
            for seed in seeds {
                var cfg = CellConfig(suite: suite.name, modality: suite.modality, tier: tierName, data: tier.data,
                                     task: task, method: tier.methodEntry(entry, task: task), seed: seed, model: tier.model,
                                     training: tier.taskTraining[task] ?? tier.training, pretrained: tier.pretrained)
                if tier.shiftedEval == true { cfg.shiftedEval = true }
                cells.append(Cell(config: cfg))
            }
        }
    }
    return cells
}
