import Data
import Foundation
import Harness
import Routing
import XCTest

/// The task registry: the built-in tasks as they were before it (names, metrics, DLR ids),
/// a GLUE-format task added by a declaration alone running a cell end to end, and the
/// errors for unknown and malformed tasks.
final class TaskRegistryTests: XCTestCase {
    /// The names, titles, metrics and DLR task ids of the tasks before the registry.
    func testBuiltInTasksKeepTheirNamesMetricsAndDLRIDs() {
        let expected: [(String, String, [String], [String])] = [
            ("cola", "CoLA", ["mcc"], ["MCC"]),
            ("sst2", "SST-2", ["accuracy"], ["acc"]),
            ("mrpc", "MRPC", ["f1", "accuracy"], ["F1", "acc"]),
            ("stsb", "STS-B", ["pearson", "spearman"], ["Pearson", "Spearman"]),
            ("qqp", "QQP", ["f1", "accuracy"], ["F1", "acc"]),
            ("mnli", "MNLI", ["accuracy_matched", "accuracy_mismatched"], ["m", "mm"]),
            ("qnli", "QNLI", ["accuracy"], ["acc"]),
            ("rte", "RTE", ["accuracy"], ["acc"]),
            ("wnli", "WNLI", ["accuracy"], ["acc"]),
            ("cifar100", "CIFAR-100", ["top1", "top5"], ["top-1", "top-5"]),
            ("librispeech", "LibriSpeech", ["wer_test-clean", "cer_test-clean", "wer_test-other", "cer_test-other"],
             ["WER clean", "CER clean", "WER other", "CER other"]),
        ]
        let builtIn = TaskRegistry.builtIn
        XCTAssertEqual(builtIn.map(\.name), expected.map(\.0))
        for (id, (d, e)) in zip(builtIn, expected).enumerated() {
            XCTAssertEqual(d.title, e.1)
            XCTAssertEqual(d.metrics, e.2)
            XCTAssertEqual(d.metricTitles, e.3)
            XCTAssertEqual(d.headlineMetric, e.2[0])
            XCTAssertEqual(d.difficultyFile, "difficulty.tsv")
            XCTAssertEqual(d.dlrTaskID, id, d.name)
            XCTAssertEqual(taskID(d.name), id, d.name)
            XCTAssertEqual(TaskCatalog.info(d.name)?.metrics, e.2)
        }
        XCTAssertEqual(taskID("nope"), 0)
        XCTAssertEqual(TaskCatalog.namesByModality[.text], Array(expected.prefix(9).map(\.0)))
        XCTAssertEqual(TaskCatalog.namesByModality[.image], ["cifar100"])
        XCTAssertEqual(TaskCatalog.namesByModality[.speech], ["librispeech"])
        XCTAssertEqual(glueTaskByName, ["cola": .cola, "sst2": .sst2, "mrpc": .mrpc, "stsb": .stsb, "qqp": .qqp,
                                        "mnli": .mnli, "qnli": .qnli, "rte": .rte, "wnli": .wnli])
        // Each GLUE task reads its own files with its own metrics; MNLI's two on its two dev splits.
        for (name, task) in glueTaskByName {
            let d = TaskRegistry.declaration(name)!
            XCTAssertEqual(d.glueFormat, task.format)
            XCTAssertEqual(d.textMetrics.map(\.key), d.metrics)
            XCTAssertEqual(Set(d.textMetrics.map(\.metric.rawValue)), Set(task.metrics.map { $0 == .matthews ? "mcc" : $0.rawValue }))
        }
        XCTAssertEqual(TaskRegistry.declaration("mnli")!.textMetrics.map(\.split), ["dev_matched", "dev_mismatched"])
        XCTAssertEqual(TaskRegistry.declaration("rte")!.textMetrics.map(\.split), ["dev"])
    }

    /// A BoolQ-like task: question and passage, labels False/True, in GLUE-format TSV files.
    static let boolq = TaskDeclaration(
        name: "boolq", title: "BoolQ",
        dataset: .glueFormat(GLUEFormat(folderName: "BoolQ", labels: .classes(["False", "True"]),
                                        labelled: GLUEColumns(headerNames: ["question", "passage", "label"],
                                                              textA: 0, textB: 1, label: 2))),
        metrics: ["accuracy", "f1"], metricTitles: ["acc", "F1"])

