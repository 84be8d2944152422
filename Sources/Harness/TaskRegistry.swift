import Data
import Foundation

/// Where a task's data comes from and which modality preparation turns it into batches.
public enum TaskDataset: Equatable, Sendable {
    /// Text in the GLUE format: tab-separated files `glue/<folder>/<split>.tsv` under the
    /// data root (the real datasets or a proxy root), prepared by `TextTaskPreparation`.
    /// Each metric key is computed by its `TextMetric` on the dev split `metricSplits` names
    /// for it, else on the first dev split.
    case glueFormat(GLUEFormat, metricSplits: [String: String] = [:])
    /// CIFAR-100's binary files under `cifar-100-binary/`, prepared by `ImageTaskPreparation`
    /// (metrics `top1`, `top5`).
    case cifar100
    /// LibriSpeech subsets under `LibriSpeech/`: training on `train`, evaluation on each of
    /// `evals`, prepared by `SpeechTaskPreparation` (metrics `wer_<subset>`, `cer_<subset>`).
    case librispeech(train: String, evals: [String])

    public var modality: Modality {
        switch self {
        case .glueFormat: return .text
        case .cifar100: return .image
        case .librispeech: return .speech
        }
    }

    /// The metric keys the dataset's preparation can write.
    var metricKeys: Set<String>? {
        switch self {
        case .glueFormat: return nil  // any key naming a `TextMetric`
        case .cifar100: return ["top1", "top5"]
        case .librispeech(_, let evals): return Set(evals.flatMap { ["wer_\($0)", "cer_\($0)"] })
        }
    }
}

/// A metric of a text task, named by the start of its key up to the first `_` (`accuracy`,
/// `accuracy_matched`, `f1`, `mcc`, `pearson`, `spearman`).
public enum TextMetric: String, CaseIterable, Sendable {
    case accuracy, f1, mcc, pearson, spearman

    public init?(key: String) {
        self.init(rawValue: String(key.prefix { $0 != "_" }))
    }

    /// The metric of predictions against gold values: labels for the classification metrics,
    /// scores for the correlations.
    public func value(predictedLabels: [Int], labels: [Int], predictedScores: [Float], scores: [Float]) -> Double {
        switch self {
        case .accuracy: return Metrics.accuracy(predictions: predictedLabels, labels: labels)
        case .f1: return Metrics.f1(predictions: predictedLabels, labels: labels)
        case .mcc: return Metrics.matthews(predictions: predictedLabels, labels: labels)
        case .pearson: return Metrics.pearson(predictedScores, scores)
        case .spearman: return Metrics.spearman(predictedScores, scores)
        }
    }
}

/// Everything the harness knows of one task, in one place: the name suites use, its title,
/// how its data is read and prepared (which fixes the modality), its metrics (result keys
/// and column titles) with the headline metric, the difficulty side file the proxy writes
/// beside the data, and the task id DLR's task embedding reads.
public struct TaskDeclaration: Sendable {
    /// The name suite files use (`tasks:`), in result file names.
    public var name: String
    public var title: String
    public var dataset: TaskDataset
    /// Metric keys as stored in results (fractions in 0…1), in column order.
    public var metrics: [String]
    /// Column titles for the metrics.
    public var metricTitles: [String]
    /// The metric of summaries and of the learning curve's evaluation points.
    public var headlineMetric: String
    /// The difficulty side file (levels 1-3 per example) in the task's data folder: read when
    /// present (the proxy writes it, the published data has none); nil: levels not read.
    public var difficultyFile: String?
    /// DLR's task id; nil before registration, which assigns the next free one.
    public var dlrTaskID: Int?

    public init(name: String, title: String, dataset: TaskDataset, metrics: [String], metricTitles: [String],
                headlineMetric: String? = nil, difficultyFile: String? = "difficulty.tsv", dlrTaskID: Int? = nil) {
        self.name = name
        self.title = title
        self.dataset = dataset
        self.metrics = metrics
        self.metricTitles = metricTitles
        self.headlineMetric = headlineMetric ?? metrics.first ?? ""
        self.difficultyFile = difficultyFile
        self.dlrTaskID = dlrTaskID
    }

    public var modality: Modality { dataset.modality }

    /// The file layout of a GLUE-format text task, else nil.
    public var glueFormat: GLUEFormat? {
        if case .glueFormat(let f, _) = dataset { return f }
        return nil
    }

    /// A GLUE-format text task's metrics: each key with its `TextMetric` and the dev split it
    /// is computed on. Empty for other datasets.
    public var textMetrics: [(key: String, metric: TextMetric, split: String)] {
        guard case .glueFormat(let f, let splits) = dataset else { return [] }
        return metrics.compactMap { key in
            TextMetric(key: key).map { (key, $0, splits[key] ?? f.devSplits.first ?? "dev") }
        }
    }

