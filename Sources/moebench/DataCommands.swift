import ArgumentParser
import Data
import Foundation

extension ProxyScale: ExpressibleByArgument {}

/// `moebench data`: write, inspect and verify datasets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Write the proxy datasets, inspect a dataset root, verify published downloads.",
        discussion: """
        Examples:
          moebench data proxy --out data/proxy
          moebench data proxy --out /tmp/tiny --scale smoke --seed 3
          moebench data inspect glue --root ~/datasets
          moebench data inspect librispeech --root data/proxy --json
          moebench data verify --root ~/datasets
        """,
        subcommands: [DataProxyCommand.self, DataInspectCommand.self, DataVerifyCommand.self]
    )
}

struct DataProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Write synthetic GLUE, CIFAR-100 and LibriSpeech in their published formats, with PROXY.md.")

    @Option(name: .long, help: "Dataset root folder to write.")
    var out: String

    @Option(name: .long, help: "Seed: the same seed and scale write the same bytes.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "smoke (tiny, seconds) or proxy (the benchmark default).")
    var scale: ProxyScale = .proxy

    func run() throws {
        let root = URL(fileURLWithPath: out, isDirectory: true)
        var started = Date()
        var current: String?
        try ProxyData.write(root: root, seed: seed, scale: scale) { name in
            if let current { print(String(format: "  %@ written in %.1f s", current, Date().timeIntervalSince(started))) }
            print("writing \(name) ...")
            current = name
            started = Date()
        }
        if let current { print(String(format: "  %@ written in %.1f s", current, Date().timeIntervalSince(started))) }
        print("proxy data (seed \(seed), scale \(scale.rawValue)) in \(root.path); see \(DatasetLayout.proxyMarkerFile(root).path)")
    }
}

