import Foundation
import Routing

/// Expert specialization on the evaluation set: how much the top-1 expert a routed layer
/// picks for a token tells about the token's label.
///
/// For every routed FFN layer the evaluation counts the pairs (top-1 expert of the token,
/// label of the token) over the real tokens of the evaluation sets (padding never reaches
/// the FFN, so it is never counted). The top-1 expert is the argmax of the layer's router
/// probabilities (`RoutingPlan.top1`): Switch's and hard MoE's one expert, top-2's first
/// choice, top-p's most probable expert, the hierarchical gate's chosen expert, noisy
/// top-k's largest (noise-free) logit, and for soft MoE, which weights every expert, the
/// expert of the largest gate weight. Block mixers (MoLEx, DLR) choose blocks per sequence,
/// not experts per token, and are not measured; nor is dense.
///
/// The label of a token is its example's: the class (CIFAR-100 fine class, GLUE label),
/// for STS-B's regression score its bin `min(4, ⌊score⌋)` of five unit bins over [0, 5];
/// for speech, whose frames have no aligned character, the greedy CTC argmax symbol of the
/// token's output frame from the model's own output (blank included as a symbol).
public struct SpecializationRecord: Codable, Equatable, Sendable {
    /// Per routed layer (in layer order): `I(expert; label) / H(label)` of the top-1 expert
    /// and the label, in [0, 1] (0 when the label has one value).
    public var perLayer: [Double]
    /// Mean of `perLayer`.
    public var mean: Double
    /// Per routed layer: the largest share of tokens any expert receives as top-1, over the
    /// mean share `1 / E` (1 = perfectly balanced, `E` = all tokens on one expert).
    public var loadMaxOverMean: [Double]
    /// What the label is: "class" (an example's class), "score-bin" (STS-B's score in five
    /// unit bins) or "ctc-argmax" (speech: the frame's greedy CTC argmax symbol from the
    /// model's own output, not an aligned reference character).
    public var labelKind: String
    /// Tokens counted per layer.
    public var tokens: Int

    public init(perLayer: [Double], mean: Double, loadMaxOverMean: [Double], labelKind: String, tokens: Int) {
        self.perLayer = perLayer
        self.mean = mean
        self.loadMaxOverMean = loadMaxOverMean
        self.labelKind = labelKind
        self.tokens = tokens
    }
}

public enum Specialization {
    /// `I(expert; label) / H(label)` of a contingency table `counts[expert][label]`
    /// (rows may have different lengths; missing entries count 0). Natural logarithms
    /// (the ratio does not depend on the base). 0 for an empty table or a constant label.
    public static func normalizedMutualInformation(_ counts: [[Int]]) -> Double {
        let width = counts.map(\.count).max() ?? 0
        var rowSum = [Double](repeating: 0, count: counts.count)
        var colSum = [Double](repeating: 0, count: width)
        var n = 0.0
        for (e, row) in counts.enumerated() {
            for (l, c) in row.enumerated() {
                rowSum[e] += Double(c)
                colSum[l] += Double(c)
                n += Double(c)
            }
        }
        guard n > 0 else { return 0 }
        var hLabel = 0.0
        for c in colSum where c > 0 { hLabel -= c / n * log(c / n) }
        guard hLabel > 1e-12 else { return 0 }
        var mi = 0.0
        for (e, row) in counts.enumerated() {
            for (l, c) in row.enumerated() where c > 0 {
                let p = Double(c) / n
                mi += p * log(Double(c) * n / (rowSum[e] * colSum[l]))
            }
        }
        return min(max(mi / hLabel, 0), 1)
    }

    /// `max_e share_e / (1 / E)` of the tokens per expert `counts[expert][label]`, with
    /// `E = counts.count`. 0 for an empty table.
    public static func loadMaxOverMean(_ counts: [[Int]]) -> Double {
        let perExpert = counts.map { $0.reduce(0, +) }
        let n = perExpert.reduce(0, +)
        guard n > 0, !perExpert.isEmpty else { return 0 }
        return Double(perExpert.max()!) * Double(perExpert.count) / Double(n)
    }

    /// Running contingency tables, one per routed layer.
    public struct Counts {
        public var labelKind: String?
        /// `tables[layer][expert][label]`.
        public var tables: [Int: [[Int]]] = [:]
        /// False once a batch's tokens could not be matched to labels (the record is then nil).
        public var consistent = true

        public init() {}

        /// Adds one layer's tokens: `top1[i]` the expert of token `i`, `labels[i]` its label.
        public mutating func add(layer: Int, experts: Int, top1: [Int], labels: [Int]) {
            guard top1.count == labels.count else { consistent = false; return }
            var t = tables[layer] ?? [[Int]](repeating: [], count: experts)
            guard t.count == experts else { consistent = false; return }
            for (e, l) in zip(top1, labels) where e >= 0 && e < experts && l >= 0 {
                if t[e].count <= l { t[e] += [Int](repeating: 0, count: l + 1 - t[e].count) }
                t[e][l] += 1
            }
            tables[layer] = t
        }

        /// The record, nil when nothing was counted (dense, block mixers) or counts were inconsistent.
        public var record: SpecializationRecord? {
            guard consistent, !tables.isEmpty, let labelKind else { return nil }
            let layers = tables.keys.sorted().map { tables[$0]! }
            let per = layers.map(normalizedMutualInformation)
            return SpecializationRecord(perLayer: per, mean: per.reduce(0, +) / Double(per.count),
                                        loadMaxOverMean: layers.map(loadMaxOverMean), labelKind: labelKind,
                                        tokens: layers[0].reduce(0) { $0 + $1.reduce(0, +) })
        }
    }
}

extension Specialization.Counts {
    /// Adds one evaluation batch: the per-token top-1 experts `trace` noted during the
    /// forward pass `out` of `batch`.
    mutating func add(_ trace: RoutingTrace.Recorder, batch: Batch, output out: ModelOutput) {
        guard !trace.layers.isEmpty else { return }
        let B: Int
        var perExample: [Int] = []
        switch batch.input {
        case .text(let tokens, _): B = tokens.count; perExample = tokens.map(\.count)
        case .speech(_, let lengths): B = lengths.count; perExample = out.outputLengths ?? []
        case .image: B = out.output.shape[0]
        }
        if case .image = batch.input {
            let n = trace.layers[0].top1.count
            guard B > 0, n % B == 0 else { consistent = false; return }
            perExample = [Int](repeating: n / B, count: B)
        }
        var labels: [Int] = []
        let kind: String
        switch batch.targets {
        case .classes(let c):
            kind = "class"
            for (i, n) in perExample.enumerated() { labels += [Int](repeating: c[i], count: n) }
        case .scores(let s):
            kind = "score-bin"
            for (i, n) in perExample.enumerated() {
                labels += [Int](repeating: min(4, max(0, Int(s[i].rounded(.down)))), count: n)
            }
        case .transcripts:
            // Speech frames have no aligned character: the label of a frame is the greedy
            // CTC argmax symbol of the model's own output at that frame (blank included).
            kind = "ctc-argmax"
            let o = out.output
            let T = o.shape[1], V = o.shape[2]
            for (i, n) in perExample.enumerated() {
                for t in 0..<min(n, T) {
                    let row = o.data + (i * T + t) * V
                    var best = 0
                    for j in 1..<V where row[j] > row[best] { best = j }
                    labels.append(best)
                }
            }
        }
        if labelKind == nil { labelKind = kind }
        for l in trace.layers { add(layer: l.layer, experts: l.experts, top1: l.top1, labels: labels) }
    }
}
