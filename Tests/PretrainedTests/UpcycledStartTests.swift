import Data
import Foundation
import Harness
import NN
import Pretrained
import Routing
import Tensor
import XCTest

/// Sparse upcycling that keeps the pretrained function: at step 0, switch, top2 and topp
/// with renormalised gates (and no capacity drops) compute what the pretrained encoder
/// computes; the tier's method options and parameter groups read from a suite file.
final class UpcycledStartTests: XCTestCase {
    let rows: [[Int]] = [[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 2023, 2003, 102], [101, 1996, 4937, 2938, 2006, 1996, 102]]

    func testUpcycledMethodsStartAsThePretrainedEncoder() throws {
        let dir = try pretrainedDirectory()
        let input = BertInput(ids: rows, padID: 0)
        var r0 = RNG(seed: 9)
        let dense = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 3, method: "dense", rng: &r0)
        let reference = dense.predict(input).logits.scalars
        for (method, opts) in [("switch", ["renormalize": OptionValue.bool(true), "dropless": .bool(true)]),
                               ("top2", ["renormalize": .bool(true), "dropless": .bool(true)]),
                               ("topp", ["renormalize": .bool(true)])] {
            var r = RNG(seed: 9)
            let m = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 3, method: method,
                                                   options: opts.merging(["experts": .int(8)]) { $1 }, rng: &r)
            let out = m.predict(input).logits.scalars
            XCTAssertEqual(out.count, reference.count)
            for (a, b) in zip(out, reference) { XCTAssertEqual(a, b, accuracy: 1e-5, method) }
        }
        // Without renormalisation Switch's raw gate (about 1/8) scales every FFN: not the encoder.
        var r = RNG(seed: 9)
        let raw = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 3, method: "switch",
                                                 options: ["dropless": .bool(true)], rng: &r)
        let diff = zip(raw.predict(input).logits.scalars, reference).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(diff, 1e-3)
    }

    func testParameterGroupsFindTheGateAndTheExperts() throws {
        let config = BertConfig(vocabSize: 12, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 16, maxPositions: 8)
        var r1 = RNG(seed: 1), r2 = RNG(seed: 1)
        let molex = try RoutedPretrainedClassifier(encoder: BertEncoder(config: config, rng: &r1), outputs: 2, method: "molex",
                                                   options: ["gate_bias": .bool(true)], rng: &r1)
        let sw = try RoutedPretrainedClassifier(encoder: BertEncoder(config: config, rng: &r2), outputs: 2, method: "switch", rng: &r2)
        let groups = [ParameterGroup(name: "gate", prefixes: ["mixer."], lr: 0.1, weightDecay: 0.1),
                      ParameterGroup(name: "router", contains: [".router"], lr: 1e-3),
                      ParameterGroup(name: "experts", prefixes: ["upcycled."], lr: 5e-5)]
        let mNames = molex.namedParameters().map(\.0)
        let mGroups = ParameterGroup.assign(groups, names: mNames)
        XCTAssertEqual(Set(zip(mNames, mGroups).filter { $0.1 == 0 }.map(\.0)), ["mixer.gates.0", "mixer.gateBiases.0"])
        let sNames = sw.namedParameters().map(\.0)
        let sGroups = ParameterGroup.assign(groups, names: sNames)
        XCTAssertEqual(zip(sNames, sGroups).filter { $0.1 == 1 }.map(\.0), ["upcycled.0.router", "upcycled.1.router"])
        XCTAssertEqual(zip(sNames, sGroups).filter { $0.1 == 2 }.count, 2 * 4)
        XCTAssertTrue(zip(sNames, sGroups).contains { $0.1 == nil })   // adapters and head: the default group
    }

    func testTierMethodOptionsAndParameterGroupsFromASuite() throws {
        let text = """
        suite: g
        modality: text
        tasks: [rte, mrpc]
        methods:
          - {name: dense, method: dense}
          - {name: switch, method: switch, options: {experts: 8}}
          - {name: molex, method: molex}
        tiers:
          proxy:
            seeds: [1]
          pretrained:
            seeds: [1]
            method_options:
              switch: {renormalize: true, dropless: true}
              molex: {a: 0.5, gate_bias: true, granularity: batch, balance_weight: 0.001}
            task_method_options:
              mrpc: {molex: {learnable_a: true, a_per_block: false, balance_weight: 0}}
            param_groups:
              - {name: gate, prefixes: [mixer.], lr: 0.1, weight_decay: 0.1}
              - {name: experts, prefixes: [upcycled.], lr: 0.00005}

        """
        let suite = try Suite.parse(file: "g.yaml", text: text, knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)
        let cells = try expandGrid(suite: suite, tierName: "pretrained")
        func options(_ task: String, _ label: String) -> [String: OptionValue] {
            cells.first { $0.config.task == task && $0.config.method.label == label }!.config.method.options
        }
        XCTAssertEqual(options("rte", "switch"), ["experts": .int(8), "renormalize": .bool(true), "dropless": .bool(true)])
        XCTAssertEqual(options("rte", "molex"), ["a": .double(0.5), "gate_bias": .bool(true), "granularity": .string("batch"),
                                                 "balance_weight": .double(0.001)])
        XCTAssertEqual(options("mrpc", "molex"), ["a": .double(0.5), "gate_bias": .bool(true), "granularity": .string("batch"),
                                                  "balance_weight": .int(0), "learnable_a": .bool(true), "a_per_block": .bool(false)])
        XCTAssertEqual(options("rte", "dense"), [:])
        let spec = try XCTUnwrap(cells[0].config.pretrained)
        XCTAssertEqual(spec.parameterGroups, [ParameterGroup(name: "gate", prefixes: ["mixer."], lr: 0.1, weightDecay: 0.1),
                                              ParameterGroup(name: "experts", prefixes: ["upcycled."], lr: 5e-5)])
        // The proxy tier, without the keys, keeps the suite's own options.
        let proxy = try expandGrid(suite: suite, tierName: "proxy")
        XCTAssertEqual(proxy.first { $0.config.method.label == "switch" }!.config.method.options, ["experts": .int(8)])
        // Errors: an unknown option, a method the tier does not run, a group without a pattern.
        func expectError(_ from: String, _ to: String, _ fragment: String) {
            XCTAssertThrowsError(try Suite.parse(file: "g.yaml", text: text.replacingOccurrences(of: from, with: to),
                                                 knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)")
            }
        }
        expectError("renormalize: true, dropless", "renormalise: true, dropless", "renormalise")
        expectError("switch: {renormalize", "topp: {renormalize", "topp")
        expectError("{name: experts, prefixes: [upcycled.], lr: 0.00005}", "{name: experts, lr: 0.00005}", "needs 'prefixes' or 'contains'")
        expectError("balance_weight: 0}}", "balance_weight: -1}}", "balance_weight")
    }

    /// The GLUE suite's pretrained tier: upcycled methods renormalised and dropless, MoLEx
    /// with the reference defaults per task, the optimizer groups; the other tiers run every
    /// method with the suite's own options.
    func testGlueSuitePretrainedRecipe() throws {
        let file = PretrainedTierTests.repositoryRoot.appendingPathComponent("Suites/glue.yaml").path
        let suite = try Suite.load(file: file, knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)
        let cells = try expandGrid(suite: suite, tierName: "pretrained")
        func options(_ task: String, _ label: String) -> [String: OptionValue] {
            cells.first { $0.config.task == task && $0.config.method.label == label }!.config.method.options
        }
        for task in suite.tiers["pretrained"]!.tasks {
            for m in ["switch", "top2", "topp"] { XCTAssertEqual(options(task, m)["renormalize"], .bool(true), "\(task) \(m)") }
            XCTAssertEqual(options(task, "molex")["a"], .double(0.5))
            XCTAssertEqual(options(task, "molex")["granularity"], .string("batch"))
            XCTAssertEqual(options(task, "molex")["gate_bias"], .bool(true))
        }
        XCTAssertEqual(options("mrpc", "molex")["balance_weight"], .int(0))
        XCTAssertEqual(options("mrpc", "molex")["learnable_a"], .bool(true))
        XCTAssertEqual(options("rte", "molex")["balance_weight"], .double(0.001))
        XCTAssertEqual(cells[0].config.pretrained?.parameterGroups.map(\.name), ["gate", "router", "experts"])
        for name in ["smoke", "proxy"] {
            for c in try expandGrid(suite: suite, tierName: name) {
                XCTAssertEqual(c.config.method, suite.method(c.config.method.label), "\(name) \(c.config.method.label)")
            }
        }
    }

    /// One pretrained cell each of MoLEx with the reference options (balance off, shared
    /// learnable a) and of renormalised Switch, trained with parameter groups: both run and
    /// record the recipe in their configuration.
    func testPretrainedCellsRunWithTheRecipe() throws {
        let dir = try pretrainedDirectory()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-recipe-\(getpid())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        model.maxLength = 16
        var training = TrainingSpec.default
        training.steps = 2
        training.batchSize = 4
        training.trainExamples = 8
        training.evalExamples = 6
        var spec = PretrainedSpec(model: dir.path)
        spec.parameterGroups = [ParameterGroup(name: "gate", prefixes: ["mixer.gates", "mixer.gateBiases"], lr: 0.1, weightDecay: 0.1),
                                ParameterGroup(name: "experts", prefixes: ["upcycled."], lr: 5e-5)]
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        let results = tmp.appendingPathComponent("results")
        let trainer = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil, resultsRoot: results,
                              environment: env, log: { _ in })
        for entry in [MethodEntry(label: "molex", method: "molex",
                                  options: ["a": .double(0.5), "gate_bias": .bool(true), "granularity": .string("batch"),
                                            "balance_weight": .int(0), "learnable_a": .bool(true), "a_per_block": .bool(false)]),
                      MethodEntry(label: "switch", method: "switch", options: ["renormalize": .bool(true), "dropless": .bool(true)])] {
            let cfg = CellConfig(suite: "glue", modality: .text, tier: "pretrained", data: "smoke", task: "rte",
                                 method: entry, seed: 1, model: model, training: training, pretrained: spec)
            let cell = Cell(config: cfg)
            _ = GridRunner(resultsRoot: results, log: { _ in }).run([cell], runner: trainer, environment: env)
            let r = try ResultStore.read(cell.resultPath(in: results))
            XCTAssertTrue(r.isOK, r.failure ?? "")
            XCTAssertEqual(r.config.pretrained?.parameterGroups, spec.parameterGroups)
            XCTAssertEqual(r.config.method.options, entry.options)
        }
    }
}