struct DataInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Load every split of a dataset and report its size, label counts and load time.")

    enum Dataset: String, ExpressibleByArgument, CaseIterable {
        case glue, cifar100, librispeech
    }

    @Argument(help: "glue, cifar100 or librispeech.")
    var dataset: Dataset

    @Option(name: .long, help: "Dataset root folder (holding glue/, cifar-100-binary/, LibriSpeech/).")
    var root: String

    @Flag(name: .long, help: "Print JSON: {dataset, root, proxy, splits: {name: {examples, labels, range, skipped, speakers, seconds, decoded, absent}}}.")
    var json = false

    @Flag(name: .long, inversion: .prefixedNo,
          help: "LibriSpeech: decode every FLAC file, catching truncated and corrupt streams (default: only subsets of at most \(DataInspectCommand.decodeByDefaultUpTo) utterances).")
    var decode: Bool?

    /// Subsets up to this many utterances are decoded unless `--no-decode` is given.
    static let decodeByDefaultUpTo = 2000

    struct SplitReport: Codable {
        var examples: Int
        var labels: [String: Int]?
        /// STS-B: the smallest and largest gold score.
        var range: [Double]?
        var skipped: Int?
        /// LibriSpeech: distinct speakers and total audio seconds.
        var speakers: Int?
        var seconds: Double?
        /// LibriSpeech: whether every file was decoded (not only its STREAMINFO read).
        var decoded: Bool?
        /// GLUE: a test split that is not there (training never reads it).
        var absent: Bool?
    }

    struct Report: Codable {
        var dataset: String
        var root: String
        var proxy: Bool
        var splits: [String: SplitReport]
    }

    func run() throws {
        let rootURL = URL(fileURLWithPath: root, isDirectory: true)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: rootURL.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: rootURL.path, "dataset folder not found")
        }
        var splits: [(String, SplitReport)] = []
        switch dataset {
        case .glue:
            for task in GLUETask.allCases {
                for split in task.splits {
                    // Test files carry no labels and are never read by training: optional.
                    if task.testSplits.contains(split),
                       !FileManager.default.fileExists(atPath: GLUE.file(root: rootURL, task: task, split: split).path) {
                        splits.append(("\(task.rawValue)/\(split)", SplitReport(examples: 0, absent: true)))
                        continue
                    }
                    let s = try GLUE.load(root: rootURL, task: task, split: split)
                    var labels: [String: Int]?
                    var range: [Double]?
                    if s.hasLabels && task.isRegression {
                        let scores = s.examples.compactMap(\.score).map(Double.init)
                        if let lo = scores.min(), let hi = scores.max() { range = [lo, hi] }
                    }
                    if s.hasLabels && !task.isRegression {
                        var counts: [String: Int] = [:]
                        for name in task.labelNames { counts[name] = 0 }
                        for e in s.examples { counts[task.labelNames[e.label!], default: 0] += 1 }
                        labels = counts
                    }
                    splits.append(("\(task.rawValue)/\(split)",
                                   SplitReport(examples: s.count, labels: labels, range: range,
                                               skipped: task == .qqp ? s.skipped : nil)))
                }
            }
        case .cifar100:
            for split in ["train", "test"] {
                let s = try CIFAR100.load(root: rootURL, split: split)
                var counts: [String: Int] = [:]
                for f in s.fineLabels { counts[s.fineNames[f], default: 0] += 1 }
                splits.append((split, SplitReport(examples: s.count, labels: counts)))
            }
        case .librispeech:
            let base = DatasetLayout.librispeech(rootURL)
            var present = LibriSpeech.subsets.filter {
                FileManager.default.fileExists(atPath: base.appendingPathComponent($0).path)
            }
            // None there: scanning the first one reports where to get it.
            if present.isEmpty { present = [LibriSpeech.subsets[0]] }
            for subset in present {
                let u = try LibriSpeech.scan(root: rootURL, subset: subset)
                let decodeAll = decode ?? (u.count <= DataInspectCommand.decodeByDefaultUpTo)
                var seconds = 0.0
                for utt in u {
                    // STREAMINFO first: rate, channels and bit depth must be LibriSpeech's.
                    let format = try Flac.format(of: utt.audio)
                    guard format == .speech else {
                        throw DataError(file: utt.audio.path, "\(format): expected \(FlacFormat.speech) (LibriSpeech's format)")
                    }
                    if decodeAll {
                        // Decoding checks frame CRCs, the MD5 signature and the sample count.
                        seconds += Double(try Flac.decode(utt.audio).count) / Double(format.sampleRate)
                    } else {
                        seconds += try Flac.duration(of: utt.audio)
                    }
                }
                splits.append((subset, SplitReport(examples: u.count, speakers: Set(u.map(\.speaker)).count, seconds: seconds,
                                                   decoded: decodeAll)))
            }
        }
        let report = Report(dataset: dataset.rawValue, root: rootURL.path, proxy: DatasetLayout.isProxy(rootURL),
                            splits: Dictionary(uniqueKeysWithValues: splits))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(dataset.rawValue) at \(rootURL.path) (\(report.proxy ? "data: proxy" : "data: real"))")
        for (name, s) in splits {
            if s.absent == true {
                print(name.padding(toLength: 24, withPad: " ", startingAt: 0) + "  absent (optional: training never reads test files)")
                continue
            }
            var line = name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%8d examples", s.examples)
            if let skipped = s.skipped { line += "  \(skipped) skipped" }
            if let r = s.range { line += String(format: "  scores %.2f to %.2f", r[0], r[1]) }
            if let n = s.speakers { line += "  \(n) speakers" }
            if let sec = s.seconds { line += String(format: "  %.1f s of audio", sec) }
            if let d = s.decoded { line += d ? ", every file decoded" : ", headers only (--decode to decode)" }
            if let labels = s.labels, labels.count <= 10 {
                line += "  labels " + labels.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
            } else if let labels = s.labels {
                line += "  \(labels.count) labels, \(labels.values.min() ?? 0)-\(labels.values.max() ?? 0) each"
            }
            print(line)
        }
    }
}

struct DataVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check published downloads: CIFAR-100 and LibriSpeech (sizes, MD5s, counts), GLUE (row counts).")

    @Option(name: .long, help: "Dataset root folder.")
    var root: String

    @Flag(name: .long, help: "Check sizes and counts only, not MD5s.")
    var noMd5 = false

    func run() throws {
        let rootURL = URL(fileURLWithPath: root, isDirectory: true)
        let results = try Checksums.verify(root: rootURL, md5: !noMd5) + GLUE.verify(root: rootURL)
        for r in results { print(r) }
        let mismatches = results.filter { $0.status == .mismatch }
        if !mismatches.isEmpty {
            FileHandle.standardError.write(Data("\(mismatches.count) item(s) differ from the published data\n".utf8))
            throw ExitCode(1)
        }
    }
}
