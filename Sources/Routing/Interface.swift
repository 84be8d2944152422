@_exported import NN

/// The shared interface of every routing method.
///
/// A method either replaces the FFN sublayer of a pre-LN block (`FFNLayer`: dense, Switch,
/// top-2, top-p and the survey variants) or mixes whole blocks (`BlockMixer`: MoLEx, DLR).
/// Each method is one file with one type, and one line in `MethodRegistry`.

/// Per-call state shared by the routing modules of one forward pass.
public struct RoutingContext {
    /// Training mode: capacity factor, jitter, noise and random policies depend on it.
    public var training: Bool
    /// Randomness for noise, jitter and random dispatch policies.
    public var rng: RNG
    /// The suite task id (DLR's task embedding).
    public var taskID: Int
    /// Token rows of each sequence in the flattened `[T, d]` activations:
    /// sequence `s` owns rows `sequenceOffsets[s] ..< sequenceOffsets[s + 1]`.
    public var sequenceOffsets: [Int]

    public init(training: Bool, rng: RNG, taskID: Int = 0, sequenceOffsets: [Int]) {
        self.training = training
        self.rng = rng
        self.taskID = taskID
        self.sequenceOffsets = sequenceOffsets
    }

    public var sequenceCount: Int { max(sequenceOffsets.count - 1, 0) }
}

/// What one routed layer did in one forward pass. Units are experts (FFN methods) or
/// blocks (block mixers).
public struct LayerStats: Codable, Equatable, Sendable {
    public var layer: Int
    /// Tokens (or sequences, for block mixers) assigned to each unit, dropped ones included.
    public var assignedPerUnit: [Int]
    /// Assignments dropped by a capacity limit.
    public var dropped: Int
    /// Tokens (or sequences) routed.
    public var routed: Int
    /// `chosenHistogram[c]` = number of tokens (sequences) that chose `c` units.
    public var chosenHistogram: [Int]
    /// Mean entropy of the gate distribution, in nats.
    public var gateEntropy: Double
    /// Auxiliary loss values by name (already weighted), e.g. "balance", "z", "entropy".
    public var aux: [String: Double]
    /// Block mixers: the chosen block(s) per sequence.
    public var chosenBlocks: [[Int]]?

    public init(layer: Int, assignedPerUnit: [Int], dropped: Int = 0, routed: Int,
                chosenHistogram: [Int], gateEntropy: Double, aux: [String: Double] = [:],
                chosenBlocks: [[Int]]? = nil) {
        self.layer = layer
        self.assignedPerUnit = assignedPerUnit
        self.dropped = dropped
        self.routed = routed
        self.chosenHistogram = chosenHistogram
        self.gateEntropy = gateEntropy
        self.aux = aux
        self.chosenBlocks = chosenBlocks
    }

    /// Fraction of assignments dropped.
    public var droppedFraction: Double {
        let total = assignedPerUnit.reduce(0, +)
        return total == 0 ? 0 : Double(dropped) / Double(total)
    }

    /// Mean number of units chosen per token (sequence).
    public var meanChosen: Double {
        let n = chosenHistogram.reduce(0, +)
        guard n > 0 else { return 0 }
        var s = 0
        for (c, k) in chosenHistogram.enumerated() { s += c * k }
        return Double(s) / Double(n)
    }
}

/// The output of a routed layer: activations, the weighted auxiliary loss to add to the
/// task loss (shape `[]`, nil when the method has none), and the statistics.
public struct RoutingOutput {
    public var y: Tensor
    public var auxLoss: Tensor?
    public var stats: LayerStats

    public init(y: Tensor, auxLoss: Tensor?, stats: LayerStats) {
        self.y = y
        self.auxLoss = auxLoss
        self.stats = stats
    }
}

/// A module that replaces the FFN sublayer: maps `x: [T, d]` (the layer-normed tokens of
/// all sequences, padding excluded) to `[T, d]`.
public protocol FFNLayer: Module {
    func forward(_ x: Tensor, layer: Int, context: inout RoutingContext) -> RoutingOutput
}

/// A method option value as written in a suite file.
public enum OptionValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case int(Int), double(Double), bool(Bool), string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        }
    }

    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let v): return v
        }
    }
}

/// An invalid method option: unknown key, wrong type or impossible value.
public struct OptionError: Error, CustomStringConvertible, Equatable {
    public let method: String
    public let key: String
    public let message: String
    public var description: String { "method '\(method)', option '\(key)': \(message)" }
}

/// The options of one method, validated on read. Every key a method reads must be listed
/// in its `allowed` set; `validate` rejects the rest.
public struct MethodOptions: Equatable, Sendable {
    public var method: String
    public var values: [String: OptionValue]

    public init(method: String, _ values: [String: OptionValue] = [:]) {
        self.method = method
        self.values = values
    }

    /// Throws for any key not in `allowed`, naming the allowed keys.
    public func validate(allowed: Set<String>) throws {
        for key in values.keys.sorted() where !allowed.contains(key) {
            throw OptionError(method: method, key: key,
                              message: "unknown option; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    public func double(_ key: String, default d: Double) throws -> Double {
        OptionDefaults.recorder?.note(key, "\(d)")
        switch values[key] {
        case nil: return d
        case .double(let v)?: return v
        case .int(let v)?: return Double(v)
        case let v?: throw OptionError(method: method, key: key, message: "expected a number, got '\(v)'")
        }
    }

    public func int(_ key: String, default d: Int) throws -> Int {
        OptionDefaults.recorder?.note(key, "\(d)")
        switch values[key] {
        case nil: return d
        case .int(let v)?: return v
        case let v?: throw OptionError(method: method, key: key, message: "expected an integer, got '\(v)'")
        }
    }

    /// An optional integer: absent or the string "none" gives nil.
    public func optionalInt(_ key: String) throws -> Int? {
        OptionDefaults.recorder?.note(key, "none")
        switch values[key] {
        case nil, .string("none")?: return nil
        case .int(let v)?: return v
        case let v?: throw OptionError(method: method, key: key, message: "expected an integer or 'none', got '\(v)'")
        }
    }

    public func bool(_ key: String, default d: Bool) throws -> Bool {
        OptionDefaults.recorder?.note(key, "\(d)")
        switch values[key] {
        case nil: return d
        case .bool(let v)?: return v
        case let v?: throw OptionError(method: method, key: key, message: "expected true or false, got '\(v)'")
        }
    }

    public func string(_ key: String, default d: String, allowed: [String]) throws -> String {
        OptionDefaults.recorder?.note(key, d)
        switch values[key] {
        case nil: return d
        case .string(let v)? where allowed.contains(v): return v
        case let v?: throw OptionError(method: method, key: key,
                                       message: "expected one of \(allowed.joined(separator: ", ")), got '\(v)'")
        }
    }
}
