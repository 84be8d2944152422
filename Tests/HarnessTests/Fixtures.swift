import Foundation
import Analysis
import Harness
import Routing

/// Small builders shared by the harness tests.
enum Fixture {
    static let methods: [String: Set<String>] = [
        "dense": ["hidden_scale"], "switch": ["experts", "capacity_factor_train"], "top2": ["experts"],
    ]

    static let suiteText = """
    suite: demo
    modality: text
    tasks: [sst2, rte]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32}
    methods:
      - {name: dense, method: dense}
      - {name: switch, method: switch, options: {experts: 4}}
    seeds: 2
    training: {steps: 10, batch_size: 4, lr: 0.001}
    tiers:
      smoke: {seeds: [1]}
      proxy: {training: {steps: 20}, task_training: {rte: {lr: 0.0005}}}
    """

    static func suite(_ text: String = suiteText) throws -> Suite {
        try Suite.parse(file: "demo.yaml", text: text, knownTasks: TaskCatalog.namesByModality, knownMethods: methods)
    }

    static func result(_ cell: Cell, metrics: [String: Double], flops: Double = 1e6, params: Int = 1000,
                       status: String = "ok") -> CellResult {
        let c = cell.config
        return CellResult(suite: c.suite, task: c.task, method: c.method.label, seed: c.seed, tier: c.tier,
                          data: c.data == "real" ? "real" : "proxy", status: status, failure: status == "ok" ? nil : "diverged",
                          config: c, configHash: c.hash, metrics: metrics,
                          flops: FlopsRecord(forwardPerExampleAnalytic: flops, forwardPerExampleCounted: flops,
                                             routerPerExample: 0, training: flops * 30),
                          params: ParamsRecord(total: params, active: Double(params)), routing: [], byDifficulty: [:],
                          trainSteps: 10, finalTrainLoss: 0.5, wallSeconds: 1,
                          environment: EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1,
                                                         cpu: "cpu", os: "linux"),
                          finishedAt: "2026-01-01T00:00:00Z")
    }

    static func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
