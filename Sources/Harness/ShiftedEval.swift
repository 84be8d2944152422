import Data
import Foundation
import NN
import Routing

/// A trained model's metrics on the shifted evaluation sets of its task, and on the clean
/// evaluation set restricted to the same examples (the paired in-distribution score).
public struct ShiftedRecord: Codable, Equatable, Sendable {
    /// Examples evaluated per set: the first `examples` of the clean set and of every shifted
    /// set (the shifted sets keep the clean set's order, so the pairs are the same images).
    public var examples: Int
    /// The task's metrics on the first `examples` clean examples.
    public var clean: [String: Double]
    /// The task's metrics per shifted set, by set name (e.g. `gaussian_noise-2`).
    public var sets: [String: [String: Double]]

    public init(examples: Int, clean: [String: Double], sets: [String: [String: Double]]) {
        self.examples = examples
        self.clean = clean
        self.sets = sets
    }
}

/// Shifted evaluation: the sets, where they are written and how a cell evaluates on them.
public enum ShiftedEval {
    /// Images per set evaluated by a cell: the first 2,000 of each (or the whole set when
    /// smaller, or the tier's `eval_examples` when that is smaller).
    public static let imageSubset = 2000

    /// The seed the shifted sets are written with (fixed: the sets are part of the benchmark).
    public static let seed: UInt64 = DataSource.proxySeed

    /// Images per set evaluated by a speech cell: the first 200 utterances of test-clean and
    /// of each of its shifts (fewer when the tier's `eval_examples` or the set is smaller).
    public static let speechSubset = 200

    /// Writes `root/cifar-100-binary/shifted/` (see `CIFARShift`) from the root's `test.bin`
    /// when its marker `shifted/.complete` is missing, under the conventions of the proxy
    /// writer: an exclusive `flock` on `cifar-100-binary/.shifted.lock` (released by the
    /// kernel if the writer dies), the files written into `cifar-100-binary/.shifted.partial`,
    /// that folder renamed into place, then the marker written last. A `shifted/` folder
    /// without a marker is unfinished and is replaced.
    public static func ensureCIFAR(root: URL, log: (String) -> Void) throws {
        let dir = CIFARShift.directory(root: root)
        let parent = dir.deletingLastPathComponent()
        try ensure(marker: dir.appendingPathComponent(".complete"), lock: parent.appendingPathComponent(".shifted.lock"),
                   partial: parent.appendingPathComponent(".shifted.partial"), what: "the shifted CIFAR-100 test sets under \(dir.path)",
                   log: log, write: { partial in
                       try CIFARShift.write(test: try CIFAR100.load(root: root, split: "test"), seed: seed, into: partial)
                   }, folders: [(partial: "", final: dir)])
    }

    /// Writes the shifts of `root/LibriSpeech/test-clean` (see `SpeechShift`), the folders
    /// `LibriSpeech/test-clean-<shift>/`, when the marker `LibriSpeech/.test-clean-shifted.complete`
    /// is missing: lock `LibriSpeech/.test-clean-shifted.lock`, written into
    /// `LibriSpeech/.test-clean-shifted.partial/`, each folder renamed into place, marker last.
    public static func ensureSpeech(root: URL, log: (String) -> Void) throws {
        let ls = root.appendingPathComponent(LibriSpeech.folder)
        let subset = "test-clean"
        try ensure(marker: ls.appendingPathComponent(".\(subset)-shifted.complete"),
                   lock: ls.appendingPathComponent(".\(subset)-shifted.lock"),
                   partial: ls.appendingPathComponent(".\(subset)-shifted.partial"), what: "the shifted \(subset) sets under \(ls.path)",
                   log: log, write: { partial in
                       try SpeechShift.write(root: root, subset: subset, seed: seed, into: partial)
                   }, folders: SpeechShift.all.map { (partial: $0.subset(of: subset), final: ls.appendingPathComponent($0.subset(of: subset))) })
    }

    /// Lock, write into `partial`, move each of `folders` (a path under `partial`, "" for
    /// `partial` itself, and its final place, replacing what is there) into place, then
    /// write `marker` (`WriteOnce`). Returns at once when the marker exists.
    static func ensure(marker: URL, lock: URL, partial: URL, what: String, log: (String) -> Void,
                       write: (URL) throws -> Void, folders: [(partial: String, final: URL)]) throws {
        let once = WriteOnce(marker: marker, lock: lock, lockName: "the shifted-set lock", partial: partial,
                             waiting: what, writing: what, written: what)
        try once.run(log: log) { partial in
            try write(partial)
            for (sub, final) in folders {
                let src = sub.isEmpty ? partial : partial.appendingPathComponent(sub)
                try WriteOnce.moveIntoPlace(src, final, what: "the shifted set")
            }
        }
    }

