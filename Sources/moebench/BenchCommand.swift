import ArgumentParser
import Foundation
import Data
import Analysis
import Harness
import Routing
import Tensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the engine in one process: raw sgemm, the tensor matmul, MoE layers against the dense FFN, training steps.",
        discussion: """
            Each benchmark runs warm-up iterations, then timed ones, and reports the median.
            Ratios (matmul_vs_sgemm, moe_vs_sgemm, dispatch_overhead) compare measurements of
            this run. Build with `swift build -c release` (or `make bench`): a debug build is refused.
            """)

    @OptionGroup var engine: EngineOptions
    @Flag(help: "One JSON object per benchmark, one per line.") var json = false
    @Option(help: "Run only the benchmarks whose name contains this text (sgemm and matmul always run: the ratios need them).")
    var filter: String?
    @Option(help: "Timed iterations of each MoE layer and training step.") var iterations = 10
    @Option(help: "Suites folder (for the training-step benchmarks).") var suites = "Suites"
    @Option(help: "Suite tier whose model the training-step benchmarks use.") var tier = "proxy"
    @Option(help: "Folder for generated proxy data.") var proxyData = "data"
    @Flag(help: "Run even in a debug build (numbers are then meaningless).") var allowDebug = false

    func run() throws {
        #if DEBUG
        if !allowDebug {
            throw ValidationError("this is a debug build: benchmark the release build (`swift build -c release`, then .build/release/moebench bench, or `make bench`)")
        }
        FileHandle.standardError.write("WARNING: debug build, the timings below are meaningless\n".data(using: .utf8)!)
        #endif
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        try engine.apply()
        let wanted = { (name: String) in filter.map { name.contains($0) } ?? true }
        if !json {
            print("moebench bench: threads \(EngineThreads.current), OpenBLAS \(EngineThreads.blasConfig), core \(EngineThreads.blasCore)")
        }
        let (raw, mm) = Bench.matmul()
        emit(raw)
        emit(mm)
        for c in Bench.moeConfigs {
            let name = "moe_T\(c.T)_d\(c.d)_h\(c.h)_E\(c.E)_k\(c.k)"
            guard wanted(name) else { continue }
            emit(try Bench.moeLayer(T: c.T, d: c.d, h: c.h, E: c.E, k: c.k,
                                    iterations: c.T * c.h > 4096 * 1024 ? max(3, iterations / 2) : iterations))
        }
        let suiteList = try loadSuites(suites, name: "all")
        let env = RunEnvironment.capture()
        let trainer = Trainer(dataDir: URL(fileURLWithPath: proxyData), realData: nil,
                              resultsRoot: URL(fileURLWithPath: ".build/bench-scratch"), environment: env,
                              log: { if !json { print($0) } })
        for s in suiteList where s.tiers[tier] != nil {
            // A tier that reads the real datasets is timed on the proxy data of the same
            // format (the step's cost depends on the model and batch shapes, not the labels).
            let cells = try expandGrid(suite: s, tierName: tier, seedCount: 1).map { c -> Cell in
                var c = c
                if c.config.data == "real" { c.config.data = ProxyScale.proxy.rawValue }
                return c
            }
            // The first task of the tier, every method.
            guard let firstTask = cells.first?.config.task else { continue }
            for cell in cells where cell.config.task == firstTask {
                guard wanted("step_\(s.name)_\(cell.config.method.label)") else { continue }
                emit(try Bench.trainingStep(cell: cell, trainer: trainer, iterations: iterations))
            }
        }
    }

    func emit(_ r: Bench.Record) {
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            if let d = try? e.encode(r), let line = String(data: d, encoding: .utf8) { print(line) }
            return
        }
        func f(_ v: Double?, _ digits: Int = 2) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        var line = "\(r.name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(f(r.ms)) ms"
        if let g = r.gflops { line += "  \(f(g, 1)) GFLOP/s" }
        if let m = r.matmul_vs_sgemm { line += "  matmul/sgemm \(f(m, 3))" }
        if let t = r.tokens_per_s { line += "  \(Int(t)) tokens/s" }
        if let m = r.moe_vs_sgemm { line += "  moe/sgemm \(f(m, 3))" }
        if let o = r.dispatch_overhead { line += "  dense \(f(r.dense_ms)) ms  moe/dense \(f(o, 3))" }
        if let e = r.examples_per_s { line += "  \(Int(e)) ex/s  held \(f(r.held_mb, 1)) MB  peak \(f(r.peak_mb, 1)) MB (\(f(r.peak_vs_held, 2))x)" }
        print(line)
    }
}