    static let boolqSuite = """
    suite: boolq-demo
    modality: text
    tasks: [boolq]
    model: {d: 16, depth: 2, heads: 2, ffn_hidden: 32, max_length: 24, vocab_size: 120}
    methods:
      - {name: dense, method: dense}
      - {name: dlr, method: dlr, options: {tasks: 12}}
    seeds: 1
    training: {steps: 8, batch_size: 4, lr: 0.001}
    tiers:
      smoke: {data: real, seeds: [1]}
    """

    /// Writes `root/glue/BoolQ/{train,dev}.tsv` and the dev split's difficulty levels.
    func writeBoolQ(root: URL) throws {
        let dir = root.appendingPathComponent("glue/BoolQ")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let subjects = ["the river", "a cat", "the sun", "this road", "the old house", "my friend"]
        let verbs = ["is wide", "sleeps often", "rises early", "leads north", "stands empty", "likes tea"]
        func rows(_ n: Int, offset: Int) -> String {
            (0..<n).map { i in
                let k = i + offset, yes = k % 2 == 0
                let s = subjects[k % subjects.count], v = verbs[(k / 2) % verbs.count]
                return "does \(s) \(v)?\t\(s) \(yes ? "" : "never ")\(v) today.\t\(yes ? "True" : "False")"
            }.joined(separator: "\n")
        }
        try ("question\tpassage\tlabel\n" + rows(24, offset: 0) + "\n").write(to: dir.appendingPathComponent("train.tsv"),
                                                                               atomically: true, encoding: .utf8)
        try ("question\tpassage\tlabel\n" + rows(9, offset: 5) + "\n").write(to: dir.appendingPathComponent("dev.tsv"),
                                                                              atomically: true, encoding: .utf8)
        let levels = (0..<9).map { "dev\t\($0)\t\($0 % 3 + 1)" }.joined(separator: "\n")
        try ("split\tindex\tlevel\n" + levels + "\n").write(to: dir.appendingPathComponent("difficulty.tsv"),
                                                              atomically: true, encoding: .utf8)
    }

    /// A task added through the registry alone (a declaration, a suite entry and its files)
    /// runs its smoke cells end to end, dense and DLR (task id 11), and yields its metrics;
    /// the reference rows score it too.
    func testRegisteredGLUEFormatTaskRunsASmokeCell() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let data = tmp.appendingPathComponent("datasets")
        try writeBoolQ(root: data)
        let registered = try TaskRegistry.register(Self.boolq)
        addTeardownBlock { TaskRegistry.unregister("boolq") }
        XCTAssertEqual(registered.dlrTaskID, 11)
        XCTAssertEqual(taskID("boolq"), 11)
        XCTAssertEqual(TaskCatalog.namesByModality[.text]?.last, "boolq")
        XCTAssertNil(glueTaskByName["boolq"])

        let suite = try Suite.parse(file: "boolq-demo.yaml", text: Self.boolqSuite, knownTasks: TaskCatalog.namesByModality,
                                    knownMethods: MethodRegistry.knownOptions)
        let cells = try expandGrid(suite: suite, tierName: "smoke")
        XCTAssertEqual(cells.map(\.config.method.label), ["dense", "dlr"])
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        let trainer = Trainer(dataDir: tmp.appendingPathComponent("proxy"), realData: data,
                              resultsRoot: tmp.appendingPathComponent("results"), environment: env, log: { _ in })
        for cell in cells {
            let r = try trainer.run(cell, progress: { _ in })
            XCTAssertEqual(r.status, "ok")
            XCTAssertEqual(r.task, "boolq")
            XCTAssertEqual(r.data, "real")
            XCTAssertEqual(Set(r.metrics.keys), ["accuracy", "f1"], cell.id)
            for v in r.metrics.values { XCTAssertTrue((0...1).contains(v), cell.id) }
            XCTAssertEqual(r.trainSteps, 8)
            XCTAssertTrue(r.finalTrainLoss?.isFinite ?? false)
            XCTAssertEqual(r.curve?.metric, "accuracy")
            XCTAssertEqual(r.byDifficulty.keys.sorted(), ["1", "2", "3"])
            XCTAssertEqual(r.byDifficulty.values.map(\.examples).reduce(0, +), 9)
            XCTAssertNotNil(TaskCatalog.score(task: "boolq", metrics: r.metrics))
        }
        let ref = try References.compute(for: cells[0].config, dataDir: tmp.appendingPathComponent("proxy"), realData: data,
                                         cacheDir: tmp.appendingPathComponent("reference"), log: { _ in })
        XCTAssertEqual(ref.rows.map(\.name), ["chance", "linear"])
        for row in ref.rows { XCTAssertEqual(Set(row.metrics.keys), ["accuracy", "f1"]) }

