import Data
import Foundation
import NN
import Tensor

// Reference rows of the suite reports: what a task gives without a Transformer.
//
// - `chance`: the best prediction that ignores the input. Classification: the majority
//   class of the training split (ties to the lower label id); CIFAR-100 top-5: the five most
//   frequent training classes. Regression (STS-B): the mean training score; the Pearson and
//   Spearman correlations of a constant are undefined and reported as 0 (as
//   `Metrics.pearson` does). Speech: the empty transcript (WER 100 %), and the best constant
//   transcript (a row of its own), found by greedy search on the training transcripts.
// - `linear`: GLUE classification: multinomial logistic regression on hashed unigram and
//   bigram indicator features; STS-B: ridge regression on the same features, solved exactly
//   (conjugate gradients on the normal equations). Sentence pairs get each sentence's bag,
//   the words and bigrams the two share, and overlap statistics. CIFAR-100: a softmax
//   regression on the normalised pixels. None for speech.
//
// Every reference is deterministic: fixed seeds, fixed orders, hyper-parameters chosen on a
// fixed held-out tenth of the training split, then refitted on the whole training split.

/// One reference row of one task: the task's metrics as the cells store them.
public struct ReferenceRow: Codable, Equatable, Sendable {
    /// "chance", "chance: constant transcript", "linear".
    public var name: String
    public var metrics: [String: Double]
    /// How the row was obtained (the constant predicted, the hyper-parameters chosen).
    public var detail: String

    public init(name: String, metrics: [String: Double], detail: String) {
        self.name = name
        self.metrics = metrics
        self.detail = detail
    }
}

/// The reference rows of one task on one dataset, cached as
/// `results/<tier>/<suite>/reference/<task>.json`.
public struct TaskReference: Codable, Equatable, Sendable {
    /// Bumped when a reference model changes; a cached file of another version is recomputed.
    public static let currentVersion = 2

    public var version: Int
    public var suite: String
    public var task: String
    /// FNV-1a of the examples read (training and evaluation, after the caps) and the
    /// reference version: a change of the data invalidates the cached rows.
    public var dataKey: String
    public var rows: [ReferenceRow]
    public var seconds: Double

    public init(version: Int, suite: String, task: String, dataKey: String, rows: [ReferenceRow], seconds: Double) {
        self.version = version
        self.suite = suite
        self.task = task
        self.dataKey = dataKey
        self.rows = rows
        self.seconds = seconds
    }

    public func row(_ name: String) -> ReferenceRow? { rows.first { $0.name == name } }
}

/// Incremental 64-bit FNV-1a.
struct FNV64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(bytes p: UnsafeRawBufferPointer) {
        for b in p { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }
    mutating func add(_ s: String) {
        var s = s
        s.withUTF8 { add(bytes: UnsafeRawBufferPointer($0)) }
        add(bytes: UnsafeRawBufferPointer(start: [UInt8(0)], count: 1))
    }
    mutating func add(_ v: Int) { add(String(v)) }
    mutating func add(_ v: Float) { add(String(v.bitPattern)) }
    var hex: String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

// MARK: - Chance

public enum Chance {
    /// The most frequent label (ties to the lower id).
    public static func majority(_ labels: [Int]) -> Int {
        mostFrequent(labels, count: 1).first ?? 0
    }

    /// The `count` most frequent labels, most frequent first (ties to the lower id).
    public static func mostFrequent(_ labels: [Int], count: Int) -> [Int] {
        var freq: [Int: Int] = [:]
        for l in labels { freq[l, default: 0] += 1 }
        return freq.sorted { ($0.value, -$0.key) > ($1.value, -$1.key) }.prefix(count).map(\.key)
    }

    /// Corpus WER (as `Metrics.wordErrorRate`) of one transcript given for every reference.
    public static func constantWER(_ words: [String], references: [String]) -> Double {
        Metrics.wordErrorRate(hypotheses: Array(repeating: words.joined(separator: " "), count: references.count),
                              references: references).rate
    }

