import Foundation
import Routing

/// Forward and training FLOPs of one cell.
public struct FlopsRecord: Codable, Equatable, Sendable {
    /// Analytic forward FLOPs per example (the method's formula; data-dependent methods
    /// use the measured mean number of experts or blocks).
    public var forwardPerExampleAnalytic: Double
    /// The engine's counted forward FLOPs per example over the evaluation set.
    public var forwardPerExampleCounted: Double
    /// Router FLOPs per example (counted), included in the forward figures.
    public var routerPerExample: Double
    /// Counted FLOPs of the whole training run (forward + backward).
    public var training: Double

    public init(forwardPerExampleAnalytic: Double, forwardPerExampleCounted: Double, routerPerExample: Double, training: Double) {
        self.forwardPerExampleAnalytic = forwardPerExampleAnalytic
        self.forwardPerExampleCounted = forwardPerExampleCounted
        self.routerPerExample = routerPerExample
        self.training = training
    }
}

public struct ParamsRecord: Codable, Equatable, Sendable {
    public var total: Int
    /// Parameters used per example (experts not chosen excluded).
    public var active: Double

    public init(total: Int, active: Double) {
        self.total = total
        self.active = active
    }
}

/// Where and how a result was produced. The fields after `os` are absent from results made
/// before builds embedded their provenance (such results count as stale).
public struct EnvironmentRecord: Codable, Equatable, Sendable {
    /// The commit of the binary that ran (12 hex digits, "-dirty" for a dirty build).
    public var gitCommit: String
    /// The compiler that built it (`swiftc --version`, first line).
    public var swiftVersion: String
    public var blas: String
    public var threads: Int
    public var cpu: String
    public var os: String
    /// The binary's code fingerprint (`moebench --version`): the cache reuses a result only
    /// under the same fingerprint.
    public var codeFingerprint: String?
    /// The OpenBLAS kernel family that ran (SkylakeX, Haswell, …): results are bit-identical
    /// across machines of the same kind at the same thread count.
    public var cpuKind: String?
    /// "release" or "debug".
    public var build: String?
    public var host: String?

    public init(gitCommit: String, swiftVersion: String, blas: String, threads: Int, cpu: String, os: String,
                codeFingerprint: String? = nil, cpuKind: String? = nil, build: String? = nil, host: String? = nil) {
        self.gitCommit = gitCommit
        self.swiftVersion = swiftVersion
        self.blas = blas
        self.threads = threads
        self.cpu = cpu
        self.os = os
        self.codeFingerprint = codeFingerprint
        self.cpuKind = cpuKind
        self.build = build
        self.host = host
    }

    /// The kernel family, from `cpuKind` or, for older results, from the BLAS line's "(core)".
    public var kernelKind: String {
        if let cpuKind { return cpuKind }
        if let open = blas.lastIndex(of: "("), blas.hasSuffix(")") {
            return String(blas[blas.index(after: open)..<blas.index(before: blas.endIndex)])
        }
        return "unknown"
    }
}

/// Accuracy-like metric and routing per proxy difficulty level.
public struct DifficultyRecord: Codable, Equatable, Sendable {
    public var examples: Int
    /// The task's primary metric restricted to this level (accuracy for classification).
    public var metric: Double
    /// Mean experts (blocks) chosen per token (sequence), over routed layers.
    public var meanChosen: Double

    public init(examples: Int, metric: Double, meanChosen: Double) {
        self.examples = examples
        self.metric = metric
        self.meanChosen = meanChosen
    }
}

/// One cell's result: the unit the reports are rendered from.
public struct CellResult: Codable, Equatable, Sendable {
    public var suite: String
    public var task: String
    public var method: String
    public var seed: Int
    public var tier: String
    /// "proxy" or "real".
    public var data: String
    /// "ok" or "failed".
    public var status: String
    public var failure: String?
    public var config: CellConfig
    public var configHash: String
    /// The task's official metrics on its dev split(s), by name.
    public var metrics: [String: Double]
    public var flops: FlopsRecord?
    public var params: ParamsRecord?
    /// Per routed layer, over the evaluation set.
    public var routing: [LayerStats]
    public var byDifficulty: [String: DifficultyRecord]
    public var trainSteps: Int
    public var finalTrainLoss: Double?
    public var wallSeconds: Double
    public var environment: EnvironmentRecord
    public var finishedAt: String
    /// The learning curve (training loss per twentieth of the run, the primary metric at
    /// three points); nil in results written before it was recorded.
    public var curve: LossCurve? = nil

    /// Routing per (difficulty level, input-length bin) of the evaluation sets, for the
    /// length-controlled difficulty claim (`DifficultyTrend`); nil for results made before it
    /// was recorded, for real data and for models without routed layers.
    public var routingByLevelLength: [LevelLengthRouting]? = nil