    /// Top-1 and top-5 accuracy (the true class among the five highest scores, ties to it: its
    /// rank is the number of classes scoring strictly higher), as CIFAR-100 cells report them.
    static func imageMetrics(_ predictions: [Prediction], labels: [Int]) -> [String: Double] {
        var top1 = 0, top5 = 0
        for (i, pr) in predictions.enumerated() {
            guard case .label(let l, let scores) = pr else { continue }
            if l == labels[i] { top1 += 1 }
            let target = scores[labels[i]]
            if scores.filter({ $0 > target }).count < 5 { top5 += 1 }
        }
        let n = Double(max(predictions.count, 1))
        return ["top1": Double(top1) / n, "top5": Double(top5) / n]
    }

    /// Evaluates `predict` (one batch, its example count -> predictions) on the first
    /// `imageSubset` clean test images and on the same images of every shifted set, in
    /// batches of 64; writes the shifted sets first when they are missing. Nil for tasks
    /// without shifted sets.
    static func evaluate(_ task: PreparedTask, root: URL, log: (String) -> Void,
                         predict: (Batch, Int) throws -> [Prediction]) throws -> ShiftedRecord? {
        if let text = task as? TextTaskPreparation { return try evaluateText(text, root: root, log: log, predict: predict) }
        if let speech = task as? SpeechTaskPreparation { return try evaluateSpeech(speech, root: root, log: log, predict: predict) }
        guard let image = task as? ImageTaskPreparation else { return nil }
        try ensureCIFAR(root: root, log: log)
        let n = min(imageSubset, image.evalCount)
        func run(_ split: CIFARSplit) throws -> [String: Double] {
            var preds: [Prediction] = []
            for start in stride(from: 0, to: n, by: 64) {
                let idx = Array(start..<min(start + 64, n))
                let b = Batch(input: .image(split.batch(idx, normalization: image.data.normalization)),
                              targets: .classes(idx.map { split.fineLabels[$0] }))
                preds += try predict(b, idx.count)
            }
            return imageMetrics(preds, labels: Array(split.fineLabels.prefix(n)))
        }
        let clean = try run(image.data.test)
        var sets: [String: [String: Double]] = [:]
        for (c, s) in ImageCorruption.allSets {
            let name = c.setName(severity: s)
            let split = try CIFAR100.loadShifted(root: root, name: name, limit: n)
            guard split.count == n, split.fineLabels == Array(image.data.test.fineLabels.prefix(n)) else {
                throw HarnessError("\(split.file.path): labels differ from test.bin's: the shifted set is not of this test set (remove \(CIFARShift.directory(root: root).path) to rewrite it)")
            }
            sets[name] = try run(split)
        }
        return ShiftedRecord(examples: n, clean: clean, sets: sets)
    }

    /// WER and CER of the first `speechSubset` utterances of test-clean and of each shift.
    static func evaluateSpeech(_ task: SpeechTaskPreparation, root: URL, log: (String) -> Void,
                               predict: (Batch, Int) throws -> [Prediction]) throws -> ShiftedRecord? {
        guard let si = task.data.evals.firstIndex(where: { $0.name == "test-clean" }) else { return nil }
        try ensureSpeech(root: root, log: log)
        let n = min(speechSubset, task.evalCounts[si])
        func run(_ ex: [SpeechExample]) throws -> [String: Double] {
            var hyps: [String] = []
            for start in stride(from: 0, to: ex.count, by: 64) {
                let chunk = Array(ex[start..<min(start + 64, ex.count)])
                hyps += task.hyps(try predict(task.batch(chunk), chunk.count))
            }
            let refs = ex.map(\.transcript)
            return ["wer": Metrics.wordErrorRate(hypotheses: hyps, references: refs).rate,
                    "cer": Metrics.characterErrorRate(hypotheses: hyps, references: refs).rate]
        }
        let cleanExamples = Array(task.data.evals[si].examples.prefix(n))
        let clean = try run(cleanExamples)
        let mel = LogMel()
        var sets: [String: [String: Double]] = [:]
        for shift in SpeechShift.all {
            let subset = shift.subset(of: "test-clean")
            let utts = Array(try LibriSpeech.scan(root: root, subset: subset).prefix(n))
            guard utts.map(\.id) == cleanExamples.map(\.id) else {
                throw HarnessError("\(root.appendingPathComponent(LibriSpeech.folder).appendingPathComponent(subset).path): utterances differ from test-clean's (remove the folder and its .test-clean-shifted.complete marker to rewrite it)")
            }
            let ex = try utts.map { u in
                let f = mel(try u.loadSamples(), normalize: true)
                return SpeechExample(id: u.id, features: f.scalars, frames: f.shape[0],
                                     targets: try CharVocabulary.standard.encode(u.transcript), transcript: u.transcript, difficulty: nil)
            }
            sets[subset] = try run(ex)
        }
        return ShiftedRecord(examples: n, clean: clean, sets: sets)
    }

