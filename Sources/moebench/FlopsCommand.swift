import ArgumentParser
import Data
import Foundation
import Analysis
import Harness
import Routing

/// `moebench flops`: analytic and engine-counted forward FLOPs per example, router FLOPs,
/// total and active parameters, per method, for a suite's model or for sizes given on the
/// command line. One forward pass per method on a random full-length batch (evaluation
/// mode) measures the data-dependent routing that the analytic count uses.
struct FlopsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flops",
        abstract: "Forward FLOPs per example (analytic and counted) and parameters per method.",
        discussion: """
            FLOPs count one multiply-add as 2 (MACs = FLOPs / 2), forward pass, per example. \
            With --suite, every method of the tier is measured on the suite's model; otherwise \
            --method (repeatable, default: every registered method) with the size options.
            """)

    @Option(name: .long, help: "A suite name (a file of --suites) or a suite file: measure its methods on its model.")
    var suite: String?

    @Option(name: .long, help: "Suites folder, where --suite NAME is looked up.")
    var suites = "Suites"

    @Option(name: .long, help: "The suite tier whose model and methods are used.")
    var tier: String = "smoke"

    @Option(name: .long, help: "A registered method (repeatable; default: all).")
    var method: [String] = []

    @Option(name: .long, help: "A method option key=value (repeatable; applies to every --method).")
    var option: [String] = []

    @Option(name: .long, help: "text, image or speech.")
    var modality: String = "text"

    @Option(name: .long, help: "Model width.") var d: Int = 64
    @Option(name: .long, help: "Blocks.") var depth: Int = 4
    @Option(name: .long, help: "Attention heads.") var heads: Int = 4
    @Option(name: .long, help: "FFN / expert hidden width.") var ffnHidden: Int = 256
    @Option(name: .long, help: "Every n-th block gets the method's FFN.") var moeEvery: Int = 1
    @Option(name: .long, help: "Text vocabulary size.") var vocabSize: Int = 4000
    @Option(name: .long, help: "Text classes (text; 0 = regression).") var classes: Int = 2
    @Option(name: .long, help: "Tokens per example (text) or frames (speech); default: the maximum length.")
    var length: Int?
    @Option(name: .long, help: "Maximum length (text tokens, speech frames).") var maxLength: Int = 64
    @Option(name: .long, help: "Examples in the measured batch.") var batch: Int = 8
    @Option(name: .long, help: "Seed of the weights and the random batch.") var seed: UInt64 = 1
    @Option(name: .long, help: "Task id (DLR's task embedding).") var taskId: Int = 0

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var engine: EngineOptions

    struct Row: Codable {
        var method: String
        var analytic_flops: Double
        var counted_flops: Double
        var router_flops: Double
        var total_params: Int
        var active_params: Int
        var unit: String
    }

    func run() throws {
        try engine.apply()
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        var entries: [(label: String, method: String, options: [String: OptionValue])] = []
        var config: ModelConfig
        if let suite {
            // A bare name is a suite of the suites folder; anything else is a file path.
            let file = suite.contains("/") || suite.hasSuffix(".yaml") ? suite : (suites as NSString).appendingPathComponent("\(suite).yaml")
            let s = try Suite.load(file: file, knownTasks: TaskCatalog.namesByModality,
                                   knownMethods: MethodRegistry.knownOptions)
            let t = try s.tier(tier)
            let kind = FrontEndKind(rawValue: s.modality.rawValue)!
            let m = t.model
            config = ModelConfig(frontEnd: kind,
                                 backbone: BackboneConfig(d: m.d, depth: m.depth, heads: m.heads, ffnHidden: m.ffnHidden,
                                                          dropout: m.dropout, moeEvery: m.moeEvery,
                                                          maxLength: kind == .image ? max(m.maxLength, 65) : m.maxLength),
                                 head: FlopsCommand.head(kind, task: t.tasks.first), vocabSize: m.vocabSize)
            for label in t.methods {
                let e = s.method(label)!
                entries.append((label, e.method, e.options))
            }
        } else {
            guard let kind = FrontEndKind(rawValue: modality) else {
                throw ValidationError("--modality must be text, image or speech, got '\(modality)'")
            }
            var options: [String: OptionValue] = [:]
            for o in option {
                let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--option must be key=value, got '\(o)'")
                }
                options[parts[0]] = FlopsCommand.parseValue(parts[1])
            }
            let head: HeadKind
            switch kind {
            case .text: head = classes == 0 ? .regression : .classification(classes: classes)
            case .image: head = .classification(classes: 100)
            case .speech: head = .ctc(vocabulary: CharVocabulary.standard.count)
            }
            config = ModelConfig(frontEnd: kind,
                                 backbone: BackboneConfig(d: d, depth: depth, heads: heads, ffnHidden: ffnHidden,
                                                          dropout: 0.1, moeEvery: moeEvery,
                                                          maxLength: kind == .image ? max(maxLength, 65) : maxLength),
                                 head: head, vocabSize: vocabSize)
            for name in method.isEmpty ? MethodRegistry.names : method {
                entries.append((name, name, options))
            }
        }
        try config.validate()
        let n = length ?? config.backbone.maxLength
        guard n >= 1, config.frontEnd == .image || n <= config.backbone.maxLength else {
            throw ValidationError("--length must be in 1...\(config.backbone.maxLength), got \(n)")
        }

        var rows: [Row] = []
        var reports: [FlopsReport] = []
        for e in entries {
            var rng = RNG(seed: seed)
            let model = try Model(config: config, method: e.method, options: e.options, rng: &rng)
            var inputRNG = RNG(seed: seed).split("input")
            let input = FlopsModel.syntheticInput(config: config, batchSize: batch, length: n, rng: &inputRNG)
            let r = try FlopsModel.measure(model: model, input: input, taskID: taskId)
            reports.append(r)
            rows.append(Row(method: e.label, analytic_flops: r.analytic.total, counted_flops: r.counted.total,
                            router_flops: r.analytic.router, total_params: r.totalParams, active_params: r.activeParams,
                            unit: "FLOPs per example, forward (1 multiply-add = 2 FLOPs)"))
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
            return
        }
        let b = config.backbone
        print("\(config.frontEnd.rawValue): d \(b.d), depth \(b.depth), heads \(b.heads), ffn_hidden \(b.ffnHidden), "
              + "moe_every \(b.moeEvery), length \(n), batch \(batch); forward FLOPs per example (MACs = FLOPs / 2)")
        let header = ["method", "analytic", "counted", "diff %", "router", "units", "total params", "active params"]
        var table = [header]
        for (row, r) in zip(rows, reports) {
            table.append([row.method, FlopsCommand.si(row.analytic_flops), FlopsCommand.si(row.counted_flops),
                          String(format: "%.3f", 100 * r.relativeDifference), FlopsCommand.si(row.router_flops),
                          String(format: "%.2f", r.meanUnits), "\(row.total_params)", "\(row.active_params)"])
        }
        let widths = (0..<header.count).map { c in table.map { $0[c].count }.max()! }
        for (i, line) in table.enumerated() {
            print(zip(line, widths).enumerated().map { k, p in
                k == 0 ? p.0.padding(toLength: p.1, withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: p.1 - p.0.count) + p.0
            }.joined(separator: "  "))
            if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        print("units: mean experts per token (FFN methods) or block evaluations per block (MoLEx, DLR)")
    }

    /// The head a suite task uses (its FLOPs enter the count).
    static func head(_ kind: FrontEndKind, task: String?) -> HeadKind {
        switch kind {
        case .text: return task == "stsb" ? .regression : .classification(classes: task == "mnli" ? 3 : 2)
        case .image: return .classification(classes: 100)
        case .speech: return .ctc(vocabulary: CharVocabulary.standard.count)
        }
    }

    static func parseValue(_ s: String) -> OptionValue {
        if s == "true" { return .bool(true) }
        if s == "false" { return .bool(false) }
        if let i = Int(s) { return .int(i) }
        if let d = Double(s) { return .double(d) }
        return .string(s)
    }

    static func si(_ x: Double) -> String {
        let units: [(Double, String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        for (v, u) in units where abs(x) >= v { return String(format: "%.3f%@", x / v, u) }
        return String(format: "%.0f", x)
    }
}
