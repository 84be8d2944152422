/// Every routing method by name: one line per method.
///
/// Adding a method = one file with one type (an `FFNLayer` with `RegisteredFFN`'s
/// initialiser and FLOP model, or a `BlockMixer` with `RegisteredMixer`'s) + one line in
/// `MethodRegistry.methods` (+ one suite entry). Several names may share one module with
/// fixed options (`preset`), as the survey's variants share `SurveyMoE`.

/// An FFN-slot method the registry can build: options validated by the initialiser,
/// forward FLOPs per token from `FFNFlopsModel`.
public protocol RegisteredFFN: FFNLayer, FFNFlopsModel {
    static var optionKeys: Set<String> { get }
    init(d: Int, hidden: Int, options: MethodOptions, rng: inout RNG) throws
}

/// A block mixer the registry can build.
public protocol RegisteredMixer: BlockMixer {
    static var optionKeys: Set<String> { get }
    init(d: Int, blocks: Int, options: MethodOptions, rng: inout RNG) throws
    /// Forward FLOPs of one mixing step besides the block evaluations: gates and losses
    /// (`router`) and the weighted combine (`combine`), for the layout `batch` and the step's
    /// statistics.
    func mixingFlops(d: Int, batch: PaddedBatch, stats: LayerStats) -> (router: Double, combine: Double)
}

extension Dense: RegisteredFFN {}
extension SwitchTop1: RegisteredFFN {}
extension Top2: RegisteredFFN {}
extension DynamicTopP: RegisteredFFN {}
extension SurveyMoE: RegisteredFFN {}
extension MoLEx: RegisteredMixer {}
extension DLR: RegisteredMixer {}

/// How a registered method is built.
public enum MethodKind {
    /// `(d, hidden, options, rng) -> FFN layer` and its forward FLOPs per token
    /// `(d, hidden, options, meanExperts)`.
    case ffnSlot(make: (Int, Int, MethodOptions, inout RNG) throws -> FFNLayer,
                 flops: (Int, Int, MethodOptions, Double?) throws -> FFNFlops)
    /// `(d, blocks, options, rng) -> mixer`.
    case blockMixer(make: (Int, Int, MethodOptions, inout RNG) throws -> BlockMixer)
}

/// One registry line.
public struct RegisteredMethod {
    public let name: String
    public let summary: String
    public let kind: MethodKind
    /// Options a suite may set for this name.
    public let optionKeys: Set<String>
    /// Options fixed by this name (not settable).
    public let preset: [String: OptionValue]

    public var isBlockMixer: Bool {
        if case .blockMixer = kind { return true }
        return false
    }

    /// The method's options: `values` (checked against `optionKeys`) plus the preset.
    public func options(_ values: [String: OptionValue]) throws -> MethodOptions {
        let given = MethodOptions(method: name, values)
        try given.validate(allowed: optionKeys)
        return MethodOptions(method: name, values.merging(preset) { _, p in p })
    }

    /// An FFN-slot line for the module `T`, with options `preset` fixed.
    public static func ffn<T: RegisteredFFN>(_ name: String, _ type: T.Type, _ summary: String,
                                             preset: [String: OptionValue] = [:]) -> RegisteredMethod {
        RegisteredMethod(name: name, summary: summary,
                         kind: .ffnSlot(make: { try T(d: $0, hidden: $1, options: $2, rng: &$3) },
                                        flops: { try T.forwardFlopsPerToken(d: $0, hidden: $1, options: $2, meanExperts: $3) }),
                         optionKeys: T.optionKeys.subtracting(preset.keys), preset: preset)
    }

    /// A block-mixer line for the module `T`.
    public static func mixer<T: RegisteredMixer>(_ name: String, _ type: T.Type, _ summary: String) -> RegisteredMethod {
        RegisteredMethod(name: name, summary: summary,
                         kind: .blockMixer(make: { try T(d: $0, blocks: $1, options: $2, rng: &$3) }),
                         optionKeys: T.optionKeys, preset: [:])
    }
}

/// A method name the registry does not know.
public struct UnknownMethodError: Error, CustomStringConvertible, Equatable {
    public let name: String
    public let known: [String]
    public init(name: String, known: [String]) {
        self.name = name
        self.known = known
    }
    public var description: String { "unknown method '\(name)'; known methods: \(known.joined(separator: ", "))" }
}

/// The registered methods, in table order.
public enum MethodRegistry {
    public static let methods: [RegisteredMethod] = [
        .ffn("dense", Dense.self, "dense FFN, the reference (hidden_scale 2: same active FLOPs as top-2)"),
        .ffn("switch", SwitchTop1.self, "Switch top-1 with capacity (Fedus et al. 2022)"),
        .ffn("top2", Top2.self, "GShard top-2 with capacity"),
        .ffn("topp", DynamicTopP.self, "dynamic confidence top-p (Huang et al. 2024)"),
        .mixer("molex", MoLEx.self, "MoLEx: blocks as experts, per-sequence majority vote, a·Block_i + (1-a)·Block_j"),
        .mixer("dlr", DLR.self, "DLR (reading of the abstract): task-aware top-p over blocks, token-level mixing"),
        .ffn("soft", SurveyMoE.self, "classic soft MoE, all experts (Jacobs et al. 1991)", preset: ["variant": .string("soft")]),
        .ffn("noisy_topk", SurveyMoE.self, "noisy top-k gating (Shazeer et al. 2017)", preset: ["variant": .string("noisy_topk")]),
        .ffn("hierarchical", SurveyMoE.self, "hierarchical MoE: group gate, then expert gate", preset: ["variant": .string("hierarchical")]),
        .ffn("hard", SurveyMoE.self, "hard MoE: top-1, gate fixed to 1 (straight-through)", preset: ["variant": .string("hard")]),
    ]

    /// Registered names, in table order.
    public static var names: [String] { methods.map(\.name) }

    /// The line for `name`; throws `UnknownMethodError` listing the known names.
    public static func method(_ name: String) throws -> RegisteredMethod {
        guard let m = methods.first(where: { $0.name == name }) else {
            throw UnknownMethodError(name: name, known: names)
        }
        return m
    }

    /// Every name with its settable options (what suite validation needs).
    public static var knownOptions: [String: Set<String>] {
        Dictionary(uniqueKeysWithValues: methods.map { ($0.name, $0.optionKeys) })
    }
}