    /// Expert specialization on the evaluation set (normalised mutual information between
    /// each routed layer's top-1 expert and the token's label, and the top-1 load balance;
    /// see `SpecializationRecord`); nil for dense, block mixers (MoLEx, DLR), the pretrained
    /// track and results made before it was recorded.
    public var specialization: SpecializationRecord? = nil

    /// The pretrained tier: the fine-tuned encoder's own shape and a checksum of its folder
    /// (the cell's `config.model` is the suite's from-scratch spec, of which the pretrained
    /// tier reads only `max_length`); nil elsewhere.
    public var encoder: EncoderRecord? = nil

    /// Metrics on the shifted evaluation sets and on the same subset of the clean set
    /// (`ShiftedEval`); nil when the tier's `shifted_eval` is off and in older results.
    public var shifted: ShiftedRecord? = nil

    public var isOK: Bool { status == "ok" }

    /// Mean experts (blocks) chosen per token (sequence) over the routed layers.
    public var meanChosen: Double? {
        guard !routing.isEmpty else { return nil }
        return routing.map(\.meanChosen).reduce(0, +) / Double(routing.count)
    }

    public init(suite: String, task: String, method: String, seed: Int, tier: String, data: String, status: String, failure: String?, config: CellConfig, configHash: String, metrics: [String: Double], flops: FlopsRecord?, params: ParamsRecord?, routing: [LayerStats], byDifficulty: [String: DifficultyRecord], trainSteps: Int, finalTrainLoss: Double?, wallSeconds: Double, environment: EnvironmentRecord, finishedAt: String) {
        self.suite = suite
        self.task = task
        self.method = method
        self.seed = seed
        self.tier = tier
        self.data = data
        self.status = status
        self.failure = failure
        self.config = config
        self.configHash = configHash
        self.metrics = metrics
        self.flops = flops
        self.params = params
        self.routing = routing
        self.byDifficulty = byDifficulty
        self.trainSteps = trainSteps
        self.finalTrainLoss = finalTrainLoss
        self.wallSeconds = wallSeconds
        self.environment = environment
        self.finishedAt = finishedAt
    }
}

/// Reads and writes result files. Writes are atomic (a temporary file in the same folder,
/// then a rename), so a killed run never leaves a partial result.
public enum ResultStore {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    public static func write(_ result: CellResult, to url: URL) throws {
        let data = try encoder().encode(result)
        try atomicWrite(data, to: url)
    }

    public static func read(_ url: URL) throws -> CellResult {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw HarnessError("\(url.path): cannot read the result file: \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(CellResult.self, from: data) } catch {
            throw HarnessError("\(url.path): not a moebench result file: \(error)")
        }
    }

    /// The stored result for `cell` when its configuration hash matches, else nil (whatever
    /// code made it: `GridRunner.state` tells current from stale).
    public static func cached(_ cell: Cell, resultsRoot: URL) -> CellResult? {
        let url = cell.resultPath(in: resultsRoot)
        guard FileManager.default.fileExists(atPath: url.path),
              let r = try? read(url), r.configHash == cell.config.hash else { return nil }
        return r
    }

    /// Every result file under `root` (recursively), sorted by path. Unreadable files are
    /// errors that name the file.
    public static func all(under root: URL) throws -> [CellResult] {
        try resultFiles(under: root).map(read)
    }

    public static func resultFiles(under root: URL) -> [URL] {
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var urls: [URL] = []
        for case let u as URL in e where u.pathExtension == "json" && u.lastPathComponent.contains("__s") {
            urls.append(u)
        }
        return urls.sorted { $0.path < $1.path }
    }
}

/// Writes `data` to `url` atomically: a temporary file beside it, flushed, then renamed.
/// Errors name the file and the operating system's reason (permission denied, no space
/// left on device, …).
public func atomicWrite(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try makeDirectory(dir)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do { try writeFile(data, to: tmp, sync: true) } catch {
        unlink(tmp.path)
        throw error
    }
    guard rename(tmp.path, url.path) == 0 else {
        let err = String(cString: strerror(errno))
        unlink(tmp.path)
        throw HarnessError("\(url.path): cannot move the finished file into place: \(err)")
    }
}

/// Creates `dir` and its parents; the error names the folder and the reason.
func makeDirectory(_ dir: URL) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue { return }
    let parent = dir.deletingLastPathComponent()
    if parent.path != dir.path, parent.path != "/" { try makeDirectory(parent) }
    if mkdir(dir.path, 0o755) != 0 {
        let err = errno
        if err == EEXIST, FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue { return }
        throw HarnessError("\(dir.path): cannot create the folder: \(String(cString: strerror(err == EEXIST ? ENOTDIR : err)))")
    }
}

/// Writes `data` to a new file `url` with write(2), checking every call (a full disk fails
/// here, or at fsync/close, with the reason).
func writeFile(_ data: Data, to url: URL, sync: Bool) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw HarnessError("\(url.path): cannot create: \(String(cString: strerror(errno)))") }
    var failure: String?
    data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno)); return
            }
            off += n
        }
    }
    if failure == nil, sync, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
    if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
    if let failure { throw HarnessError("\(url.path): cannot write: \(failure)") }
}

