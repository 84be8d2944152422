import Foundation

/// Routing of one group of evaluation examples of one result: those of one proxy difficulty
/// level within one input-length bin of one evaluation set. Recorded by the evaluation in
/// `CellResult.routingByLevelLength` so that the difficulty claim can be tested with the
/// input length held fixed.
public struct LevelLengthRouting: Codable, Equatable, Sendable {
    /// Evaluation set (e.g. "dev", "dev_matched", "test-clean").
    public var set: String
    /// Proxy difficulty level (1 = easiest).
    public var level: Int
    /// Length bin (0 = shortest) of this set's bins.
    public var lengthBin: Int
    /// Shortest and longest input of the bin over the whole set (tokens for text, frames
    /// for speech, 1 for images, whose length is fixed).
    public var minLength: Int
    public var maxLength: Int
    public var examples: Int
    /// Mean input length of this group's examples.
    public var meanLength: Double
    /// Mean experts (blocks) chosen per token (sequence), averaged over the routed layers.
    public var meanChosen: Double

    public init(set: String, level: Int, lengthBin: Int, minLength: Int, maxLength: Int, examples: Int,
                meanLength: Double, meanChosen: Double) {
        self.set = set
        self.level = level
        self.lengthBin = lengthBin
        self.minLength = minLength
        self.maxLength = maxLength
        self.examples = examples
        self.meanLength = meanLength
        self.meanChosen = meanChosen
    }
}

/// The length bins of the difficulty record (cell code); the estimate over them is in the
/// Analysis module.
public enum DifficultyTrend {
    /// Number of length bins per evaluation set (equal-count bins of the set's lengths;
    /// equal lengths always share a bin, so sets with few distinct lengths get fewer).
    public static let lengthBins = 8

    /// Equal-count length bins: bin of each length (0-based). Lengths are ranked, ties take
    /// their mid-rank, and bin = ⌊midrank · bins / n⌋ (at most `bins − 1`); bins left empty
    /// by ties are skipped in the numbering.
    public static func bins(_ lengths: [Int], bins k: Int = lengthBins) -> [Int] {
        let n = lengths.count
        guard n > 0 else { return [] }
        let sorted = lengths.sorted()
        var firstIndex: [Int: Int] = [:], lastIndex: [Int: Int] = [:]
        for (i, l) in sorted.enumerated() {
            if firstIndex[l] == nil { firstIndex[l] = i }
            lastIndex[l] = i
        }
        let raw = lengths.map { l in
            min(k - 1, Int(Double(firstIndex[l]! + lastIndex[l]!) / 2 * Double(k) / Double(n)))
        }
        // Numbered 0, 1, … over the bins that hold an example.
        let used = Set(raw).sorted()
        let rank = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        return raw.map { rank[$0]! }
    }
}
