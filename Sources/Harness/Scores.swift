/// Per-seed suite scores, shared by the tables and the claims.
public enum Scores {
    /// For each seed with a successful result on every task present for `method`: the mean
    /// over tasks of the task score (`TaskCatalog.score`), as a fraction.
    public static func suiteScores(_ results: [CellResult], suite: String, method: String) -> [Int: Double] {
        let rs = results.filter { $0.suite == suite && $0.method == method }
        let tasks = Set(results.filter { $0.suite == suite }.map(\.task))
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
}
