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
                             + "start as copies of it (sparse upcycling), with routers from scratch; experts and routers train fully "
                             + "(at the learning rates of the recipe below)."
                             + (spec.scratchBaseline ? " `\(PretrainedSpec.scratchLabel)` is the same encoder architecture randomly "
                                + "initialised (BERT's initialisation), without adapters, every weight trained with the same recipe." : ""))
            }
            lines.append(comparison(suite: suite, pretrained: rs, scratch: scratch.filter { $0.suite == suite && $0.tier == "proxy" }))
            if let spec = rs.compactMap(\.config.pretrained).first { lines.append(contentsOf: recipe(rs, spec: spec)) }
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
        let preScores = Scores.suiteScores(pretrained.filter { tasks.contains($0.task) }, suite: suite, method: "dense").valuesInKeyOrder
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
            let same = Scores.suiteScores(pretrained.filter { tasks.contains($0.task) }, suite: suite, method: label).valuesInKeyOrder
            if !same.isEmpty {
                let verdict = Stats.mean(preScores) > Stats.mean(same) ? "pretrained fine-tuning is ahead" : "pretrained fine-tuning is not ahead"
                parts.append("the same-size model trained from scratch with the same recipe (`\(label)`: the encoder's architecture "
                             + "and tokenizer, randomly initialised, every weight trained) averages \(pct(same)) (\(seeds(same))): "
                             + "\(points(preScores, same)) points, \(verdict)")
            }
        }
        let scr = scratch.filter { tasks.contains($0.task) }
        let scrTasks = Set(scr.filter { $0.method == "dense" && $0.isOK }.map(\.task))
        let scrScores = scrTasks == tasks ? Scores.suiteScores(scr, suite: suite, method: "dense").valuesInKeyOrder : []
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

    /// The recipe per method, read from the cells' configurations: the training settings per
    /// task, the optimizer groups, each method's options (with the tasks where they differ)
    /// and what the tier departs from in the papers' setups.
    static func recipe(_ rs: [CellResult], spec: PretrainedSpec) -> [String] {
        var out: [String] = []
        let groups = spec.parameterGroups
        let c = rs.first?.config.training
        let order = TaskCatalog.text.map(\.name)
        let tasks = Set(rs.map(\.task)).sorted { (order.firstIndex(of: $0) ?? .max, $0) < (order.firstIndex(of: $1) ?? .max, $1) }
        func title(_ t: String) -> String { TaskCatalog.text.first { $0.name == t }?.title ?? t }
        func lr(_ v: Double) -> String { v == 0 ? "0" : String(format: "%g", v) }
        let perTask = tasks.compactMap { t -> String? in
            guard let c = rs.first(where: { $0.task == t })?.config.training else { return nil }
            let steps = c.steps.map { "\($0) steps" } ?? c.epochs.map { "\(num($0)) epochs" } ?? "?"
            return "\(title(t)) lr \(lr(c.lr)), \(steps) of batch \(c.batchSize)"
        }
        if let c {
            out.append("**Training:** optimizer \(c.optimizer), weight decay \(lr(c.weightDecay)), \(num(c.warmupFraction * 100, 3))% warmup "
                       + "then \(c.schedule) decay, gradient clipping at \(c.clipNorm.map { lr($0) } ?? "none"); per task: "
                       + perTask.joined(separator: "; ") + ".")
        }
        if !groups.isEmpty {
            let parts = groups.map { g -> String in
                let sel = (g.prefixes.map { "`\($0)*`" } + g.contains.map { "`*\($0)*`" }).joined(separator: ", ")
                let rate = g.lr.map { "lr \(lr(Double($0)))" } ?? "the task's lr"
                let wd = g.weightDecay.map { "weight decay \(lr(Double($0)))" } ?? "the tier's weight decay"
                return "`\(g.name)` (\(sel)): \(rate), \(wd)"
            }
            out.append("**Optimizer groups** (by parameter name; a group without a matching parameter is empty): "
                       + parts.joined(separator: "; ") + "; every other trained parameter (adapters, head, the "
                       + "from-scratch baseline's encoder): the task's lr and the tier's weight decay.")
        }
        var rows = ["| method | options (every task) | options differing by task |", "|---|---|---|"]
        var labels: [String] = []
        for r in rs where !labels.contains(r.method) { labels.append(r.method) }
        for label in labels {
            let cells = rs.filter { $0.method == label }
            var byTask: [String: [String: String]] = [:]
            for c in cells { byTask[c.task] = c.config.method.options.mapValues(\.description) }
            let keys = Set(byTask.values.flatMap(\.keys)).sorted()
            var common: [String] = [], differing: [String] = []
            for k in keys {
                let values = tasks.compactMap { t in byTask[t].map { $0[k] ?? "(default)" } }
                if Set(values).count == 1, let v = values.first {
                    common.append("\(k): \(v)")
                } else {
                    differing.append("\(k): " + tasks.compactMap { t in byTask[t].map { "\(title(t)) \($0[k] ?? "default")" } }
                        .joined(separator: ", "))
                }
            }
            let method = cells.first?.config.method.method ?? label
            rows.append("| \(label) (`\(method)`) | \(common.isEmpty ? "—" : common.joined(separator: "; ")) | "
                        + "\(differing.isEmpty ? "—" : differing.joined(separator: "; ")) |")
        }
        out.append("**Recipe per method** (the options every cell ran with, from its result file; `renormalize` divides the "
                   + "chosen experts' gates by their sum, so the upcycled layer starts as the pretrained FFN):\n\n"
                   + rows.joined(separator: "\n"))
        out.append("**Departures from the MoLEx paper's recipe** (RoBERTa-base, LoRA r = 8, alpha = 16 on query and value, "
                   + "weight decay 0.1, batch 16-32 per GPU on 8 GPUs, 25 to 80 epochs of the real sets at 4e-4 to 5e-4): "
                   + "the encoder is MiniLM-L6 (22.7M parameters, 6 layers of width 384); training is \(c?.steps.map { "\($0) steps" } ?? "a budget") "
                   + "of batch \(c?.batchSize ?? 0) over the first \(c?.trainExamples.map { "\($0)" } ?? "all") proxy training examples per task, "
                   + "about one pass, with the learning rates raised for that budget; weight decay \(c.map { lr($0.weightDecay) } ?? "?") outside "
                   + "the groups above; MoLEx and DLR votes leave padding out (the reference code pools over every position). "
                   + "The upcycled methods (`switch`, `top2`, `topp`) appear in neither paper's pretrained tables: they are this "
                   + "suite's sparse upcycling of the same encoder.")
        return out
    }
}
