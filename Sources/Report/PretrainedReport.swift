import Foundation
import Harness

/// The notes of the pretrained tier's report (`reports/pretrained-<suite>.md`): the model and
/// recipe, and the comparison of pretrained fine-tuning (`dense`: LoRA, no routing) with the
/// from-scratch dense model of the proxy tier on the same tasks.
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
                             + "start as copies of it (sparse upcycling), with routers from scratch; experts and routers train fully.")
            }
            lines.append(comparison(suite: suite, pretrained: rs, scratch: scratch.filter { $0.suite == suite && $0.tier == "proxy" }))
            out[suite] = lines
        }
        return out
    }

    /// The line comparing the suite averages of pretrained `dense` and from-scratch `dense`
    /// (mean ± sample standard deviation over seeds, over the tasks of the pretrained tier).
    static func comparison(suite: String, pretrained: [CellResult], scratch: [CellResult]) -> String {
        let tasks = Set(pretrained.filter { $0.method == "dense" && $0.isOK }.map(\.task))
        let preScores = Array(Scores.suiteScores(pretrained.filter { tasks.contains($0.task) }, suite: suite, method: "dense").values)
        guard !preScores.isEmpty else {
            return "**Pretrained vs from scratch:** no complete `dense` result of the pretrained tier yet."
        }
        let taskList = TaskCatalog.text.filter { tasks.contains($0.name) }.map(\.title).joined(separator: ", ")
        let scr = scratch.filter { tasks.contains($0.task) }
        let scrTasks = Set(scr.filter { $0.method == "dense" && $0.isOK }.map(\.task))
        let scrScores = scrTasks == tasks ? Array(Scores.suiteScores(scr, suite: suite, method: "dense").values) : []
        let preText = "pretrained fine-tuning (`dense`) averages \(pct(preScores)) (\(preScores.count) seed\(preScores.count == 1 ? "" : "s"))"
        guard !scrScores.isEmpty else {
            return "**Pretrained vs from scratch** (\(taskList)): \(preText); no proxy-tier from-scratch `dense` results on these tasks to compare with."
        }
        let diff = (Stats.mean(preScores) - Stats.mean(scrScores)) * 100
        let preData = Set(pretrained.map(\.data)), scrData = Set(scr.map(\.data))
        let dataNote = preData == scrData ? "same \(preData.sorted().joined(separator: ", ")) data"
            : "different data (pretrained: \(preData.sorted().joined(separator: ", ")), from scratch: \(scrData.sorted().joined(separator: ", "))), so not directly comparable"
        return "**Pretrained vs from scratch** (average over \(taskList); \(dataNote)): \(preText); the from-scratch "
            + "`dense` model of the proxy tier averages \(pct(scrScores)) (\(scrScores.count) seed\(scrScores.count == 1 ? "" : "s")): "
            + String(format: "%+.1f", diff) + " points for the pretrained encoder."
    }
}
