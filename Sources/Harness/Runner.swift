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
    /// Cells run to an ok result by this process.
    public var ran = 0
    /// Cells whose ok result of this configuration and code fingerprint was reused (and,
    /// with `keepStale`, stale ones kept).
    public var cached = 0
    /// Cells run by this process that failed (including results that could not be written).
    public var failed = 0
    /// Cells whose failed result was kept (`retryFailed` off): still failures.
    public var cachedFailed = 0
    /// Cells with a result of this configuration from other code (another fingerprint).
    public var stale = 0
    /// The commits of the stale results, for the summary.
    public var staleCommits: [String] = []
    /// Of `stale`, the ones kept (`keepStale`) rather than re-run.
    public var keptStale = 0
    /// Cells another live process was running (its lock held): left to it.
    public var lockedElsewhere = 0
    /// Cells another process finished during this run (after this one's scan).
    public var finishedElsewhere = 0
    public var skippedOtherShards = 0

    public init() {}

    /// Any cell of this run's share of the grid is failed.
    public var hasFailures: Bool { failed > 0 || cachedFailed > 0 }

    /// "N stale from commit X" (or "from commits X, Y").
    public var staleDescription: String {
        guard stale > 0 else { return "0 stale" }
        let commits = staleCommits.isEmpty ? "" : " from commit\(staleCommits.count > 1 ? "s" : "") \(staleCommits.joined(separator: ", "))"
        return "\(stale) stale\(commits)"
    }
}

/// What the results folder holds for one cell, seen by the running build.
public enum CachedState: Equatable {
    /// No result of this configuration.
    case missing
    /// A result of this configuration and this build's code fingerprint.
    case current(CellResult)
    /// A result of this configuration made by other code (or before fingerprints).
    case stale(CellResult)
}

/// Runs the cells of a grid: this shard's share, skipping cached cells, writing each result
/// atomically as soon as it finishes, recording failures and going on.
///
/// The cache is honest: a result is reused only when its configuration hash and its code
/// fingerprint match the running build. Results of other code are stale and re-run, unless
/// `keepStale`. `force` re-runs every cell. Failed results are re-run unless `retryFailed`
/// is off (then they are counted as failures). Each cell runs under a lock file beside its
/// result (`.<cell>.lock`, holding pid and host), so several processes or shards on one
/// results folder split the cells between them.
public struct GridRunner {
    public var resultsRoot: URL
    public var shard: Shard
    public var retryFailed: Bool
    public var keepStale: Bool
    public var force: Bool
    /// The fingerprint of the code that runs the cells; nil (the default): the running
    /// binary's for each cell's tier (`Build.fingerprint(tier:)`).
    public var fingerprint: String?
    public var log: (String) -> Void
    /// Called between steps and between cells; returning false stops the run at once
    /// (used by `--jobs` workers whose parent is gone).
    public var shouldContinue: () -> Bool = { true }
    /// When the run started (now, unless a `--jobs` parent passes its own): a result
    /// written since by another process is never run again in this run, forced or not.
    public var startedAt: Date?

    public init(resultsRoot: URL, shard: Shard = .all, retryFailed: Bool = true, keepStale: Bool = false, force: Bool = false,
                fingerprint: String? = nil, log: @escaping (String) -> Void = { print($0) }) {
        self.resultsRoot = resultsRoot
        self.shard = shard
        self.retryFailed = retryFailed
        self.keepStale = keepStale
        self.force = force
        self.fingerprint = fingerprint
        self.log = log
    }

    public func state(_ cell: Cell) -> CachedState {
        guard let r = ResultStore.cached(cell, resultsRoot: resultsRoot) else { return .missing }
        return r.environment.codeFingerprint == fingerprint(cell) ? .current(r) : .stale(r)
    }

    /// The fingerprint a result of `cell` must carry to be reused, and that a new one records.
    public func fingerprint(_ cell: Cell) -> String {
        fingerprint ?? Build.fingerprint(tier: cell.config.tier)
    }

