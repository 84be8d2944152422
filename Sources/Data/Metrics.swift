import Foundation
import Tensor

/// Counts of a minimum edit-distance alignment summed over a set, and the error rate.
public struct ErrorRate: Equatable, Sendable, Codable {
    public var substitutions: Int
    public var deletions: Int
    public var insertions: Int
    /// Number of reference units (words or characters) over the set.
    public var referenceLength: Int

    public init(substitutions: Int = 0, deletions: Int = 0, insertions: Int = 0, referenceLength: Int = 0) {
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
        self.referenceLength = referenceLength
    }

    /// S + D + I.
    public var errors: Int { substitutions + deletions + insertions }

    /// (S + D + I) / reference length. With an empty reference set: 0 when there are no
    /// errors, +infinity otherwise.
    public var rate: Double {
        if referenceLength == 0 { return errors == 0 ? 0 : .infinity }
        return Double(errors) / Double(referenceLength)
    }

    public static func + (a: ErrorRate, b: ErrorRate) -> ErrorRate {
        ErrorRate(substitutions: a.substitutions + b.substitutions, deletions: a.deletions + b.deletions,
                  insertions: a.insertions + b.insertions, referenceLength: a.referenceLength + b.referenceLength)
    }
}

/// Evaluation metrics. All inputs pair element `i` of one array with element `i` of the
/// other; arrays of different lengths are a programmer error.
public enum Metrics {
    /// Fraction of `predictions[i] == labels[i]`; 0 for empty input.
    public static func accuracy(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "accuracy: \(predictions.count) predictions, \(labels.count) labels")
        if labels.isEmpty { return 0 }
        var hits = 0
        for i in 0..<labels.count where predictions[i] == labels[i] { hits += 1 }
        return Double(hits) / Double(labels.count)
    }

    /// Top-k accuracy from score rows: `scores` is `[N, classes]` row-major; an example
    /// counts when its label is among the k highest scores of its row, ties ranked to the
    /// lower class index (the label's rank is the number of classes scoring strictly
    /// higher plus the number of lower-indexed classes scoring the same). 0 for empty input.
    public static func topKAccuracy(scores: [Float], classes: Int, labels: [Int], k: Int = 5) -> Double {
        precondition(classes > 0 && scores.count == labels.count * classes,
                     "topKAccuracy: \(scores.count) scores for \(labels.count) rows of \(classes) classes")
        if labels.isEmpty { return 0 }
        var hits = 0
        scores.withUnsafeBufferPointer { s in
            for (i, label) in labels.enumerated() {
                precondition(label >= 0 && label < classes, "topKAccuracy: label \(label) out of range")
                let row = s.baseAddress! + i * classes
                let v = row[label]
                var rank = 0
                for c in 0..<classes where row[c] > v || (row[c] == v && c < label) { rank += 1 }
                if rank < k { hits += 1 }
            }
        }
        return Double(hits) / Double(labels.count)
    }

    /// Top-k accuracy of a `[N, classes]` score tensor.
    public static func topKAccuracy(scores: Tensor, labels: [Int], k: Int = 5) -> Double {
        precondition(scores.shape.count == 2, "topKAccuracy: scores must be [N, classes]")
        return topKAccuracy(scores: scores.scalars, classes: scores.shape[1], labels: labels, k: k)
    }

    /// Matthews correlation coefficient (the multi-class form, equal to the binary
    /// `(TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))` for two classes):
    /// `(c·s − Σ_k p_k t_k) / sqrt((s² − Σ_k p_k²)(s² − Σ_k t_k²))` with `c` correct, `s`
    /// total, `p_k` / `t_k` predicted / true counts of class k. 0 when the denominator is
    /// 0 (a constant predictor or constant labels), as scikit-learn.
    public static func matthews(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "matthews: \(predictions.count) predictions, \(labels.count) labels")
        var p: [Int: Double] = [:], t: [Int: Double] = [:]
        var c = 0.0
        for i in 0..<labels.count {
            p[predictions[i], default: 0] += 1
            t[labels[i], default: 0] += 1
            if predictions[i] == labels[i] { c += 1 }
        }
        let s = Double(labels.count)
        var pt = 0.0
        for (k, pk) in p { pt += pk * (t[k] ?? 0) }
        let pp = p.values.reduce(0) { $0 + $1 * $1 }
        let tt = t.values.reduce(0) { $0 + $1 * $1 }
        let denominator = ((s * s - pp) * (s * s - tt)).squareRoot()
        if denominator == 0 { return 0 }
        return (c * s - pt) / denominator
    }

    /// F1 of class `positive`: `2·TP / (2·TP + FP + FN)`; 0 when there is no positive
    /// prediction and no positive label (the denominator is 0), as scikit-learn.
    public static func f1(predictions: [Int], labels: [Int], positive: Int = 1) -> Double {
        precondition(predictions.count == labels.count, "f1: \(predictions.count) predictions, \(labels.count) labels")
        var tp = 0, fp = 0, fn = 0
        for i in 0..<labels.count {
            let pp = predictions[i] == positive, lp = labels[i] == positive
            if pp && lp { tp += 1 } else if pp { fp += 1 } else if lp { fn += 1 }
        }
        let d = 2 * tp + fp + fn
        return d == 0 ? 0 : Double(2 * tp) / Double(d)
    }

    /// Pearson correlation `cov(x, y) / (σ_x σ_y)` in double precision. Returns 0 when
    /// either input is constant or has fewer than two values (where the coefficient is
    /// undefined): a constant predictor scores no correlation, as `matthews` does.
    public static func pearson(_ x: [Float], _ y: [Float]) -> Double {
        pearson(x.map(Double.init), y.map(Double.init))
    }

    /// Pearson correlation of doubles (see the `Float` form).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "pearson: \(x.count) vs \(y.count) values")
        let n = Double(x.count)
        if x.count < 2 { return 0 }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<x.count {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        if sxx == 0 || syy == 0 { return 0 }
        return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
    }

    /// Spearman rank correlation: Pearson of the average ranks (ties share the mean of the
    /// ranks they span). 0 for constant input, as `pearson`.
    public static func spearman(_ x: [Float], _ y: [Float]) -> Double {
        precondition(x.count == y.count, "spearman: \(x.count) vs \(y.count) values")
        return pearson(ranks(x), ranks(y))
    }

    /// 1-based ranks in ascending order, ties given their average rank.
    public static func ranks(_ x: [Float]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = average }
            i = j + 1
        }
        return r
    }

    /// The transcript normalisation applied to hypotheses and references before WER/CER:
    /// upper-case; the right single quotation mark U+2019 read as an apostrophe;
    /// punctuation (category P*) other than the apostrophe dropped; whitespace runs
    /// collapsed to one space and trimmed.
    public static func normalizeTranscript(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in text.uppercased().unicodeScalars {
            if s.properties.isWhitespace { pendingSpace = !out.isEmpty; continue }
            var scalar = s
            if scalar == "\u{2019}" { scalar = "'" }
            if scalar != "'" && BasicTokenizer.isPunctuationCategory(scalar) { continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(scalar)
        }
        return String(out)
    }

    /// Word error rate over a set: each pair normalised (`normalizeTranscript`), split on
    /// spaces and aligned by Levenshtein distance; substitutions, deletions and insertions
    /// are summed over the set and divided by the total number of reference words. An
    /// empty hypothesis counts every reference word as deleted; an empty reference counts
    /// every hypothesis word as inserted.
    public static func wordErrorRate(hypotheses: [String], references: [String]) -> ErrorRate {
        precondition(hypotheses.count == references.count,
                     "wordErrorRate: \(hypotheses.count) hypotheses, \(references.count) references")
        var total = ErrorRate()
        for i in 0..<references.count {
            let h = normalizeTranscript(hypotheses[i]).split(separator: " ").map(String.init)
            let r = normalizeTranscript(references[i]).split(separator: " ").map(String.init)
            total = total + align(hypothesis: h, reference: r)
        }
        return total
    }

    /// Character error rate over a set: as `wordErrorRate` with the characters of the
    /// normalised transcripts, spaces between words included, as units.
    public static func characterErrorRate(hypotheses: [String], references: [String]) -> ErrorRate {
        precondition(hypotheses.count == references.count,
                     "characterErrorRate: \(hypotheses.count) hypotheses, \(references.count) references")
        var total = ErrorRate()
        for i in 0..<references.count {
            let h = Array(normalizeTranscript(hypotheses[i]))
            let r = Array(normalizeTranscript(references[i]))
            total = total + align(hypothesis: h, reference: r)
        }
        return total
    }

    /// Levenshtein alignment of two sequences (unit costs). Of the minimum-cost
    /// alignments, the backtrace from the end prefers a match or substitution, then a
    /// deletion, then an insertion; the counts' sum is the edit distance either way.
    public static func align<T: Equatable>(hypothesis h: [T], reference r: [T]) -> ErrorRate {
        let n = r.count, m = h.count
        if n == 0 { return ErrorRate(insertions: m, referenceLength: 0) }
        if m == 0 { return ErrorRate(deletions: n, referenceLength: n) }
        let w = m + 1
        var d = [Int32](repeating: 0, count: (n + 1) * w)
        for j in 0...m { d[j] = Int32(j) }
        for i in 1...n {
            d[i * w] = Int32(i)
            for j in 1...m {
                let sub = d[(i - 1) * w + j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1)
                let del = d[(i - 1) * w + j] + 1
                let ins = d[i * w + j - 1] + 1
                d[i * w + j] = min(sub, min(del, ins))
            }
        }
        var s = 0, del = 0, ins = 0
        var i = n, j = m
        while i > 0 || j > 0 {
            let here = d[i * w + j]
            if i > 0 && j > 0 {
                let same = r[i - 1] == h[j - 1]
                if d[(i - 1) * w + j - 1] + (same ? 0 : 1) == here {
                    if !same { s += 1 }
                    i -= 1; j -= 1; continue
                }
            }
            if i > 0 && d[(i - 1) * w + j] + 1 == here { del += 1; i -= 1; continue }
            ins += 1; j -= 1
        }
        return ErrorRate(substitutions: s, deletions: del, insertions: ins, referenceLength: n)
    }
}

