import Foundation

/// Trains and evaluates one cell. The harness's grid runner calls it for every cell that
/// has no cached result; it reports progress through `progress`.
public protocol CellRunner {
    /// Runs `cell` and returns its result. Throws for data errors (the cell is recorded as
    /// failed with the error as its reason); divergence is reported in the result itself.
    func run(_ cell: Cell, progress: (TrainingProgress) -> Void) throws -> CellResult
}

/// What a running cell reports for the terminal.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var loss: Double
    public var examplesPerSecond: Double

    public init(step: Int, totalSteps: Int, loss: Double, examplesPerSecond: Double) {
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.examplesPerSecond = examplesPerSecond
    }
}

/// Summary of one grid run.
public struct GridSummary: Equatable, Sendable {
    public var ran = 0
    public var cached = 0
    public var failed = 0
    public var skippedOtherShards = 0
}

/// Runs the cells of a grid: this shard's share, skipping cached cells, writing each result
/// atomically as soon as it finishes, recording failures and going on.
public struct GridRunner {
    public var resultsRoot: URL
    public var shard: Shard
    public var retryFailed: Bool
    public var log: (String) -> Void

    public init(resultsRoot: URL, shard: Shard = .all, retryFailed: Bool = false, log: @escaping (String) -> Void = { print($0) }) {
        self.resultsRoot = resultsRoot
        self.shard = shard
        self.retryFailed = retryFailed
        self.log = log
    }

    public func run(_ cells: [Cell], runner: CellRunner, environment: @autoclosure () -> EnvironmentRecord) -> GridSummary {
        var summary = GridSummary()
        let mine = cells.enumerated().filter { shard.contains($0.offset) }.map(\.element)
        summary.skippedOtherShards = cells.count - mine.count
        let todo = mine.filter { cell in
            guard let r = ResultStore.cached(cell, resultsRoot: resultsRoot) else { return true }
            return retryFailed && !r.isOK
        }
        summary.cached = mine.count - todo.count
        log("grid: \(cells.count) cells, shard \(shard): \(mine.count), cached \(summary.cached), to run \(todo.count)")
        let start = Date()
        for (i, cell) in todo.enumerated() {
            let cellStart = Date()
            var lastPrint = Date.distantPast
            let result: CellResult
            do {
                result = try runner.run(cell) { p in
                    let now = Date()
                    guard now.timeIntervalSince(lastPrint) >= 2 || p.step == p.totalSteps else { return }
                    lastPrint = now
                    let doneTime = now.timeIntervalSince(start)
                    let cellFrac = Double(p.step) / Double(max(p.totalSteps, 1))
                    let finished = Double(i) + cellFrac
                    let eta = finished > 0 ? doneTime / finished * (Double(todo.count) - finished) : 0
                    log(String(format: "[%d/%d] %@ step %d/%d loss %.4f %.0f ex/s, ETA %@", i + 1, todo.count, cell.id,
                               p.step, p.totalSteps, p.loss, p.examplesPerSecond, formatDuration(eta)))
                }
            } catch {
                result = failedResult(cell, reason: "\(error)", seconds: Date().timeIntervalSince(cellStart), environment: environment())
            }
            do {
                try ResultStore.write(result, to: cell.resultPath(in: resultsRoot))
            } catch {
                log("error: \(error)")
            }
            if result.isOK {
                summary.ran += 1
                log("[\(i + 1)/\(todo.count)] \(cell.id) done in \(formatDuration(result.wallSeconds)): " +
                    result.metrics.keys.sorted().map { String(format: "%@ %.4f", $0, result.metrics[$0]!) }.joined(separator: ", "))
            } else {
                summary.failed += 1
                log("[\(i + 1)/\(todo.count)] \(cell.id) FAILED: \(result.failure ?? "unknown")")
            }
        }
        return summary
    }

    func failedResult(_ cell: Cell, reason: String, seconds: Double, environment: EnvironmentRecord) -> CellResult {
        let c = cell.config
        return CellResult(suite: c.suite, task: c.task, method: c.method.label, seed: c.seed, tier: c.tier,
                          data: c.data == "real" ? "real" : "proxy", status: "failed", failure: reason, config: c,
                          configHash: c.hash, metrics: [:], flops: nil, params: nil, routing: [], byDifficulty: [:],
                          trainSteps: 0, finalTrainLoss: nil, wallSeconds: seconds, environment: environment,
                          finishedAt: ISO8601DateFormatter().string(from: Date()))
    }
}

public func formatDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}