    /// The text metrics of predictions on each evaluation split: `labels[i]`, `scores[i]` and
    /// the predictions of `splits[i]` (a split the task does not evaluate on is unused).
    func textMetricValues(splits: [String], labels: [[Int]], scores: [[Float]],
                          predictedLabels: [[Int]], predictedScores: [[Float]]) -> [String: Double] {
        var m: [String: Double] = [:]
        for (key, metric, split) in textMetrics {
            guard let si = splits.firstIndex(of: split) else { continue }
            m[key] = metric.value(predictedLabels: predictedLabels[si], labels: labels[si],
                                  predictedScores: predictedScores[si], scores: scores[si])
        }
        return m
    }

    /// The reasons the declaration cannot run, empty when it can.
    func problems() -> [String] {
        var out: [String] = []
        if name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"#, options: .regularExpression) == nil || name.contains("__") {
            out.append("the name must be 1-64 letters, digits, '.', '_' or '-' (a part of result file names)")
        }
        if metrics.isEmpty { out.append("no metrics") }
        if metrics.count != metricTitles.count {
            out.append("\(metrics.count) metrics but \(metricTitles.count) metric titles")
        }
        if Set(metrics).count != metrics.count { out.append("a metric is listed twice") }
        if !metrics.contains(headlineMetric) { out.append("the headline metric '\(headlineMetric)' is not one of its metrics") }
        if let id = dlrTaskID, id < 0 { out.append("the DLR task id must be at least 0, got \(id)") }
        if let f = difficultyFile, f.isEmpty || f.contains("/") { out.append("the difficulty file must be a file name, got '\(f)'") }
        switch dataset {
        case .glueFormat(let f, let splits):
            if f.devSplits.isEmpty { out.append("no dev split to evaluate on") }
            for s in [f.trainSplit] + f.devSplits where f.columns[s]?.label == nil {
                out.append("split '\(s)' needs a column layout with a label column")
            }
            if case .classes(let names) = f.labels, names.count < 2 { out.append("a classification task needs at least 2 labels") }
            for key in metrics where TextMetric(key: key) == nil {
                out.append("text metric '\(key)' does not start with one of "
                           + TextMetric.allCases.map(\.rawValue).joined(separator: ", "))
            }
            for (key, split) in splits.sorted(by: { $0.key < $1.key }) where !f.devSplits.contains(split) || !metrics.contains(key) {
                out.append("metricSplits: '\(key)' -> '\(split)' names no metric and dev split of the task")
            }
        case .cifar100, .librispeech:
            let known = dataset.metricKeys ?? []
            for key in metrics where !known.contains(key) {
                out.append("metric '\(key)' is not written by the \(dataset.modality.rawValue) preparation (it writes "
                           + known.sorted().joined(separator: ", ") + ")")
            }
        }
        return out
    }
}

/// The tasks suites can name: the built-in ones (the nine GLUE tasks, CIFAR-100, LibriSpeech)
/// and those registered at run time with `register`. A new task is one declaration and a
/// suite entry; `TaskCatalog`, `glueTaskByName` and `taskID(_:)` read from here.
public enum TaskRegistry {
    /// The built-in tasks, in table order, with DLR task ids 0-10.
    public static let builtIn: [TaskDeclaration] = [
        glue("cola", "CoLA", .cola, metrics: ["mcc"], titles: ["MCC"], id: 0),
        glue("sst2", "SST-2", .sst2, metrics: ["accuracy"], titles: ["acc"], id: 1),
        glue("mrpc", "MRPC", .mrpc, metrics: ["f1", "accuracy"], titles: ["F1", "acc"], id: 2),
        glue("stsb", "STS-B", .stsb, metrics: ["pearson", "spearman"], titles: ["Pearson", "Spearman"], id: 3),
        glue("qqp", "QQP", .qqp, metrics: ["f1", "accuracy"], titles: ["F1", "acc"], id: 4),
        glue("mnli", "MNLI", .mnli, metrics: ["accuracy_matched", "accuracy_mismatched"], titles: ["m", "mm"], id: 5,
             splits: ["accuracy_matched": "dev_matched", "accuracy_mismatched": "dev_mismatched"]),
        glue("qnli", "QNLI", .qnli, metrics: ["accuracy"], titles: ["acc"], id: 6),
        glue("rte", "RTE", .rte, metrics: ["accuracy"], titles: ["acc"], id: 7),
        glue("wnli", "WNLI", .wnli, metrics: ["accuracy"], titles: ["acc"], id: 8),
        TaskDeclaration(name: "cifar100", title: "CIFAR-100", dataset: .cifar100,
                        metrics: ["top1", "top5"], metricTitles: ["top-1", "top-5"], dlrTaskID: 9),
        TaskDeclaration(name: "librispeech", title: "LibriSpeech",
                        dataset: .librispeech(train: "train-clean-100", evals: ["test-clean", "test-other"]),
                        metrics: ["wer_test-clean", "cer_test-clean", "wer_test-other", "cer_test-other"],
                        metricTitles: ["WER clean", "CER clean", "WER other", "CER other"], dlrTaskID: 10),
    ]

