/// What a FLOP was spent on, so that measured FLOPs can be compared with the analytic
/// formulas category by category.
public enum FlopCategory: Int, CaseIterable, Sendable, Codable {
    case attention = 0, expert, router, embedding, other

    public var name: String {
        switch self {
        case .attention: return "attention"
        case .expert: return "expert"
        case .router: return "router"
        case .embedding: return "embedding"
        case .other: return "other"
        }
    }
}

public enum FlopPhase: Int, Sendable { case forward = 0, backward }

/// Accumulated FLOPs by phase and category.
///
/// Convention: one multiply-add = 2 FLOPs. Matrix products and convolutions count
/// `2·m·n·k`; elementwise ops count one FLOP per output element (transcendentals
/// included); reductions one per input element; fused kernels state their count where
/// they are defined. Backward closures count their own work in the backward phase under
/// the category that was active when the forward op ran.
public final class FlopCounter {
    public private(set) var counts = [[Int]](repeating: [Int](repeating: 0, count: FlopCategory.allCases.count),
                                            count: 2)
    public init() {}

    @inline(__always)
    func add(_ n: Int, _ phase: FlopPhase, _ category: FlopCategory) {
        counts[phase.rawValue][category.rawValue] &+= n
    }

    public func forward(_ c: FlopCategory) -> Int { counts[0][c.rawValue] }
    public func backward(_ c: FlopCategory) -> Int { counts[1][c.rawValue] }
    public var forwardTotal: Int { counts[0].reduce(0, +) }
    public var backwardTotal: Int { counts[1].reduce(0, +) }
    public var total: Int { forwardTotal + backwardTotal }
    public func reset() {
        for p in 0..<2 { for c in 0..<counts[p].count { counts[p][c] = 0 } }
    }
}

/// The active FLOP counters and the current category.
public enum Flops {
    nonisolated(unsafe) static var counters: [FlopCounter] = []
    nonisolated(unsafe) public internal(set) static var category: FlopCategory = .other
    nonisolated(unsafe) public internal(set) static var phase: FlopPhase = .forward

    /// Counts every op run inside `body` into `counter` (nested counters all count).
    public static func counting<T>(into counter: FlopCounter, _ body: () throws -> T) rethrows -> T {
        counters.append(counter)
        defer { counters.removeLast() }
        return try body()
    }

    /// Attributes the ops run inside `body` (and their backward) to `category`.
    public static func withCategory<T>(_ c: FlopCategory, _ body: () throws -> T) rethrows -> T {
        let saved = category
        category = c
        defer { category = saved }
        return try body()
    }

    /// Adds `n` FLOPs to every active counter, in the current phase and category.
    @inline(__always)
    public static func add(_ n: Int) {
        if counters.isEmpty { return }
        for c in counters { c.add(n, phase, category) }
    }
}
