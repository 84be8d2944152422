/// The tasks each modality knows, with their official metrics, in table order.
public struct TaskInfo: Sendable {
    public var name: String
    public var title: String
    /// Metric keys as stored in results (fractions in 0…1), in column order.
    public var metrics: [String]
    /// Column titles for the metrics.
    public var metricTitles: [String]
}

public enum TaskCatalog {
    public static let text: [TaskInfo] = [
        TaskInfo(name: "cola", title: "CoLA", metrics: ["mcc"], metricTitles: ["MCC"]),
        TaskInfo(name: "sst2", title: "SST-2", metrics: ["accuracy"], metricTitles: ["acc"]),
        TaskInfo(name: "mrpc", title: "MRPC", metrics: ["f1", "accuracy"], metricTitles: ["F1", "acc"]),
        TaskInfo(name: "stsb", title: "STS-B", metrics: ["pearson", "spearman"], metricTitles: ["Pearson", "Spearman"]),
        TaskInfo(name: "qqp", title: "QQP", metrics: ["f1", "accuracy"], metricTitles: ["F1", "acc"]),
        TaskInfo(name: "mnli", title: "MNLI", metrics: ["accuracy_matched", "accuracy_mismatched"], metricTitles: ["m", "mm"]),
        TaskInfo(name: "qnli", title: "QNLI", metrics: ["accuracy"], metricTitles: ["acc"]),
        TaskInfo(name: "rte", title: "RTE", metrics: ["accuracy"], metricTitles: ["acc"]),
        TaskInfo(name: "wnli", title: "WNLI", metrics: ["accuracy"], metricTitles: ["acc"]),
    ]
    public static let image: [TaskInfo] = [
        TaskInfo(name: "cifar100", title: "CIFAR-100", metrics: ["top1", "top5"], metricTitles: ["top-1", "top-5"]),
    ]
    public static let speech: [TaskInfo] = [
        TaskInfo(name: "librispeech", title: "LibriSpeech",
                 metrics: ["wer_test-clean", "cer_test-clean", "wer_test-other", "cer_test-other"],
                 metricTitles: ["WER clean", "CER clean", "WER other", "CER other"]),
    ]

    public static func tasks(_ m: Modality) -> [TaskInfo] {
        switch m {
        case .text: return text
        case .image: return image
        case .speech: return speech
        }
    }

    public static var namesByModality: [Modality: [String]] {
        Dictionary(uniqueKeysWithValues: Modality.allCases.map { ($0, tasks($0).map(\.name)) })
    }

    public static func info(_ name: String) -> TaskInfo? {
        (text + image + speech).first { $0.name == name }
    }

    /// The task's single score for suite averages: the mean of its metrics (as the GLUE
    /// leaderboard averages F1/accuracy and Pearson/Spearman); error rates enter as
    /// `1 − rate` so that higher is better everywhere.
    public static func score(task: String, metrics: [String: Double]) -> Double? {
        guard let info = info(task) else { return nil }
        let keys = info.metrics.filter { !$0.hasPrefix("cer") }
        let vals = keys.compactMap { k in metrics[k].map { metricHigherIsBetter(k) ? $0 : 1 - $0 } }
        guard vals.count == keys.count, !vals.isEmpty else { return nil }
        return vals.reduce(0, +) / Double(vals.count)
    }
}

/// Whether larger values of a metric are better.
public func metricHigherIsBetter(_ name: String) -> Bool {
    !(name.hasPrefix("wer") || name.hasPrefix("cer") || name.hasPrefix("loss"))
}
