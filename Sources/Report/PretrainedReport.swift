import Foundation
import Analysis
import Harness

/// The notes of the pretrained tier's report (`reports/pretrained-<suite>.md`): the model and
/// recipe, and the comparison of pretrained fine-tuning (`dense`: LoRA, no routing) with the
/// same-size model trained from scratch (`dense-scratch`, when the tier runs it) and with the
/// from-scratch dense model of the proxy tier, on the same tasks.
public enum PretrainedReport {
    /// Notes by suite for the pretrained-tier `results`; the proxy tier's results are read
    /// from `resultsRoot/proxy` when present.
    public static func notes(results: [CellResult], resultsRoot: URL) throws -> [String: [String]] {
        let proxyRoot = resultsRoot.appendingPathComponent("proxy")
        let scratch = FileManager.default.fileExists(atPath: proxyRoot.path) ? try ResultStore.all(under: proxyRoot) : []
        return notes(pretrained: results, scratch: scratch)
    }

    /// Notes by suite, from the pretrained-tier results and the proxy tier's (from scratch).
    public static func notes(pretrained: [CellResult], scratch: [CellResult]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        let pre = pretrained.filter { $0.tier == PretrainedSpec.tierName }
        for suite in Set(pre.map(\.suite)).sorted() {
            let rs = pre.filter { $0.suite == suite }
            var lines: [String] = []
            if let spec = rs.compactMap(\.config.pretrained).first {
                let targets = spec.loraTargets.joined(separator: ", ")
                let lengths = Set(rs.map(\.config.model.maxLength)).sorted().map(String.init).joined(separator: ", ")
                lines.append("**Model:** the pretrained encoder in `\(spec.model)`, fine-tuned with LoRA (r = \(spec.loraRank), "
                             + "alpha = \(num(spec.loraAlpha)), on \(targets); every pretrained weight frozen), the task head "
                             + "(\(spec.pooling) pooling, dense + tanh + output) trained fully, AdamW; max length \(lengths) tokens. "
                             + "`molex` and `dlr` route over the encoder's own layers (no copies); DLR is this suite's reading "
                             + "of its paper's abstract. `switch`, `top2` and `topp` replace each layer's FFN by experts that all "
                             + "start as copies of it (sparse upcycling), with routers from scratch; experts and routers train fully."
                             + (spec.scratchBaseline ? " `\(PretrainedSpec.scratchLabel)` is the same encoder architecture randomly "
                                + "initialised (BERT's initialisation), without adapters, every weight trained with the same recipe." : ""))
            }
            lines.append(comparison(suite: suite, pretrained: rs, scratch: scratch.filter { $0.suite == suite && $0.tier == "proxy" }))
            out[suite] = lines
        }
        return out
    }

    /// The lines comparing the suite averages of pretrained `dense` with from-scratch models
    /// (mean ± sample standard deviation over seeds, over the tasks of the pretrained tier):
    /// first the same-size baseline of the tier itself (`dense-scratch`: the encoder's
    /// architecture randomly initialised and fully trained with the same recipe), then the
    /// proxy tier's small from-scratch `dense` model.
    static func comparison(suite: String, pretrained: [CellResult], scratch: [CellResult]) -> String {
        let tasks = Set(pretrained.filter { $0.method == "dense" && $0.isOK }.map(\.task))
        let preScores = Array(Scores.suiteScores(pretrained.filter { tasks.contains($0.task) }, suite: suite, method: "dense").values)
        guard !preScores.isEmpty else {
            return "**Pretrained vs from scratch:** no complete `dense` result of the pretrained tier yet."
        }
        let taskList = TaskCatalog.text.filter { tasks.contains($0.name) }.map(\.title).joined(separator: ", ")
        func seeds(_ s: [Double]) -> String { "\(s.count) seed\(s.count == 1 ? "" : "s")" }
        func points(_ a: [Double], _ b: [Double]) -> String { String(format: "%+.1f", (Stats.mean(a) - Stats.mean(b)) * 100) }
        let preText = "pretrained fine-tuning (`dense`) averages \(pct(preScores)) (\(seeds(preScores)))"

        // The same-size baseline in this tier, on the same tasks.
        var parts: [String] = []
        let label = PretrainedSpec.scratchLabel
        let sameTasks = Set(pretrained.filter { $0.method == label && $0.isOK }.map(\.task))
        if sameTasks == tasks {
            let same = Array(Scores.suiteScores(pretrained.filter { tasks.contains($0.task) }, suite: suite, method: label).values)
            if !same.isEmpty {
                let verdict = Stats.mean(preScores) > Stats.mean(same) ? "pretrained fine-tuning is ahead" : "pretrained fine-tuning is not ahead"
                parts.append("the same-size model trained from scratch with the same recipe (`\(label)`: the encoder's architecture "
                             + "and tokenizer, randomly initialised, every weight trained) averages \(pct(same)) (\(seeds(same))): "
                             + "\(points(preScores, same)) points, \(verdict)")
            }
        }
        let scr = scratch.filter { tasks.contains($0.task) }
        let scrTasks = Set(scr.filter { $0.method == "dense" && $0.isOK }.map(\.task))
        let scrScores = scrTasks == tasks ? Array(Scores.suiteScores(scr, suite: suite, method: "dense").values) : []
        if !scrScores.isEmpty {
            let preData = Set(pretrained.map(\.data)), scrData = Set(scr.map(\.data))
            let dataNote = preData == scrData ? "same \(preData.sorted().joined(separator: ", ")) data"
                : "different data (pretrained: \(preData.sorted().joined(separator: ", ")), from scratch: \(scrData.sorted().joined(separator: ", "))), so not directly comparable"
            parts.append("the proxy tier's smaller from-scratch `dense` model (its own recipe; \(dataNote)) averages "
                         + "\(pct(scrScores)) (\(seeds(scrScores))): \(points(preScores, scrScores)) points for the pretrained encoder")
        }
        guard !parts.isEmpty else {
            return "**Pretrained vs from scratch** (\(taskList)): \(preText); no from-scratch `dense` results on these tasks to compare with."
        }
        return "**Pretrained vs from scratch** (average over \(taskList)): \(preText); " + parts.joined(separator: "; ") + "."
    }
}