    /// Writes MNLI's lexical-overlap probe `glue/MNLI/dev_lexical_overlap.tsv` (see
    /// `LexicalOverlapProbe`) when the marker `glue/MNLI/.dev_lexical_overlap.complete` is
    /// missing: lock `glue/MNLI/.dev_lexical_overlap.lock`, written into
    /// `glue/MNLI/.dev_lexical_overlap.partial/`, renamed into place, marker last.
    public static func ensureMNLIProbe(root: URL, log: (String) -> Void) throws {
        let dir = GLUE.taskFolder(root: root, task: .mnli)
        try ensure(marker: dir.appendingPathComponent(".dev_lexical_overlap.complete"),
                   lock: dir.appendingPathComponent(".dev_lexical_overlap.lock"),
                   partial: dir.appendingPathComponent(".dev_lexical_overlap.partial"),
                   what: "the MNLI lexical-overlap probe under \(dir.path)", log: log,
                   write: { try LexicalOverlapProbe.write(seed: seed, into: $0) },
                   folders: [(partial: LexicalOverlapProbe.fileName, final: LexicalOverlapProbe.url(root: root))])
    }

    /// MNLI only: the lexical-overlap probe (all of it) and the first as many dev_matched
    /// examples. Metrics: `accuracy` (3-way, clean only), `accuracy_2way` (entailment against
    /// the rest: a neutral or contradiction prediction is right for a non-entailed pair, as in
    /// HANS), and on the probe `accuracy_entailed` and `accuracy_non_entailed` (each half).
    static func evaluateText(_ task: TextTaskPreparation, root: URL, log: (String) -> Void,
                             predict: (Batch, Int) throws -> [Prediction]) throws -> ShiftedRecord? {
        guard task.format == GLUETask.mnli.format, let matched = task.evals.first(where: { $0.name == "dev_matched" }) else { return nil }
        try ensureMNLIProbe(root: root, log: log)
        let probe = try LexicalOverlapProbe.load(root: root)
        let n = min(probe.examples.count, matched.enc.count)
        func run(_ enc: [WordPieceEncoding], _ labels: [Int]) throws -> [Int] {
            var out: [Int] = []
            for start in stride(from: 0, to: enc.count, by: 64) {
                let idx = Array(start..<min(start + 64, enc.count))
                let b = task.batch(idx.map { enc[$0] }, labels: idx.map { labels[$0] }, scores: idx.map { _ in 0 })
                out += task.labels(try predict(b, idx.count))
            }
            return out
        }
        func twoWay(_ p: [Int], _ l: [Int]) -> Double {
            Double(zip(p, l).filter { ($0 == 0) == ($1 == 0) }.count) / Double(max(p.count, 1))
        }
        let cleanLabels = Array(matched.labels.prefix(n))
        let cp = try run(Array(matched.enc.prefix(n)), cleanLabels)
        let clean = ["accuracy": Metrics.accuracy(predictions: cp, labels: cleanLabels), "accuracy_2way": twoWay(cp, cleanLabels)]
        let ex = Array(probe.examples.prefix(n))
        let labels = ex.map { $0.label ?? 0 }
        let pp = try run(ex.map { task.tokenizer.encode($0.textA, $0.textB, maxLength: task.maxLength) }, labels)
        let ent = labels.indices.filter { labels[$0] == 0 }, non = labels.indices.filter { labels[$0] != 0 }
        let probeMetrics = ["accuracy_2way": twoWay(pp, labels),
                            "accuracy_entailed": twoWay(ent.map { pp[$0] }, ent.map { labels[$0] }),
                            "accuracy_non_entailed": twoWay(non.map { pp[$0] }, non.map { labels[$0] })]
        return ShiftedRecord(examples: n, clean: clean, sets: ["lexical_overlap": probeMetrics])
    }
}