    /// The best constant transcript by greedy search: starting from the empty transcript,
    /// repeatedly append the one of the `candidates` most frequent training words that
    /// lowers the corpus WER on `references` most; stop when no word lowers it.
    /// Returns the words (possibly none) and their WER on `references`.
    public static func bestConstantTranscript(references: [String], candidates: Int = 20,
                                              maxWords: Int = 64) -> (words: [String], wer: Double) {
        // Words as integer ids; the edit distance of a growing hypothesis against each
        // reference is extended one row per appended word.
        var ids: [String: Int] = [:]
        var refs: [[Int]] = []
        var freq: [Int: Int] = [:]
        var total = 0
        for r in references {
            let ws = Metrics.normalizeTranscript(r).split(separator: " ").map(String.init)
            refs.append(ws.map { w in
                if let i = ids[w] { return i }
                ids[w] = ids.count
                return ids.count - 1
            })
            for w in refs.last! { freq[w, default: 0] += 1 }
            total += ws.count
        }
        guard total > 0 else { return ([], 0) }
        let names = Dictionary(uniqueKeysWithValues: ids.map { ($1, $0) })
        let cands = freq.sorted { ($0.value, names[$1.key]!) > ($1.value, names[$0.key]!) }.prefix(candidates).map(\.key)
        // rows[u][j]: edit distance between the hypothesis so far and the first j words of reference u.
        var rows = refs.map { Array(0...$0.count) }
        var chosen: [Int] = []
        var best = rows.reduce(0) { $0 + $1.last! }
        func extend(_ row: [Int], _ ref: [Int], _ w: Int) -> [Int] {
            var out = [Int](repeating: 0, count: row.count)
            out[0] = row[0] + 1
            for j in 1..<row.count {
                out[j] = min(row[j] + 1, out[j - 1] + 1, row[j - 1] + (ref[j - 1] == w ? 0 : 1))
            }
            return out
        }
        while chosen.count < maxWords {
            var bestWord: Int?
            var bestErrors = best
            for w in cands {
                var e = 0
                for (u, ref) in refs.enumerated() { e += extend(rows[u], ref, w).last! }
                if e < bestErrors { bestErrors = e; bestWord = w }
            }
            guard let w = bestWord else { break }
            chosen.append(w)
            best = bestErrors
            for (u, ref) in refs.enumerated() { rows[u] = extend(rows[u], ref, w) }
        }
        return (chosen.map { names[$0]! }, Double(best) / Double(total))
    }
}

// MARK: - Sparse features and linear models

/// One example's sparse features: (feature id, value) pairs.
public typealias SparseVector = [(Int, Double)]

/// Hashed n-gram features of GLUE sentences and sentence pairs.
public struct NGramFeaturizer {
    /// Buckets of the hash.
    public var buckets: Int = 1 << 20

    public init() {}

