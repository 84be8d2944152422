import Foundation
import Harness

/// The robustness comparison: how much a method's score falls from the clean evaluation
/// examples to the shifted sets (`CellResult.shifted`), per result, paired by seed.
public enum Robustness {
    /// The metric a shifted record is compared on: the first of these present in the clean
    /// metrics and in every shifted set (CIFAR-100 top-1, LibriSpeech WER, MNLI's two-way
    /// accuracy, whose probe has no neutral class), else the first such key by name.
    public static let preferredMetrics = ["top1", "wer", "accuracy_2way", "accuracy"]

    public static func metric(_ r: ShiftedRecord) -> String? {
        var common = Set(r.clean.keys)
        for m in r.sets.values { common.formIntersection(m.keys) }
        guard !r.sets.isEmpty else { return nil }
        return preferredMetrics.first(where: common.contains) ?? common.sorted().first
    }

    /// Points (higher is better; an error rate enters as 100 − rate).
    static func points(_ v: Double, _ metric: String) -> Double {
        (metricHigherIsBetter(metric) ? v : 1 - v) * 100
    }

    /// One result's clean score, its score per shifted set and the drop (clean minus the mean
    /// over the sets), in points on `metric`.
    public struct Drop: Equatable, Sendable {
        public var metric: String
        public var clean: Double
        public var sets: [String: Double]
        public var drop: Double
    }

    public static func drop(_ r: CellResult) -> Drop? {
        guard r.isOK, let s = r.shifted, let m = metric(s), let c = s.clean[m] else { return nil }
        let sets = s.sets.compactMapValues { $0[m].map { points($0, m) } }
        guard !sets.isEmpty else { return nil }
        let clean = points(c, m)
        return Drop(metric: m, clean: clean, sets: sets, drop: clean - Stats.mean(sets.valuesInKeyOrder))
    }

    /// Per seed: the mean over the suite's tasks with a shifted record of `method`'s drop; a
    /// seed counts only when it has every such task.
    public static func dropsBySeed(_ results: [CellResult], suite: String, method: String) -> [Int: Double] {
        let rs = results.filter { $0.suite == suite && $0.method == method }
        let withDrop = rs.compactMap { r in drop(r).map { (r, $0) } }
        let tasks = Set(withDrop.map(\.0.task))
        var out: [Int: Double] = [:]
        for seed in Set(withDrop.map(\.0.seed)) {
            let d = withDrop.filter { $0.0.seed == seed }
            guard Set(d.map(\.0.task)) == tasks else { continue }
            out[seed] = Stats.mean(d.map(\.1.drop))
        }
        return out
    }
}