    static func glue(_ name: String, _ title: String, _ task: GLUETask, metrics: [String], titles: [String], id: Int,
                     splits: [String: String] = [:]) -> TaskDeclaration {
        TaskDeclaration(name: name, title: title, dataset: .glueFormat(task.format, metricSplits: splits),
                        metrics: metrics, metricTitles: titles, dlrTaskID: id)
    }

    private final class Storage: @unchecked Sendable {
        let lock = NSLock()
        var tasks = TaskRegistry.builtIn
    }
    private static let storage = Storage()

    /// Every task, built-in first, then in registration order.
    public static var all: [TaskDeclaration] {
        storage.lock.lock()
        defer { storage.lock.unlock() }
        return storage.tasks
    }

    /// The tasks of one modality, in table order.
    public static func tasks(_ modality: Modality) -> [TaskDeclaration] {
        all.filter { $0.modality == modality }
    }

    /// Task names by modality: what a suite of each modality may list.
    public static var namesByModality: [Modality: [String]] {
        let tasks = all
        return Dictionary(uniqueKeysWithValues: Modality.allCases.map { m in (m, tasks.filter { $0.modality == m }.map(\.name)) })
    }

    /// The task named `name`, or nil.
    public static func declaration(_ name: String) -> TaskDeclaration? {
        all.first { $0.name == name }
    }

    /// The task of a cell: registered under its name and of the cell's modality.
    public static func declaration(_ name: String, modality: Modality) throws -> TaskDeclaration {
        guard let d = declaration(name) else {
            throw HarnessError("unknown task '\(name)'; registered: \(all.map(\.name).joined(separator: ", "))")
        }
        guard d.modality == modality else {
            throw HarnessError("task '\(name)' is a \(d.modality.rawValue) task, not \(modality.rawValue)")
        }
        return d
    }

    /// Adds a task, which suites may then list, and returns it as registered (with its DLR
    /// task id: the one declared, else one more than the largest in use). Throws when the name
    /// or the DLR task id is taken or the declaration cannot run (metrics its preparation does
    /// not write, a label-less split, ...).
    @discardableResult
    public static func register(_ declaration: TaskDeclaration) throws -> TaskDeclaration {
        var d = declaration
        let problems = d.problems()
        guard problems.isEmpty else {
            throw HarnessError("task '\(d.name)' cannot be registered: " + problems.joined(separator: "; "))
        }
        storage.lock.lock()
        defer { storage.lock.unlock() }
        if storage.tasks.contains(where: { $0.name == d.name }) {
            throw HarnessError("task '\(d.name)' is registered already")
        }
        let ids = storage.tasks.compactMap(\.dlrTaskID)
        if let id = d.dlrTaskID, let other = storage.tasks.first(where: { $0.dlrTaskID == id }) {
            throw HarnessError("task '\(d.name)': DLR task id \(id) is taken by '\(other.name)'")
        }
        d.dlrTaskID = d.dlrTaskID ?? ((ids.max() ?? -1) + 1)
        storage.tasks.append(d)
        return d
    }

    /// Removes a task added with `register` (built-in tasks stay) and returns it, or nil.
    @discardableResult
    public static func unregister(_ name: String) -> TaskDeclaration? {
        guard !builtIn.contains(where: { $0.name == name }) else { return nil }
        storage.lock.lock()
        defer { storage.lock.unlock() }
        guard let i = storage.tasks.firstIndex(where: { $0.name == name }) else { return nil }
        return storage.tasks.remove(at: i)
    }
}

/// Suite task names (lower case, as in suite files) mapped to GLUE tasks: the registered
/// tasks whose files have one of the nine GLUE tasks' layouts.
public var glueTaskByName: [String: GLUETask] {
    let formats = GLUETask.allCases.map { ($0, $0.format) }
    var out: [String: GLUETask] = [:]
    for d in TaskRegistry.all {
        if let f = d.glueFormat, let t = formats.first(where: { $0.1 == f })?.0 { out[d.name] = t }
    }
    return out
}

/// The task id DLR's task embedding reads: the task's `dlrTaskID` (0 for an unknown name).
public func taskID(_ task: String) -> Int {
    TaskRegistry.declaration(task)?.dlrTaskID ?? 0
}