        // DLR's default of 11 task embeddings does not reach task id 11: the suite says so.
        let noTasks = Self.boolqSuite.replacingOccurrences(of: "{name: dlr, method: dlr, options: {tasks: 12}}",
                                                           with: "{name: dlr, method: dlr}")
        XCTAssertThrowsError(try Suite.parse(file: "boolq-demo.yaml", text: noTasks, knownTasks: TaskCatalog.namesByModality,
                                             knownMethods: MethodRegistry.knownOptions)) { error in
            XCTAssertTrue("\(error)".contains("set options.tasks to at least 12"), "\(error)")
        }
    }

    /// A suite file naming a task nobody registered fails, listing the tasks it could name;
    /// so does a cell of an unknown task.
    func testUnknownTaskIsAClearError() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let file = tmp.appendingPathComponent("boolq-demo.yaml").path
        try Self.boolqSuite.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Suite.load(file: file, knownTasks: TaskCatalog.namesByModality,
                                            knownMethods: MethodRegistry.knownOptions)) { error in
            guard let e = error as? SuiteError else { return XCTFail("not a SuiteError: \(error)") }
            XCTAssertEqual(e.file, file)
            XCTAssertEqual(e.key, "tasks")
            XCTAssertEqual(e.message, "unknown task 'boolq'; allowed: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli")
        }
        var model = ModelSpec.default
        model.maxLength = 24
        let cfg = CellConfig(suite: "s", modality: .text, tier: "smoke", data: "real", task: "boolq",
                             method: MethodEntry(label: "dense", method: "dense", options: [:]), seed: 1,
                             model: model, training: .default)
        let trainer = Trainer(dataDir: tmp, realData: tmp, resultsRoot: tmp,
                              environment: EnvironmentRecord(gitCommit: "t", swiftVersion: "6", blas: "b", threads: 1, cpu: "c", os: "o"),
                              log: { _ in })
        XCTAssertThrowsError(try trainer.run(Cell(config: cfg), progress: { _ in })) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown task 'boolq'; registered: cola, sst2,"), "\(error)")
        }
    }

    /// Registration refuses a taken name or DLR id and declarations that could not run.
    func testRegistrationRejectsConflictsAndMalformedDeclarations() {
        func rejects(_ d: TaskDeclaration, _ message: String, line: UInt = #line) {
            XCTAssertThrowsError(try TaskRegistry.register(d), line: line) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)", line: line)
            }
            XCTAssertNil(TaskRegistry.unregister(d.name), line: line)
        }
        var d = Self.boolq
        d.name = "sst2"
        rejects(d, "registered already")
        d = Self.boolq
        d.dlrTaskID = 9
        rejects(d, "DLR task id 9 is taken by 'cifar100'")
        d = Self.boolq
        d.metrics = ["accuracy", "auc"]
        rejects(d, "text metric 'auc' does not start with one of accuracy, f1, mcc, pearson, spearman")
        d = Self.boolq
        d.headlineMetric = "mcc"
        rejects(d, "the headline metric 'mcc' is not one of its metrics")
        d = Self.boolq
        d.metricTitles = ["acc"]
        rejects(d, "2 metrics but 1 metric titles")
        d = TaskDeclaration(name: "cifar10", title: "CIFAR-10", dataset: .cifar100, metrics: ["top1", "top3"],
                            metricTitles: ["top-1", "top-3"])
        rejects(d, "metric 'top3' is not written by the image preparation")
        d = Self.boolq
        d.name = "bool q"
        rejects(d, "the name must be")
        XCTAssertNil(TaskRegistry.unregister("sst2"), "built-in tasks stay")
        XCTAssertEqual(TaskRegistry.all.map(\.name), TaskRegistry.builtIn.map(\.name))
    }
}
