import Foundation
import Routing
import Yams

/// An invalid suite (or claims) file: names the file, the line, the key and what is allowed.
public struct SuiteError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let key: String
    public let message: String

    public init(file: String, line: Int?, key: String, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let loc = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(loc): \(message)" : "\(loc): '\(key)': \(message)"
    }
}

/// A strict, typed view of a YAML node: every read names its key path, and `finish()`
/// rejects keys that were never read (so typos are errors, not silently ignored options).
public struct YAMLReader {
    public let file: String
    let node: Node
    public let path: String

    public static func load(file: String, text: String) throws -> YAMLReader {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            // Yams says where: "... in line N, column M".
            let text = "\(error)"
            let line = text.range(of: #"in line \d+"#, options: .regularExpression)
                .flatMap { Int(text[$0].dropFirst("in line ".count)) }
            throw SuiteError(file: file, line: line, key: "", "not valid YAML: \(text)")
        }
        guard let node else { throw SuiteError(file: file, line: nil, key: "", "the file is empty") }
        return YAMLReader(file: file, node: node, path: "")
    }

    public var line: Int? { node.mark?.line }

    public func error(_ message: String) -> SuiteError {
        SuiteError(file: file, line: line, key: path, message)
    }

    func child(_ key: String, _ node: Node) -> YAMLReader {
        YAMLReader(file: file, node: node, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// The mapping's entries in file order; an error if this is not a mapping or if a key
    /// is not in `allowed`.
    public func mapping(allowed: [String]? = nil) throws -> [(String, YAMLReader)] {
        guard case .mapping(let m) = node else { throw error("expected a mapping (key: value pairs)") }
        var out: [(String, YAMLReader)] = []
        var seen = Set<String>()
        for (k, v) in m {
            guard let key = k.string else { throw error("keys must be strings") }
            if let allowed, !allowed.contains(key) {
                throw child(key, v).error("unknown key; allowed here: \(allowed.joined(separator: ", "))")
            }
            if !seen.insert(key).inserted { throw child(key, v).error("duplicate key") }
            out.append((key, child(key, v)))
        }
        return out
    }

    public func sequence() throws -> [YAMLReader] {
        guard case .sequence(let s) = node else { throw error("expected a list") }
        return s.enumerated().map { child("[\($0.offset)]", $0.element) }
    }

    public func string() throws -> String {
        guard case .scalar(let s) = node else { throw error("expected a string") }
        return s.string
    }

    public func int() throws -> Int {
        guard case .scalar = node, let v = node.int else { throw error("expected an integer, got '\((try? string()) ?? "a collection")'") }
        return v
    }

    /// A finite number (`.nan`, `.inf` and `-.inf` are rejected: no suite value needs them,
    /// and a non-finite value cannot be written into a result file).
    public func double() throws -> Double {
        guard case .scalar = node, let v = node.float ?? node.int.map(Double.init) else {
            throw error("expected a number, got '\((try? string()) ?? "a collection")'")
        }
        guard v.isFinite else { throw error("expected a finite number, got '\((try? string()) ?? "\(v)")'") }
        return v
    }

    /// An integer in `range`; `what` says what the limits are for.
    public func int(in range: ClosedRange<Int>, _ what: String = "") throws -> Int {
        let v = try int()
        guard range.contains(v) else {
            throw error("expected an integer \(describe(range))\(what.isEmpty ? "" : " (\(what))"), got \(v)")
        }
        return v
    }

    /// A finite number in `range` (half-open at the bottom when `openBelow`).
    public func double(in range: ClosedRange<Double>, openBelow: Bool = false, openAbove: Bool = false, _ what: String = "") throws -> Double {
        let v = try double()
        let ok = (openBelow ? v > range.lowerBound : v >= range.lowerBound) && (openAbove ? v < range.upperBound : v <= range.upperBound)
        guard ok else {
            let lo = openBelow ? "(" : "[", hi = openAbove ? ")" : "]"
            throw error("expected a number in \(lo)\(fmt(range.lowerBound)), \(fmt(range.upperBound))\(hi)\(what.isEmpty ? "" : " (\(what))"), got \(fmt(v))")
        }
        return v
    }

    /// Whether the value is YAML's null (`~`, `null` or nothing).
    public var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    public func bool() throws -> Bool {
        guard case .scalar = node, let v = node.bool else { throw error("expected true or false, got '\((try? string()) ?? "a collection")'") }
        return v
    }

    public func stringList() throws -> [String] {
        if case .scalar = node { return [try string()] }
        return try sequence().map { try $0.string() }
    }

    /// A scalar read as the most specific option value (bool, int, double, string).
    public func optionValue() throws -> OptionValue {
        guard case .scalar(let s) = node else { throw error("expected a single value") }
        if let b = node.bool, s.style == .plain { return .bool(b) }
        if let i = node.int, s.style == .plain { return .int(i) }
        if let d = node.float, s.style == .plain {
            guard d.isFinite else { throw error("expected a finite number, got '\(s.string)'") }
            return .double(d)
        }
        return .string(s.string)
    }
}


func describe(_ r: ClosedRange<Int>) -> String {
    if r.upperBound == Int.max { return "of at least \(r.lowerBound)" }
    return "in \(r.lowerBound)...\(r.upperBound)"
}

func fmt(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    return "\(v)"
}
