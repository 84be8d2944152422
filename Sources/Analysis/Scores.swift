import Harness
/// Per-seed suite scores, shared by the tables and the claims.
///
/// The suite score (the headline average) is the mean over the suite's *headline* tasks of
/// each task's score (`TaskCatalog.score`). WNLI stays in the GLUE table but is left out of
/// the average, as the MoLEx and RoBERTa GLUE tables leave it out.
public enum Scores {
    /// Tasks shown in the tables but left out of the suite score.
    public static let outOfHeadline: Set<String> = ["wnli"]

    /// The tasks of `suite` present in `results` that enter the suite score, in table
    /// order (`TaskCatalog`).
    public static func headlineTasks(_ results: [CellResult], suite: String) -> [String] {
        let present = Set(results.filter { $0.suite == suite }.map(\.task))
        let ordered = (TaskCatalog.text + TaskCatalog.image + TaskCatalog.speech).map(\.name).filter(present.contains)
        let unknown = present.subtracting(ordered).sorted()
        return (ordered + unknown).filter { !outOfHeadline.contains($0) }
    }

    /// One sentence naming the tasks of the suite score, e.g. "Suite score: mean over CoLA,
    /// SST-2, … (8 tasks); WNLI is in the table but not in the average." Empty with no task.
    public static func headlineDescription(_ results: [CellResult], suite: String) -> String {
        let tasks = headlineTasks(results, suite: suite)
        guard !tasks.isEmpty else { return "" }
        func title(_ t: String) -> String { TaskCatalog.info(t)?.title ?? t }
        var s = "Suite score: mean over \(tasks.map(title).joined(separator: ", ")) (\(tasks.count) task\(tasks.count == 1 ? "" : "s")) of each task's score"
        s += " (the mean of its metrics in points; WER as 100 − WER)"
        let left = Set(results.filter { $0.suite == suite }.map(\.task)).intersection(outOfHeadline).sorted()
        if !left.isEmpty {
            s += "; \(left.map(title).joined(separator: ", ")) \(left.count == 1 ? "is" : "are") in the table but not in the average, as in the MoLEx and RoBERTa GLUE tables"
        }
        return s + "."
    }

    /// For each seed with a successful result on every headline task of the suite for
    /// `method`: the mean over those tasks of the task score, as a fraction. Seeds missing
    /// a headline task are left out (never averaged over fewer tasks).
    public static func suiteScores(_ results: [CellResult], suite: String, method: String) -> [Int: Double] {
        let rs = results.filter { $0.suite == suite && $0.method == method }
        let tasks = headlineTasks(results, suite: suite)
        var out: [Int: Double] = [:]
        for seed in Set(rs.map(\.seed)) {
            let scores = tasks.compactMap { t in
                rs.first { $0.task == t && $0.seed == seed && $0.isOK }.flatMap { TaskCatalog.score(task: t, metrics: $0.metrics) }
            }
            if scores.count == tasks.count, !scores.isEmpty { out[seed] = Stats.mean(scores) }
        }
        return out
    }

    /// Mean counted forward FLOPs per example of `method` over a suite's successful cells.
    public static func forwardFlops(_ results: [CellResult], suite: String, method: String) -> Double? {
        let v = results.filter { $0.suite == suite && $0.method == method && $0.isOK }.compactMap { $0.flops?.forwardPerExampleCounted }
        return v.isEmpty ? nil : Stats.mean(v)
    }

    public static func activeParams(_ results: [CellResult], suite: String, method: String) -> Double? {
        let v = results.filter { $0.suite == suite && $0.method == method && $0.isOK }.compactMap { $0.params?.active }
        return v.isEmpty ? nil : Stats.mean(v)
    }

    /// Mean total parameters of `method`'s successful results in `suite` (every expert
    /// counted, whether or not it is active for a token).
    public static func totalParams(_ results: [CellResult], suite: String, method: String) -> Double? {
        let v = results.filter { $0.suite == suite && $0.method == method && $0.isOK }.compactMap { $0.params.map { Double($0.total) } }
        return v.isEmpty ? nil : Stats.mean(v)
    }
}