    static func words(_ s: String) -> [String] {
        s.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    func hash(_ s: String) -> Int {
        var f = FNV64()
        f.add(s)
        return Int(f.h % UInt64(buckets))
    }

    /// Indicator features of the unigrams and bigrams of one sentence (or each sentence of
    /// a pair, in their own namespaces), the unigrams and bigrams the two sentences share,
    /// and overlap statistics (Jaccard of unigrams and of bigrams, the share of each
    /// sentence's words found in the other, as values and as one-hot tenths), plus a bias.
    /// Ids are hash buckets; the bias and the dense statistics use their own reserved ids.
    public func features(_ a: String, _ b: String?) -> SparseVector {
        var out: [Int: Double] = [:]
        out[0] = 1  // bias
        let wa = NGramFeaturizer.words(a)
        func grams(_ w: [String]) -> (Set<String>, Set<String>) {
            let u = Set(w)
            var bi = Set<String>()
            if w.count > 1 { for i in 0..<(w.count - 1) { bi.insert(w[i] + " " + w[i + 1]) } }
            return (u, bi)
        }
        let (ua, ba) = grams(wa)
        guard let b else {
            for g in ua { out[hash("u:" + g)] = 1 }
            for g in ba { out[hash("b:" + g)] = 1 }
            return out.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        let (ub, bb) = grams(NGramFeaturizer.words(b))
        for g in ua { out[hash("a:u:" + g)] = 1 }
        for g in ba { out[hash("a:b:" + g)] = 1 }
        for g in ub { out[hash("b:u:" + g)] = 1 }
        for g in bb { out[hash("b:b:" + g)] = 1 }
        for g in ua.intersection(ub) { out[hash("s:u:" + g)] = 1 }
        for g in ba.intersection(bb) { out[hash("s:b:" + g)] = 1 }
        func ratio(_ x: Int, _ y: Int) -> Double { y == 0 ? 0 : Double(x) / Double(y) }
        let stats: [(String, Double)] = [
            ("jaccard_u", ratio(ua.intersection(ub).count, ua.union(ub).count)),
            ("jaccard_b", ratio(ba.intersection(bb).count, ba.union(bb).count)),
            ("a_in_b", ratio(ua.intersection(ub).count, ua.count)),
            ("b_in_a", ratio(ua.intersection(ub).count, ub.count)),
        ]
        for (k, (name, v)) in stats.enumerated() {
            out[1 + k] = v
            out[hash("tenth:\(name):\(min(9, Int(v * 10)))")] = 1
        }
        return out.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// Renumbers the feature ids seen in `train` to `0..<dimension` (in order of first
/// appearance); ids unseen in training are dropped from other sets (their weights would be
/// zero).
public struct FeatureIndex {
    public private(set) var ids: [Int: Int] = [:]
    public var dimension: Int { ids.count }

    public init(_ train: [SparseVector]) {
        for x in train { for (i, _) in x where ids[i] == nil { ids[i] = ids.count } }
    }

    public func map(_ x: SparseVector) -> SparseVector { x.compactMap { i, v in ids[i].map { ($0, v) } } }
}

/// Multinomial logistic regression on sparse features, trained by AdaGrad, one example at
/// a time, in a fixed order per epoch (from `seed`), without a penalty: the number of
/// epochs (early stopping) is the regulariser.
public struct SparseLogistic {
    public var dimension: Int
    public var classes: Int
    /// `[dimension × classes]`.
    public var weights: [Double]
    public var learningRate: Double = 0.5

    public init(dimension: Int, classes: Int) {
        self.dimension = dimension
        self.classes = classes
        weights = [Double](repeating: 0, count: dimension * classes)
        accum = [Double](repeating: 1e-8, count: dimension * classes)
    }

    var accum: [Double]

    public func scores(_ x: SparseVector) -> [Double] {
        var s = [Double](repeating: 0, count: classes)
        for (i, v) in x { for c in 0..<classes { s[c] += weights[i * classes + c] * v } }
        return s
    }

    public func predict(_ x: SparseVector) -> Int {
        let s = scores(x)
        var best = 0
        for c in 1..<classes where s[c] > s[best] { best = c }
        return best
    }

    static func softmax(_ s: [Double]) -> [Double] {
        let m = s.max() ?? 0
        let e = s.map { Foundation.exp($0 - m) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    /// Mean negative log-likelihood.
    public func logLoss(_ xs: [SparseVector], _ ys: [Int]) -> Double {
        var t = 0.0
        for (x, y) in zip(xs, ys) { t -= Foundation.log(max(SparseLogistic.softmax(scores(x))[y], 1e-300)) }
        return t / Double(max(xs.count, 1))
    }

    /// One epoch over `xs` in the order drawn from `rng`.
    public mutating func epoch(_ xs: [SparseVector], _ ys: [Int], rng: inout RNG) {
        for n in rng.permutation(xs.count) {
            let p = SparseLogistic.softmax(scores(xs[n]))
            for (i, v) in xs[n] {
                for c in 0..<classes {
                    let g = (p[c] - (c == ys[n] ? 1 : 0)) * v
                    let k = i * classes + c
                    accum[k] += g * g
                    weights[k] -= learningRate * g / accum[k].squareRoot()
                }
            }
        }
    }

    /// Trains on `xs` for up to `maxEpochs`, choosing the number of epochs with the lowest
    /// log-loss on the last tenth of a fixed shuffle of the data (trained on the other nine
    /// tenths), then refits on everything for that many epochs. Returns the model and the
    /// epochs chosen.
    public static func fit(_ xs: [SparseVector], _ ys: [Int], classes: Int, dimension: Int, maxEpochs: Int = 24,
                           seed: UInt64 = 1) -> (SparseLogistic, epochs: Int) {
        var rng = RNG(seed: seed)
        let perm = rng.permutation(xs.count)
        let nHold = xs.count >= 20 ? xs.count / 10 : 0
        var epochs = maxEpochs
        if nHold > 0 {
            let hold = perm.prefix(nHold), fitIdx = perm.dropFirst(nHold)
            let hx = hold.map { xs[$0] }, hy = hold.map { ys[$0] }
            let fx = fitIdx.map { xs[$0] }, fy = fitIdx.map { ys[$0] }
            var m = SparseLogistic(dimension: dimension, classes: classes)
            var r = RNG(seed: seed).split("epochs")
            var best = Double.infinity
            for e in 1...maxEpochs {
                m.epoch(fx, fy, rng: &r)
                let l = m.logLoss(hx, hy)
                if l < best { best = l; epochs = e }
            }
        }
        var m = SparseLogistic(dimension: dimension, classes: classes)
        var r = RNG(seed: seed).split("epochs")
        for _ in 0..<epochs { m.epoch(xs, ys, rng: &r) }
        return (m, epochs)
    }
}

/// Ridge regression on sparse features: the minimiser of
/// `Σₙ (yₙ − w·xₙ)² + λ Σ_{i ≠ bias} wᵢ²` (feature `bias` unpenalised), i.e. the solution of
/// `(XᵀX + λP) w = Xᵀy`, found by conjugate gradients in double precision.
public struct SparseRidge {
    public var weights: [Double]

    public init(weights: [Double]) { self.weights = weights }

    public func predict(_ x: SparseVector) -> Double { x.reduce(0) { $0 + weights[$1.0] * $1.1 } }

    public static func solve(_ xs: [SparseVector], _ ys: [Double], dimension: Int, lambda: Double, bias: Int?,
                             tolerance: Double = 1e-10, maxIterations: Int = 2000) -> SparseRidge {
        func apply(_ v: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: dimension)
            for x in xs {
                var d = 0.0
                for (i, a) in x { d += a * v[i] }
                for (i, a) in x { out[i] += a * d }
            }
            for i in 0..<dimension where i != bias { out[i] += lambda * v[i] }
            return out
        }
        var b = [Double](repeating: 0, count: dimension)
        for (x, y) in zip(xs, ys) { for (i, a) in x { b[i] += a * y } }
        var w = [Double](repeating: 0, count: dimension)
        var r = b, p = b
        var rr = r.reduce(0) { $0 + $1 * $1 }
        let stop = tolerance * tolerance * max(rr, 1e-300)
        var it = 0
        while rr > stop && it < maxIterations {
            let ap = apply(p)
            var pap = 0.0
            for i in 0..<dimension { pap += p[i] * ap[i] }
            guard pap > 0 else { break }
            let alpha = rr / pap
            for i in 0..<dimension { w[i] += alpha * p[i]; r[i] -= alpha * ap[i] }
            let rr2 = r.reduce(0) { $0 + $1 * $1 }
            let beta = rr2 / rr
            for i in 0..<dimension { p[i] = r[i] + beta * p[i] }
            rr = rr2
            it += 1
        }
        return SparseRidge(weights: w)
    }

    /// Chooses λ among `lambdas` by the Pearson correlation on the last tenth of a fixed
    /// shuffle (fitted on the other nine tenths), then refits on everything.
    public static func fit(_ xs: [SparseVector], _ ys: [Double], dimension: Int, bias: Int?,
                           lambdas: [Double] = [0.1, 1, 10, 100, 1000], seed: UInt64 = 1) -> (SparseRidge, lambda: Double) {
        var rng = RNG(seed: seed)
        let perm = rng.permutation(xs.count)
        let nHold = xs.count >= 20 ? xs.count / 10 : 0
        var lambda = lambdas[lambdas.count / 2]
        if nHold > 0 {
            let hold = Array(perm.prefix(nHold)), fitIdx = Array(perm.dropFirst(nHold))
            var best = -Double.infinity
            for l in lambdas {
                let m = solve(fitIdx.map { xs[$0] }, fitIdx.map { ys[$0] }, dimension: dimension, lambda: l, bias: bias)
                let r = Metrics.pearson(hold.map { m.predict(xs[$0]) }, hold.map { ys[$0] })
                if r > best { best = r; lambda = l }
            }
        }
        return (solve(xs, ys, dimension: dimension, lambda: lambda, bias: bias), lambda)
    }
}

// MARK: - Per-task references

public enum References {
    /// The GLUE task's reference rows from its training split and dev splits (capped as the
    /// cells cap them).
    static func glueKey(train: [GLUEExample], evals: [(split: String, examples: [GLUEExample])]) -> String {
        var key = FNV64()
        key.add(TaskReference.currentVersion)
        for e in train + evals.flatMap(\.examples) {
            key.add(e.textA); key.add(e.textB ?? "\u{1}"); key.add(e.label ?? -1); key.add(e.score ?? .nan)
        }
        return key.hex
    }

    static func cifarKey(train: CIFARSplit, trainCount: Int, test: CIFARSplit, testCount: Int, maxEpochs: Int) -> String {
        var key = FNV64()
        key.add(TaskReference.currentVersion)
        key.add(trainCount); key.add(testCount); key.add(maxEpochs)
        for s in [(train, trainCount), (test, testCount)] {
            s.0.images.withUnsafeBytes { p in key.add(bytes: UnsafeRawBufferPointer(rebasing: p[0..<(s.1 * CIFARSplit.pixelsPerImage)])) }
            for l in s.0.fineLabels.prefix(s.1) { key.add(l) }
        }
        return key.hex
    }

    /// `glue(suite:task:train:evals:)` for the built-in task of `glueTask`, named `task`.
    public static func glue(suite: String, task: String, glueTask: GLUETask, train: [GLUEExample],
                            evals: [(split: String, examples: [GLUEExample])]) -> TaskReference {
        var declaration = TaskRegistry.builtIn.first { $0.glueFormat == glueTask.format }!
        declaration.name = task
        return glue(suite: suite, task: declaration, train: train, evals: evals)
    }

    /// The reference rows of a GLUE-format text task from its training split and dev splits
    /// (capped as the cells cap them), scored with the task's text metrics.
    public static func glue(suite: String, task declaration: TaskDeclaration, train: [GLUEExample],
                            evals: [(split: String, examples: [GLUEExample])]) -> TaskReference {
        guard let format = declaration.glueFormat else { preconditionFailure("\(declaration.name) is not a GLUE-format task") }
        let task = declaration.name
        let start = Date()
        let key = glueKey(train: train, evals: evals)
        let splits = evals.map(\.split)
        let labels = evals.map { $0.examples.map { $0.label ?? 0 } }
        let scores = evals.map { $0.examples.map { $0.score ?? 0 } }
        func glueMetrics(predictedLabels: [[Int]], predictedScores: [[Float]]) -> [String: Double] {
            declaration.textMetricValues(splits: splits, labels: labels, scores: scores,
                                         predictedLabels: predictedLabels, predictedScores: predictedScores)
        }
        var rows: [ReferenceRow] = []
        let feat = NGramFeaturizer()
        let trainX = train.map { feat.features($0.textA, $0.textB) }
        let index = FeatureIndex(trainX)
        let fx = trainX.map(index.map)
        let ex = evals.map { $0.examples.map { index.map(feat.features($0.textA, $0.textB)) } }
        if format.isRegression {
            let ys = train.map { Double($0.score ?? 0) }
            let mean = ys.reduce(0, +) / Double(max(ys.count, 1))
            let constant = evals.map { [Float](repeating: Float(mean), count: $0.examples.count) }
            rows.append(ReferenceRow(name: "chance",
                                     metrics: glueMetrics(predictedLabels: labels, predictedScores: constant),
                                     detail: String(format: "the mean training score %.3f (correlations of a constant reported as 0)", mean)))
            let (model, lambda) = SparseRidge.fit(fx, ys, dimension: index.dimension, bias: index.ids[0])
            let preds = ex.map { $0.map { Float(model.predict($0)) } }
            rows.append(ReferenceRow(name: "linear",
                                     metrics: glueMetrics(predictedLabels: labels, predictedScores: preds),
                                     detail: "ridge on hashed n-grams, λ = \(num(lambda)) (\(index.dimension) features)"))
        } else {
            let ys = train.map { $0.label ?? 0 }
            let maj = Chance.majority(ys)
            let constant = evals.map { [Int](repeating: maj, count: $0.examples.count) }
            rows.append(ReferenceRow(name: "chance",
                                     metrics: glueMetrics(predictedLabels: constant, predictedScores: scores),
                                     detail: format.labelNames[maj] == "\(maj)" ? "the majority training label \(maj)"
                                         : "the majority training label \(maj) (\(format.labelNames[maj]))"))
            let (model, epochs) = SparseLogistic.fit(fx, ys, classes: format.numLabels, dimension: index.dimension)
            let preds = ex.map { $0.map(model.predict) }
            rows.append(ReferenceRow(name: "linear",
                                     metrics: glueMetrics(predictedLabels: preds, predictedScores: scores),
                                     detail: "logistic regression on hashed n-grams, \(epochs) AdaGrad epochs (\(index.dimension) features)"))
        }
        return TaskReference(version: TaskReference.currentVersion, suite: suite, task: task, dataKey: key,
                             rows: rows, seconds: Date().timeIntervalSince(start))
    }

    /// Most epochs of the CIFAR-100 softmax regression (the count is chosen on held-out images).
    public static let cifarMaxEpochs = 30

    static func num(_ v: Double) -> String { String(format: "%g", v) }

    /// CIFAR-100's reference rows: the majority class(es) and a softmax regression on the
    /// normalised pixels (normalisation from the training split, as the cells').
    public static func cifar(suite: String, train: CIFARSplit, trainCount: Int, test: CIFARSplit, testCount: Int,
                             maxEpochs: Int = References.cifarMaxEpochs) -> TaskReference {
        let start = Date()
        let key = cifarKey(train: train, trainCount: trainCount, test: test, testCount: testCount, maxEpochs: maxEpochs)
        let trainLabels = Array(train.fineLabels.prefix(trainCount)), testLabels = Array(test.fineLabels.prefix(testCount))
        let top = Chance.mostFrequent(trainLabels, count: 5)
        let top1 = Metrics.accuracy(predictions: [Int](repeating: top[0], count: testCount), labels: testLabels)
        let top5 = Double(testLabels.filter(top.contains).count) / Double(max(testCount, 1))
        var rows = [ReferenceRow(name: "chance", metrics: ["top1": top1, "top5": top5],
                                 detail: "the most frequent training classes \(top.map(String.init).joined(separator: ", "))")]
        let norm = CIFARNormalization.fit(train)
        let (acc, epochs) = softmaxOnPixels(train: train, trainCount: trainCount, test: test, testCount: testCount,
                                            normalization: norm, maxEpochs: maxEpochs)
        rows.append(ReferenceRow(name: "linear", metrics: acc,
                                 detail: "softmax regression on the normalised pixels, \(epochs) Adam epochs"))
        return TaskReference(version: TaskReference.currentVersion, suite: suite, task: "cifar100", dataKey: key,
                             rows: rows, seconds: Date().timeIntervalSince(start))
    }

    /// Softmax regression `x·W + b` on normalised pixels, Adam (lr 1e-3, batches of 128,
    /// no weight decay); the number of epochs is chosen on a held-out tenth of the
    /// training images (by accuracy), then the model is refitted on all of them.
    static func softmaxOnPixels(train: CIFARSplit, trainCount: Int, test: CIFARSplit, testCount: Int,
                                normalization: CIFARNormalization, maxEpochs: Int) -> ([String: Double], Int) {
        let classes = CIFAR100.fineClasses
        func run(_ fitIdx: [Int], epochs: Int, eval: (CIFARSplit, [Int])?) -> (Linear, [Double]) {
            var initRNG = RNG(seed: 7)
            let layer = Linear(CIFARSplit.pixelsPerImage, classes, rng: &initRNG)
            let opt = Adam(layer.parameters(), lr: 1e-3)
            var orderRNG = RNG(seed: 8)
            var evals: [Double] = []
            for _ in 0..<epochs {
                let perm = orderRNG.permutation(fitIdx.count).map { fitIdx[$0] }
                for s in stride(from: 0, to: perm.count, by: 128) {
                    let idx = Array(perm[s..<min(s + 128, perm.count)])
                    let x = train.batch(idx, normalization: normalization).reshaped([idx.count, CIFARSplit.pixelsPerImage])
                    let loss = crossEntropy(layer(x), labels: idx.map { train.fineLabels[$0] })
                    loss.backward()
                    opt.step()
                    opt.zeroGrad()
                }
                if let (split, idx) = eval { evals.append(scoreOn(layer, split, idx).top1) }
            }
            return (layer, evals)
        }
        func scoreOn(_ layer: Linear, _ split: CIFARSplit, _ idx: [Int]) -> (top1: Double, top5: Double) {
            var t1 = 0, t5 = 0
            Autograd.noGrad {
                for s in stride(from: 0, to: idx.count, by: 256) {
                    let chunk = Array(idx[s..<min(s + 256, idx.count)])
                    let x = split.batch(chunk, normalization: normalization).reshaped([chunk.count, CIFARSplit.pixelsPerImage])
                    let o = layer(x)
                    for (r, i) in chunk.enumerated() {
                        let row = o.data + r * classes
                        let y = split.fineLabels[i]
                        var above = 0, best = 0
                        for c in 0..<classes {
                            if row[c] > row[y] { above += 1 }
                            if row[c] > row[best] { best = c }
                        }
                        if best == y { t1 += 1 }
                        if above < 5 { t5 += 1 }
                    }
                }
            }
            let n = Double(max(idx.count, 1))
            return (Double(t1) / n, Double(t5) / n)
        }
        var rng = RNG(seed: 9)
        let perm = rng.permutation(trainCount)
        let nHold = trainCount >= 20 ? trainCount / 10 : 0
        var epochs = maxEpochs
        if nHold > 0 {
            let (_, curve) = run(Array(perm.dropFirst(nHold)), epochs: maxEpochs, eval: (train, Array(perm.prefix(nHold))))
            epochs = (curve.indices.max { (curve[$0], -$0) < (curve[$1], -$1) } ?? maxEpochs - 1) + 1
        }
        let (layer, _) = run(Array(0..<trainCount), epochs: epochs, eval: nil)
        let s = scoreOn(layer, test, Array(0..<testCount))
        return (["top1": s.top1, "top5": s.top5], epochs)
    }

    /// LibriSpeech's reference rows from the transcripts: the empty transcript and the best
    /// constant transcript (greedy on the training transcripts), scored on every evaluation
    /// subset. No linear row.
    public static func speech(suite: String, trainTranscripts: [String],
                              evals: [(name: String, transcripts: [String])]) -> TaskReference {
        let start = Date()
        var key = FNV64()
        key.add(TaskReference.currentVersion)
        for t in trainTranscripts { key.add(t) }
        for e in evals { key.add(e.name); for t in e.transcripts { key.add(t) } }
        func scored(_ hyp: String) -> [String: Double] {
            var m: [String: Double] = [:]
            for e in evals {
                let h = Array(repeating: hyp, count: e.transcripts.count)
                m["wer_\(e.name)"] = Metrics.wordErrorRate(hypotheses: h, references: e.transcripts).rate
                m["cer_\(e.name)"] = Metrics.characterErrorRate(hypotheses: h, references: e.transcripts).rate
            }
            return m
        }
        let best = Chance.bestConstantTranscript(references: trainTranscripts)
        let text = best.words.joined(separator: " ")
        let rows = [
            ReferenceRow(name: "chance", metrics: scored(""), detail: "the empty transcript"),
            ReferenceRow(name: "chance: constant transcript", metrics: scored(text),
                         detail: "\"\(text)\" (greedy search over the 20 most frequent training words; training WER \(String(format: "%.1f", best.wer * 100)) %)"),
        ]
        return TaskReference(version: TaskReference.currentVersion, suite: suite, task: "librispeech", dataKey: key.hex,
                             rows: rows, seconds: Date().timeIntervalSince(start))
    }

    /// The reference rows of every suite and task present in `results`, each computed from
    /// the data of the task's first result (by method and seed), cached under
    /// `resultsRoot/<tier>/<suite>/reference/`. A task whose rows cannot be computed (its data
    /// absent) is logged and left out. Keyed by suite, then task.
    public static func forResults(_ results: [CellResult], resultsRoot: URL, dataDir: URL, realData: URL?,
                                  log: (String) -> Void = { print($0) }) -> [String: [String: TaskReference]] {
        var out: [String: [String: TaskReference]] = [:]
        let groups = Dictionary(grouping: results) { "\($0.tier)|\($0.suite)|\($0.task)" }
        for key in groups.keys.sorted() {
            let r = groups[key]!.sorted { ($0.method, $0.seed) < ($1.method, $1.seed) }[0]
            let cacheDir = resultsRoot.appendingPathComponent(r.tier).appendingPathComponent(r.suite).appendingPathComponent("reference")
            do {
                out[r.suite, default: [:]][r.task] = try compute(for: r.config, dataDir: dataDir, realData: realData,
                                                                 cacheDir: cacheDir, log: log)
            } catch {
                log("no reference rows for \(r.suite)/\(r.task): \(error)")
            }
        }
        return out
    }

    /// The reference rows of one task as a cell of `cfg` sees its data (same data source,
    /// same caps), read from `cacheDir/<task>.json` when its data key still matches,
    /// else computed and written there.
    public static func compute(for cfg: CellConfig, dataDir: URL, realData: URL?, cacheDir: URL,
                               log: (String) -> Void = { print($0) }) throws -> TaskReference {
        let source: DataSource
        if cfg.data == "real" {
            guard let realData else { throw HarnessError("tier '\(cfg.tier)' reads the real datasets: pass --data DIR") }
            source = DataSource(root: realData, isProxy: false)
        } else {
            guard let scale = ProxyScale(rawValue: cfg.data) else { throw HarnessError("unknown data kind '\(cfg.data)'") }
            source = DataSource.proxy(scale, dataDir: dataDir)
            try source.ensureProxy(for: cfg.modality, scale: scale, log: log)
        }
        let cacheURL = cacheDir.appendingPathComponent("\(cfg.task).json")
        let cached = (try? Data(contentsOf: cacheURL)).flatMap { try? JSONDecoder().decode(TaskReference.self, from: $0) }
        let t = cfg.training
        // The data key is computed from the loaded data; the costly part (training) is skipped
        // when the cache holds the same key.
        func finish(_ make: (String) -> TaskReference?, key: String) throws -> TaskReference {
            if let cached, cached.version == TaskReference.currentVersion, cached.dataKey == key { return cached }
            log("computing the reference rows of \(cfg.suite)/\(cfg.task) …")
            guard let r = make(key) else { throw HarnessError("no reference rows for \(cfg.task)") }
            try atomicWrite(try ResultStore.encoder().encode(r), to: cacheURL)
            return r
        }
        let task = try TaskRegistry.declaration(cfg.task, modality: cfg.modality)
        switch task.dataset {
        case .glueFormat(let format, _):
            let train = Array(try GLUE.load(root: source.root, format: format, split: format.trainSplit).examples.prefix(t.trainExamples ?? Int.max))
            let evals = try format.devSplits.map { s in
                (split: s, examples: Array(try GLUE.load(root: source.root, format: format, split: s).examples.prefix(t.evalExamples ?? Int.max)))
            }
            return try finish({ _ in glue(suite: cfg.suite, task: task, train: train, evals: evals) },
                              key: glueKey(train: train, evals: evals))
        case .cifar100:
            let data = try DatasetCache.shared.image(root: source.root, difficultyFile: task.difficultyFile)
            let nTrain = min(t.trainExamples ?? data.train.count, data.train.count)
            let nTest = min(t.evalExamples ?? data.test.count, data.test.count)
            return try finish({ _ in cifar(suite: cfg.suite, train: data.train, trainCount: nTrain, test: data.test, testCount: nTest) },
                              key: cifarKey(train: data.train, trainCount: nTrain, test: data.test, testCount: nTest, maxEpochs: cifarMaxEpochs))
        case .librispeech(let trainSubset, let evalSubsets):
            let train = try LibriSpeech.scan(root: source.root, subset: trainSubset).map(\.transcript)
                .prefix(t.trainExamples ?? Int.max)
            let evals = try evalSubsets.map { s in
                (name: s, transcripts: Array(try LibriSpeech.scan(root: source.root, subset: s).map(\.transcript).prefix(t.evalExamples ?? Int.max)))
            }
            let r = speech(suite: cfg.suite, trainTranscripts: Array(train), evals: evals)
            return try finish({ _ in r }, key: r.dataKey)
        }
    }
}
