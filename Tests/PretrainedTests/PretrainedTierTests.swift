import Data
import Foundation
import Analysis
import Harness
import NN
import Pretrained
import Routing
import Tensor
import XCTest

/// The pretrained track of the GLUE suite: MoLEx / DLR over the pretrained encoder's layers,
/// the suite's `pretrained` tier, and one cell run end to end.
final class PretrainedTierTests: XCTestCase {
    /// Ragged rows (padding in the batch) of real token ids.
    let rows: [[Int]] = [[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 2023, 2003, 102], [101, 1996, 4937, 2938, 2006, 1996, 102]]

    /// Gives every adapter a non-zero `B` (the same values for the same seed), so that the
    /// adapters change the encoder's output.
    func perturbAdapters(_ m: RoutedPretrainedClassifier, seed: UInt64) {
        var rng = RNG(seed: seed)
        for layer in m.encoder.layers {
            for t in [LoRATarget.query, .value] {
                guard let l = layer.projection(t).lora else { XCTFail("no adapter on \(t)"); return }
                for k in 0..<l.b.count { l.b.data[k] = (rng.uniform() - 0.5) * 0.1 }
            }
        }
    }

    func testMoLExWithAOneEqualsPlainFineTuning() throws {
        let dir = try pretrainedDirectory()
        var r1 = RNG(seed: 7), r2 = RNG(seed: 7)
        let dense = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 3, method: "dense", rng: &r1)
        let molex = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 3, method: "molex",
                                                   options: ["a": .double(1)], rng: &r2)
        XCTAssertNil(dense.mixer)
        XCTAssertNotNil(molex.mixer as? MoLEx)
        perturbAdapters(dense, seed: 3)
        perturbAdapters(molex, seed: 3)
        // MoLEx adds only its gate: no copies of the layers.
        let gate = (molex.mixer as! MoLEx).gates[0]
        XCTAssertEqual(molex.totalParameterCount - dense.totalParameterCount, gate.count)
        XCTAssertEqual(gate.shape, [384, 6])

        let input = BertInput(ids: rows, padID: 0)
        let a = dense.predict(input), b = molex.predict(input)
        XCTAssertEqual(a.logits.shape, [3, 3])
        XCTAssertEqual(b.stats.count, 6)
        XCTAssertTrue(b.stats.allSatisfy { $0.chosenBlocks?.count == 3 && $0.assignedPerUnit.reduce(0, +) == 3 })
        for (x, y) in zip(a.logits.scalars, b.logits.scalars) { XCTAssertEqual(x, y, accuracy: 1e-5) }

        // Gradients (evaluation mode, no dropout): the adapters and the head get the same
        // gradients; the balance loss reaches MoLEx's gate only.
        func grads(_ m: RoutedPretrainedClassifier) -> [String: [Float]] {
            m.eval()
            m.zeroGrad()
            var ctx = RoutingContext(training: false, rng: RNG(seed: 1), sequenceOffsets: [])
            let out = m.forward(input, context: &ctx)
            var loss = crossEntropy(out.logits, labels: [0, 2, 1])
            if let aux = out.auxLoss { loss = loss + aux }
            loss.backward()
            var g: [String: [Float]] = [:]
            for (name, p) in m.namedParameters() {
                if let s = p.gradStorage { g[name] = Array(UnsafeBufferPointer(start: s.base, count: p.count)) }
            }
            return g
        }
        let gd = grads(dense), gm = grads(molex)
        XCTAssertEqual(gd.count, 6 * 2 * 2 + 4, "adapters (A, B on query and value of 6 layers) and the head")
        for (name, g) in gd {
            let h = try XCTUnwrap(gm[name], name)
            for (x, y) in zip(g, h) { XCTAssertEqual(x, y, accuracy: 1e-5 + 1e-4 * abs(x), name) }
        }
        let gateGrad = try XCTUnwrap(gm.first { $0.key.hasSuffix("gates.0") || $0.key.contains("gates") }?.value)
        XCTAssertTrue(gateGrad.contains { $0 != 0 }, "the balance loss trains the gate")
    }

    func testMoLExAndDLROverThePretrainedLayers() throws {
        let dir = try pretrainedDirectory()
        var rng = RNG(seed: 5)
        let molex = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 1, method: "molex", rng: &rng)
        let input = BertInput(ids: rows, padID: 0)
        let counter = FlopCounter()
        let out = Flops.counting(into: counter) { molex.predict(input) }
        XCTAssertEqual(out.logits.shape, [3, 1])
        XCTAssertTrue(out.logits.scalars.allSatisfy(\.isFinite))
        // The analytic count is the engine's count.
        let analytic = molex.analyticFlops(input, stats: out.stats)
        XCTAssertEqual(analytic.total, Double(counter.forwardTotal), accuracy: 1e-6 * analytic.total)
        XCTAssertEqual(analytic.router, Double(counter.forward(.router)), accuracy: 1e-6 * analytic.router)

        // Other methods are refused by name.
        var r2 = RNG(seed: 1)
        XCTAssertThrowsError(try RoutedPretrainedClassifier(encoder: BertEncoder(config: tinyConfig, rng: &r2), outputs: 2,
                                                            method: "soft", rng: &r2))
        XCTAssertThrowsError(try RoutedPretrainedClassifier(encoder: BertEncoder(config: tinyConfig, rng: &r2), outputs: 2,
                                                            method: "dense", options: ["hidden_scale": .int(2)], rng: &r2))
        // DLR on a tiny encoder: runs, trains its gates through the task loss.
        let dlr = try RoutedPretrainedClassifier(encoder: BertEncoder(config: tinyConfig, rng: &r2), outputs: 2, method: "dlr", rng: &r2)
        dlr.train()
        var ctx = RoutingContext(training: true, rng: RNG(seed: 2), taskID: 7, sequenceOffsets: [])
        let small = BertInput(ids: [[2, 5, 6, 3], [2, 7, 3]], padID: 0)
        let o = dlr.forward(small, context: &ctx)
        (crossEntropy(o.logits, labels: [0, 1]) + o.auxLoss!).backward()
        let gates = (dlr.mixer as! DLR).sequenceGates[0]
        XCTAssertNotNil(gates.gradStorage)
        XCTAssertEqual(o.stats.count, 2)
        let c2 = FlopCounter()
        let p = Flops.counting(into: c2) { dlr.predict(small, taskID: 7) }
        XCTAssertEqual(dlr.analyticFlops(small, stats: p.stats).total, Double(c2.forwardTotal), accuracy: 1)
    }

    func testSparseUpcyclingStartsFromThePretrainedFFN() throws {
        let dir = try pretrainedDirectory()
        var r1 = RNG(seed: 9), r2 = RNG(seed: 9)
        let dense = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 2, method: "dense", rng: &r1)
        // Top-2 without drops: the two renormalised gates sum to 1 over identical experts, so
        // the upcycled model starts as the pretrained one.
        let top2 = try RoutedPretrainedClassifier(encoder: try BertEncoder.load(directory: dir), outputs: 2, method: "top2",
                                                  options: ["experts": .int(4), "dropless": .bool(true)], rng: &r2)
        XCTAssertEqual(top2.upcycled.count, 6)
        let w = try XCTUnwrap(RoutedPretrainedClassifier.expertWeights(top2.upcycled[2]))
        let base = top2.encoder.layers[2].intermediate.base.weight
        XCTAssertEqual(Array(UnsafeBufferPointer(start: w.w1.data + 3 * base.count, count: base.count)), base.scalars)
        let input = BertInput(ids: rows, padID: 0)
        let a = dense.predict(input), b = top2.predict(input)
        for (x, y) in zip(a.logits.scalars, b.logits.scalars) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        XCTAssertEqual(b.stats.count, 6)
        // Parameters: the replaced FFNs are not counted; 4 experts per layer instead; two of
        // them active per token.
        let ffn = 384 * 1536 * 2 + 1536 + 384
        let routers = 6 * 384 * 4
        XCTAssertEqual(top2.totalParameterCount - dense.totalParameterCount, 6 * 3 * ffn + routers)
        XCTAssertEqual(top2.activeParameterCount(stats: b.stats), Double(top2.totalParameterCount - 6 * 2 * ffn), accuracy: 1)
        // Trainable: adapters, head, experts and routers; the replaced FFNs and their adapters not.
        let names = top2.namedParameters().map(\.0)
        XCTAssertFalse(names.contains { $0.contains("intermediate") || $0.contains(".output.base") })
        XCTAssertEqual(names.filter { $0.hasPrefix("upcycled") }.count, 6 * 5)
        // Analytic and counted FLOPs agree.
        let counter = FlopCounter()
        let out = Flops.counting(into: counter) { top2.predict(input) }
        let analytic = top2.analyticFlops(input, stats: out.stats).total
        XCTAssertEqual(analytic, Double(counter.forwardTotal), accuracy: 1e-6 * analytic)
        // Switch trains end to end on the tiny encoder.
        var r3 = RNG(seed: 4)
        let sw = try RoutedPretrainedClassifier(encoder: BertEncoder(config: tinyConfig, rng: &r3), outputs: 2, method: "switch",
                                                options: ["experts": .int(2)], rng: &r3)
        var ctx = RoutingContext(training: true, rng: RNG(seed: 2), sequenceOffsets: [])
        let o = sw.forward(BertInput(ids: [[2, 5, 6, 3], [2, 7, 3]], padID: 0), context: &ctx)
        (crossEntropy(o.logits, labels: [0, 1]) + o.auxLoss!).backward()
        XCTAssertTrue(sw.namedParameters().filter { $0.0.hasPrefix("upcycled") }.allSatisfy { $0.1.gradStorage != nil })
    }

    var tinyConfig: BertConfig { BertConfig(vocabSize: 12, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 16, maxPositions: 8) }

    // MARK: The suite's pretrained tier

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func parse(_ text: String) throws -> Suite {
        try Suite.parse(file: "test.yaml", text: text, knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)
    }

    func testGlueSuitePretrainedTierLoadsAndValidates() throws {
        let file = PretrainedTierTests.repositoryRoot.appendingPathComponent("Suites/glue.yaml").path
        let suite = try Suite.load(file: file, knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)
        let tier = try suite.tier("pretrained")
        let spec = try XCTUnwrap(tier.pretrained)
        XCTAssertEqual(spec.model, PretrainedFolder.defaultPath)
        XCTAssertEqual(spec.loraRank, 8)
        XCTAssertEqual(spec.loraAlpha, 16)
        XCTAssertEqual(spec.loraTargets, ["query", "value"])
        XCTAssertEqual(tier.data, "proxy")
        XCTAssertFalse(tier.methods.isEmpty)
        for m in tier.methods { XCTAssertTrue(RoutedPretrainedClassifier.methods.contains(suite.method(m)!.method), m) }
        let cells = try expandGrid(suite: suite, tierName: "pretrained")
        // The tier's methods plus the same-size from-scratch baseline.
        XCTAssertTrue(spec.scratchBaseline)
        XCTAssertEqual(cells.count, tier.tasks.count * (tier.methods.count + 1) * tier.seeds.count)
        XCTAssertEqual(cells.filter { PretrainedSpec.isScratch($0.config.method) }.count, tier.tasks.count * tier.seeds.count)
        XCTAssertTrue(cells.allSatisfy { $0.config.pretrained == spec })
        // The other tiers' configurations carry no pretrained key (their hashes are unchanged).
        for name in ["smoke", "proxy"] {
            let other = try expandGrid(suite: suite, tierName: name)
            XCTAssertTrue(other.allSatisfy { $0.config.pretrained == nil })
            XCTAssertFalse(String(decoding: other[0].config.canonicalJSON, as: UTF8.self).contains("pretrained"))
        }
    }

    let base = """
    suite: g
    modality: text
    tasks: [rte, stsb]
    methods:
      - {name: dense, method: dense}
      - {name: wide, method: dense, options: {hidden_scale: 2}}
      - {name: switch, method: switch}
      - {name: molex, method: molex}
    tiers:

    """

    func testPretrainedTierKeysAndErrors() throws {
        // Defaults: methods that do not run on the pretrained encoder are left out.
        let s = try parse(base + "  pretrained: {}\n")
        let t = try s.tier("pretrained")
        XCTAssertEqual(t.methods, ["dense", "switch", "molex"])
        XCTAssertEqual(t.pretrained, PretrainedSpec())
        let custom = try parse(base + "  pretrained: {pretrained_model: /m, lora: {rank: 4, alpha: 8, targets: [query, key, output]}, pooling: mean}\n")
        XCTAssertEqual(custom.tiers["pretrained"]?.pretrained,
                       PretrainedSpec(model: "/m", loraRank: 4, loraAlpha: 8, loraTargets: ["query", "key", "output"], pooling: "mean"))
        XCTAssertEqual(custom.tiers["pretrained"]?.pretrained?.loraConfig.targets, [.query, .key, .output])

        func expectError(_ tier: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try parse(base + tier), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)", file: file, line: line)
            }
        }
        // The same-size from-scratch baseline: `dense-scratch` cells right after `dense`;
        // the key is written into the configuration only when set.
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(PretrainedSpec()), as: UTF8.self).contains("scratch"))
        let withScratch = try parse(base + "  pretrained: {scratch_baseline: true, seeds: [1]}\n")
        XCTAssertEqual(withScratch.tiers["pretrained"]?.pretrained?.scratchBaseline, true)
        let cells = try expandGrid(suite: withScratch, tierName: "pretrained")
        XCTAssertEqual(cells.map(\.config.method.label), ["dense", "dense-scratch", "switch", "molex", "dense", "dense-scratch", "switch", "molex"])
        XCTAssertEqual(cells[1].config.method, PretrainedSpec.scratchEntry)
        XCTAssertTrue(PretrainedSpec.isScratch(cells[1].config.method))
        XCTAssertFalse(PretrainedSpec.isScratch(cells[0].config.method))
        let roundTrip = try JSONDecoder().decode(PretrainedSpec.self, from: try JSONEncoder().encode(cells[1].config.pretrained!))
        XCTAssertTrue(roundTrip.scratchBaseline)
        expectError("  pretrained: {scratch_baseline: 3}\n", "scratch_baseline must be true or false")
        expectError("  proxy: {scratch_baseline: true}\n", "'scratch_baseline' is read only by the 'pretrained' tier")
        expectError("  proxy: {pretrained_model: /m}\n", "'pretrained_model' is read only by the 'pretrained' tier")
        expectError("  proxy: {lora: {rank: 8}}\n", "read only by the 'pretrained' tier")
        expectError("  pretrained: {methods: [wide]}\n", "method 'wide' does not run on the pretrained encoder")
        expectError("  pretrained: {lora: {rnk: 8}}\n", "rnk")
        expectError("  pretrained: {lora: {rank: 0}}\n", "lora rank must be at least 1")
        expectError("  pretrained: {lora: {targets: [query, ffn]}}\n", "unknown LoRA target 'ffn'")
        expectError("  pretrained: {pooling: max}\n", "unknown pooling 'max'")
        expectError("  pretrained: {pretrained_modell: /m}\n", "pretrained_modell")
        XCTAssertThrowsError(try Suite.parse(file: "i.yaml", text: """
            suite: i
            modality: image
            tasks: [cifar100]
            methods: [{method: dense}]
            tiers:
              pretrained: {}

            """, knownTasks: TaskCatalog.namesByModality, knownMethods: MethodRegistry.knownOptions)) { e in
            XCTAssertTrue("\(e)".contains("fine-tunes a pretrained text encoder"), "\(e)")
        }
    }

    // MARK: One cell end to end

    func testSmokeCellWritesAValidResult() throws {
        let dir = try pretrainedDirectory()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-pretrained-\(getpid())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        model.maxLength = 16
        var training = TrainingSpec.default
        training.steps = 2
        training.batchSize = 4
        training.trainExamples = 8
        training.evalExamples = 6
        let cfg = CellConfig(suite: "glue", modality: .text, tier: "pretrained", data: "smoke", task: "stsb",
                             method: MethodEntry(label: "molex", method: "molex", options: [:]), seed: 1, model: model,
                             training: training, pretrained: PretrainedSpec(model: dir.path))
        let cell = Cell(config: cfg)
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        let results = tmp.appendingPathComponent("results")
        let trainer = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil, resultsRoot: results,
                              environment: env, log: { _ in })
        let summary = GridRunner(resultsRoot: results, log: { _ in }).run([cell], runner: trainer, environment: env)
        let url = cell.resultPath(in: results)
        XCTAssertEqual(url.path, results.path + "/pretrained/glue/stsb__molex__s1.json")
        let r = try ResultStore.read(url)
        XCTAssertEqual(summary.ran, 1, r.failure ?? "")
        XCTAssertTrue(r.isOK, r.failure ?? "")
        XCTAssertEqual(r.tier, "pretrained")
        XCTAssertEqual(r.data, "proxy")
        XCTAssertEqual(r.configHash, cfg.hash)
        XCTAssertEqual(r.trainSteps, 2)
        XCTAssertEqual(Set(r.metrics.keys), ["pearson", "spearman"])
        XCTAssertTrue(r.metrics.values.allSatisfy { $0.isFinite || $0.isNaN })
        let flops = try XCTUnwrap(r.flops)
        XCTAssertGreaterThan(flops.forwardPerExampleCounted, 0)
        XCTAssertEqual(flops.forwardPerExampleAnalytic, flops.forwardPerExampleCounted, accuracy: 1e-6 * flops.forwardPerExampleCounted)
        XCTAssertGreaterThan(flops.routerPerExample, 0)
        XCTAssertGreaterThan(flops.training, 0)
        XCTAssertGreaterThan(r.params?.total ?? 0, 22_000_000)
        XCTAssertEqual(r.routing.count, 6)
        XCTAssertEqual(r.routing.map { $0.assignedPerUnit.reduce(0, +) }, [Int](repeating: 6, count: 6))
        XCTAssertFalse(r.byDifficulty.isEmpty)
        // Routing per (level, length bin) is recorded for the length-controlled difficulty
        // claim: every one of the 6 evaluation examples of each set in exactly one group.
        let byLevelLength = try XCTUnwrap(r.routingByLevelLength)
        XCTAssertFalse(byLevelLength.isEmpty)
        for set in Set(byLevelLength.map(\.set)) {
            XCTAssertEqual(byLevelLength.filter { $0.set == set }.map(\.examples).reduce(0, +), 6, set)
        }
        XCTAssertTrue(byLevelLength.allSatisfy { $0.minLength <= $0.maxLength && $0.meanChosen > 0 })
        // The encoder's own shape (all-MiniLM-L6-v2: 6 layers, width 384, 12 heads, FFN
        // 1,536, 30,522 tokens, 512 positions), not the suite's model spec, and a checksum of
        // its folder; the result records the pretrained tier's fingerprint. Parameters by
        // hand: embeddings 30,522·384 + 512·384 + 2·384 + LN 768 = 11,918,592; per layer
        // attention 4·(384² + 384) + LN 768 + FFN (384·1,536 + 1,536 + 1,536·384 + 384) +
        // LN 768 = 1,774,464, six of them 10,646,784; 22,565,376 without the unused pooler.
        let e = try XCTUnwrap(r.encoder)
        XCTAssertEqual([e.layers, e.hidden, e.heads, e.intermediate, e.vocabSize, e.maxPositions], [6, 384, 12, 1536, 30522, 512])
        XCTAssertEqual(e.parameters, 22_565_376)
        XCTAssertEqual(e.checksum.count, 32)
        XCTAssertEqual(r.environment.codeFingerprint, Build.pretrainedFingerprint)
        XCTAssertNotEqual(Build.pretrainedFingerprint, Build.fingerprint)
        // A second run is a cache hit.
        XCTAssertEqual(GridRunner(resultsRoot: results, log: { _ in }).run([cell], runner: trainer, environment: env).cached, 1)

        // Plain LoRA fine-tuning and the same-size from-scratch baseline on the same cell:
        // the baseline has the encoder and head without the adapters (6 layers x query and
        // value x r·(384 + 384) = 73,728 parameters fewer), and it trains every weight, so
        // its training FLOPs are larger (weight gradients of every projection).
        func run(_ method: MethodEntry) throws -> CellResult {
            var c = cfg
            c.method = method
            let one = Cell(config: c)
            _ = GridRunner(resultsRoot: results, log: { _ in }).run([one], runner: trainer, environment: env)
            let r = try ResultStore.read(one.resultPath(in: results))
            XCTAssertTrue(r.isOK, r.failure ?? "")
            return r
        }
        let dense = try run(MethodEntry(label: "dense", method: "dense", options: [:]))
        let scratch = try run(PretrainedSpec.scratchEntry)
        XCTAssertEqual(scratch.method, "dense-scratch")
        XCTAssertEqual(try XCTUnwrap(dense.params?.total) - (try XCTUnwrap(scratch.params?.total)), 6 * 2 * 8 * (384 + 384))
        XCTAssertEqual(try XCTUnwrap(scratch.flops).forwardPerExampleAnalytic, try XCTUnwrap(scratch.flops).forwardPerExampleCounted,
                       accuracy: 1e-6 * (try XCTUnwrap(scratch.flops).forwardPerExampleCounted))
        XCTAssertGreaterThan(try XCTUnwrap(scratch.flops).training, try XCTUnwrap(dense.flops).training)
        XCTAssertNotEqual(scratch.finalTrainLoss, dense.finalTrainLoss)
    }
}
