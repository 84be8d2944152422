/// What the task catalog says of a task: its declaration in the registry.
public typealias TaskInfo = TaskDeclaration

/// The tasks each modality knows, with their official metrics, in table order: a view of
/// `TaskRegistry` (built-in tasks, then registered ones).
public enum TaskCatalog {
    public static var text: [TaskInfo] { TaskRegistry.tasks(.text) }
    public static var image: [TaskInfo] { TaskRegistry.tasks(.image) }
    public static var speech: [TaskInfo] { TaskRegistry.tasks(.speech) }

    public static func tasks(_ m: Modality) -> [TaskInfo] { TaskRegistry.tasks(m) }

    public static var namesByModality: [Modality: [String]] { TaskRegistry.namesByModality }

    public static func info(_ name: String) -> TaskInfo? { TaskRegistry.declaration(name) }

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