    public enum Decision { case reuse, reuseFailed, run }

    public func decide(_ state: CachedState) -> Decision {
        if force { return .run }
        switch state {
        case .missing: return .run
        case .current(let r): return r.isOK ? .reuse : (retryFailed ? .run : .reuseFailed)
        case .stale(let r):
            guard keepStale else { return .run }
            return r.isOK ? .reuse : (retryFailed ? .run : .reuseFailed)
        }
    }

    func writtenSince(_ date: Date, _ path: URL) -> Bool {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path.path),
              let m = attrs[.modificationDate] as? Date else { return false }
        return m >= date
    }

    public func run(_ cells: [Cell], runner: CellRunner, environment: @autoclosure () -> EnvironmentRecord) -> GridSummary {
        let t0 = startedAt ?? Date()
        var summary = GridSummary()
        let mine = cells.enumerated().filter { shard.contains($0.offset) }.map(\.element)
        summary.skippedOtherShards = cells.count - mine.count
        var todo: [Cell] = []
        var staleCommits: [String: Int] = [:]
        for cell in mine {
            let st = state(cell)
            if case .stale(let r) = st {
                summary.stale += 1
                staleCommits[r.environment.gitCommit, default: 0] += 1
                if keepStale && !force { summary.keptStale += 1 }
            }
            switch decide(st) {
            case .reuse: summary.cached += 1
            case .reuseFailed: summary.cachedFailed += 1
            case .run: todo.append(cell)
            }
        }
        summary.staleCommits = staleCommits.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        let staleNote = summary.stale == 0 ? "" :
            ", \(summary.staleDescription) (\(force ? "forced" : keepStale ? "kept: --keep-stale" : "re-run"))"
        let failedNote = summary.cachedFailed == 0 ? "" : ", \(summary.cachedFailed) failed (kept)"
        log("grid: \(cells.count) cells, shard \(shard): \(mine.count), cached \(summary.cached)\(staleNote)\(failedNote), to run \(todo.count)\(force ? " (--force)" : "")")
        let start = Date()
        var done = 0
        for (i, cell) in todo.enumerated() {
            guard shouldContinue() else { break }
            let lockURL = CellLock.url(for: cell, in: resultsRoot)
            let lock: CellLock
            do {
                switch try CellLock.acquire(lockURL) {
                case .acquired(let l): lock = l
                case .held(let holder):
                    summary.lockedElsewhere += 1
                    log("[\(i + 1)/\(todo.count)] \(cell.id): running in another process (\(holder)), left to it")
                    continue
                }
            } catch {
                summary.failed += 1
                log("[\(i + 1)/\(todo.count)] \(cell.id) FAILED: \(error)")
                continue
            }
            defer { lock.release() }
            // Another process may have finished it since the scan.
            if writtenSince(t0, cell.resultPath(in: resultsRoot)) {
                summary.finishedElsewhere += 1
                log("[\(i + 1)/\(todo.count)] \(cell.id): finished by another process during this run")
                continue
            }
            let cellStart = Date()
            var lastPrint = Date.distantPast
            var result: CellResult
            do {
                result = try runner.run(cell) { p in
                    if !shouldContinue() { exit(3) }
                    let now = Date()
                    guard now.timeIntervalSince(lastPrint) >= 2 || p.step == p.totalSteps else { return }
                    lastPrint = now
                    let doneTime = now.timeIntervalSince(start)
                    let cellFrac = Double(p.step) / Double(max(p.totalSteps, 1))
                    let finished = Double(done) + cellFrac
                    let eta = finished > 0 ? doneTime / finished * (Double(todo.count - i + done) - finished) : 0
                    log(String(format: "[%d/%d] %@ step %d/%d loss %.4f %.0f ex/s, ETA %@", i + 1, todo.count, cell.id,
                               p.step, p.totalSteps, p.loss, p.examplesPerSecond, formatDuration(eta)))
                }
            } catch {
                result = failedResult(cell, reason: "\(error)", seconds: Date().timeIntervalSince(cellStart), environment: environment())
            }
            done += 1
            // The result is of this build's code, whatever the runner recorded.
            result.environment.codeFingerprint = fingerprint(cell)
            let path = cell.resultPath(in: resultsRoot)
            do {
                try ResultStore.write(result, to: path)
            } catch {
                summary.failed += 1
                log("[\(i + 1)/\(todo.count)] \(cell.id) FAILED: its result cannot be written: \(error)")
                continue
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
        var env = environment
        env.codeFingerprint = fingerprint(cell)  // a failure of this build, retried by a rerun
        return CellResult(suite: c.suite, task: c.task, method: c.method.label, seed: c.seed, tier: c.tier,
                          data: c.data == "real" ? "real" : "proxy", status: "failed", failure: reason, config: c,
                          configHash: c.hash, metrics: [:], flops: nil, params: nil, routing: [], byDifficulty: [:],
                          trainSteps: 0, finalTrainLoss: nil, wallSeconds: seconds, environment: env,
                          finishedAt: ISO8601DateFormatter().string(from: Date()))
    }
}

/// A cell's lock: `.<task>__<method>__s<seed>.lock` beside its result, created exclusively
/// (a hard link of a finished temporary file, so it never exists half-written) and holding
/// "pid host". A lock of this host whose process is gone is taken over; a lock of another
/// host is respected (its liveness cannot be checked from here).
public struct CellLock {
    public let url: URL
    let content: String

    public enum Outcome {
        case acquired(CellLock)
        /// Held by a live process: "pid P on HOST".
        case held(String)
    }

    public static func url(for cell: Cell, in resultsRoot: URL) -> URL {
        let r = cell.resultPath(in: resultsRoot)
        return r.deletingLastPathComponent().appendingPathComponent(".\(cell.id).lock")
    }

    /// The holder of a lock file's text, when it is a live process (nil: gone or unreadable).
    static func liveHolder(_ text: String, host: String) -> String? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2, let pid = Int32(parts[0]) else { return nil }
        let lockHost = parts[1...].joined(separator: " ")
        if lockHost != host { return "pid \(pid) on \(lockHost)" }
        if pid == getpid() { return nil }
        guard kill(pid, 0) == 0 || errno == EPERM else { return nil }
        // A zombie (killed, not yet reaped) is gone too.
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")"),
           stat[stat.index(after: close)...].split(separator: " ").first == "Z" { return nil }
        return "pid \(pid)"
    }

    public static func acquire(_ url: URL) throws -> Outcome {
        let host = RunEnvironment.hostName
        let content = "\(getpid()) \(host)\n"
        let dir = url.deletingLastPathComponent()
        try makeDirectory(dir)
        let tmp = dir.appendingPathComponent("\(url.lastPathComponent).tmp-\(getpid())")
        try writeFile(Data(content.utf8), to: tmp, sync: false)
        defer { unlink(tmp.path) }
        for _ in 0..<5 {
            if link(tmp.path, url.path) == 0 { return .acquired(CellLock(url: url, content: content)) }
            let err = errno
            guard err == EEXIST else {
                throw HarnessError("\(url.path): cannot create the cell's lock file: \(String(cString: strerror(err)))")
            }
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }  // released meanwhile
            if let holder = liveHolder(text, host: host) { return .held(holder) }
            // Its process is gone: take it over. Renaming it away succeeds for one taker only.
            let aside = dir.appendingPathComponent("\(url.lastPathComponent).gone-\(getpid())")
            if rename(url.path, aside.path) == 0 { unlink(aside.path) }
        }
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? "?"
        return .held(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the lock if it is still this process's.
    public func release() {
        if let text = try? String(contentsOf: url, encoding: .utf8), text == content { unlink(url.path) }
    }
}

public func formatDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}