/// What `mergeResults` did: files copied in, files already present with the same
/// numbers, and failed results in the destination replaced by an ok result.
public struct MergeSummary: Equatable, Sendable {
    public var copied = 0
    public var identical = 0
    public var replacedFailed = 0
}

/// Gathers result files from several folders into one (e.g. one per shard).
///
/// Every source file (and every destination file it meets) is read and checked before
/// anything is copied, so a corrupt source copies nothing. For each cell: an ok result
/// beats a failed one (in a source or in the destination); two ok results with the same
/// configuration hash and different numbers are a conflict; the same cell with different
/// configuration hashes is an error. Conflicts and errors are all listed in one thrown
/// error, and then nothing is copied.
@discardableResult
public func mergeResults(sources: [URL], into dest: URL) throws -> MergeSummary {
    let fm = FileManager.default
    var problems: [String] = []
    // Every candidate per target path, in source order, with the file it came from.
    var candidates: [String: [(file: URL, result: CellResult)]] = [:]
    var order: [String] = []
    for src in sources {
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: src.path, isDirectory: &isDir), isDir.boolValue else {
            problems.append("\(src.path): no such results folder")
            continue
        }
        for file in ResultStore.resultFiles(under: src) {
            do {
                let r = try ResultStore.read(file)
                let target = Cell(config: r.config).resultPath(in: dest).standardizedFileURL.path
                if candidates[target] == nil { order.append(target) }
                candidates[target, default: []].append((file, r))
            } catch {
                problems.append("\(error)")
            }
        }
    }
    var plan: [(target: URL, result: CellResult, replacesFailed: Bool)] = []
    var summary = MergeSummary()
    for target in order {
        let targetURL = URL(fileURLWithPath: target)
        var all = candidates[target]!
        var existing: CellResult?
        if fm.fileExists(atPath: target) {
            do {
                existing = try ResultStore.read(targetURL)
                all.insert((targetURL, existing!), at: 0)
            } catch {
                problems.append("\(error)")
                continue
            }
        }
        let first = all[0]
        if let other = all.first(where: { $0.result.configHash != first.result.configHash }) {
            problems.append("\(first.file.path) and \(other.file.path) hold the same cell (\(Cell(config: first.result.config).id)) with different configurations (\(first.result.configHash) vs \(other.result.configHash))")
            continue
        }
        let oks = all.filter { $0.result.isOK }
        if let a = oks.first, let b = oks.dropFirst().first(where: { !sameNumbers($0.result, a.result) }) {
            problems.append("conflict: \(a.file.path) and \(b.file.path) are ok results of the same cell (\(Cell(config: a.result.config).id)) and configuration (\(a.result.configHash)) with different numbers")
            continue
        }
        let winner = oks.first ?? all[0]
        if let existing {
            if existing.isOK || !winner.result.isOK {
                summary.identical += all.count - 1
            } else {
                plan.append((targetURL, winner.result, true))
                summary.replacedFailed += 1
                summary.identical += all.count - 2
            }
        } else {
            plan.append((targetURL, winner.result, false))
            summary.copied += 1
            summary.identical += all.count - 1
        }
    }
    if !problems.isEmpty {
        throw HarnessError("merge: nothing copied; \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n  "
                           + problems.joined(separator: "\n  "))
    }
    for p in plan { try ResultStore.write(p.result, to: p.target) }
    return summary
}

/// Whether two results hold the same numbers (everything but when, where and how long).
func sameNumbers(_ a: CellResult, _ b: CellResult) -> Bool {
    func strip(_ r: CellResult) -> CellResult {
        var r = r
        r.wallSeconds = 0
        r.finishedAt = ""
        r.environment = EnvironmentRecord(gitCommit: "", swiftVersion: "", blas: "", threads: 0, cpu: "", os: "")
        return r
    }
    return strip(a) == strip(b)
}

/// The pretrained encoder a result fine-tuned: its `config.json` shape and an MD5 over its
/// files (`md5(config.json) md5(model.safetensors) md5(vocab.txt)`, joined by spaces, hashed
/// again), to tell two model folders apart.
public struct EncoderRecord: Codable, Equatable, Sendable {
    public var folder: String
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var intermediate: Int
    public var vocabSize: Int
    public var maxPositions: Int
    /// Parameters of the encoder as loaded (embeddings and layers, without task heads).
    public var parameters: Int
    public var checksum: String

    public init(folder: String, layers: Int, hidden: Int, heads: Int, intermediate: Int, vocabSize: Int,
                maxPositions: Int, parameters: Int, checksum: String) {
        self.folder = folder
        self.layers = layers
        self.hidden = hidden
        self.heads = heads
        self.intermediate = intermediate
        self.vocabSize = vocabSize
        self.maxPositions = maxPositions
        self.parameters = parameters
        self.checksum = checksum
    }
}