extension BasicTokenizer {
    /// True for Unicode general category P* (connector, dash, open, close, initial, final,
    /// other punctuation).
    static func isPunctuationCategory(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }
}

extension GLUETask {
    /// This task's metrics (`metrics`) of class predictions against gold label ids.
    /// MRPC's and QQP's F1 is of label 1.
    public func evaluate(predictions: [Int], labels: [Int]) -> [GLUEMetric: Double] {
        precondition(!isRegression, "\(self) is scored with evaluate(predictedScores:goldScores:)")
        var out: [GLUEMetric: Double] = [:]
        for m in metrics {
            switch m {
            case .accuracy: out[m] = Metrics.accuracy(predictions: predictions, labels: labels)
            case .f1: out[m] = Metrics.f1(predictions: predictions, labels: labels, positive: 1)
            case .matthews: out[m] = Metrics.matthews(predictions: predictions, labels: labels)
            case .pearson, .spearman: break
            }
        }
        return out
    }

    /// STS-B's Pearson and Spearman of predicted against gold scores.
    public func evaluate(predictedScores: [Float], goldScores: [Float]) -> [GLUEMetric: Double] {
        precondition(isRegression, "\(self) is scored with evaluate(predictions:labels:)")
        return [.pearson: Metrics.pearson(predictedScores, goldScores),
                .spearman: Metrics.spearman(predictedScores, goldScores)]
    }
}
