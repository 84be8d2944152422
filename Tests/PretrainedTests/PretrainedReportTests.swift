import Foundation
import Analysis
import Harness
import Report
import Routing
import XCTest

/// The pretrained tier's report: its own file, the recipe note, and the comparison of
/// pretrained and from-scratch dense fine-tuning.
final class PretrainedReportTests: XCTestCase {
    func result(tier: String, task: String, method: String, seed: Int, metrics: [String: Double]) -> CellResult {
        var training = TrainingSpec.default
        training.steps = 60
        let cfg = CellConfig(suite: "glue", modality: .text, tier: tier, data: "proxy", task: task,
                             method: MethodEntry(label: method, method: method, options: [:]), seed: seed, model: .default,
                             training: training, pretrained: tier == "pretrained" ? PretrainedSpec() : nil)
        return CellResult(suite: "glue", task: task, method: method, seed: seed, tier: tier, data: "proxy", status: "ok",
                          failure: nil, config: cfg, configHash: cfg.hash, metrics: metrics,
                          flops: FlopsRecord(forwardPerExampleAnalytic: 1e9, forwardPerExampleCounted: 1e9, routerPerExample: 0, training: 1e12),
                          params: ParamsRecord(total: 22_787_714, active: 22_787_714), routing: [], byDifficulty: [:],
                          trainSteps: 60, finalTrainLoss: 0.5, wallSeconds: 1,
                          environment: EnvironmentRecord(gitCommit: "t", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "c", os: "l"),
                          finishedAt: "2026-01-01T00:00:00Z")
    }

    func testComparisonLineAndReportFile() throws {
        // Pretrained dense: seeds 1, 2 average (0.8 + 0.6)/2 = 0.7 and (0.9 + 0.7)/2 = 0.8.
        let pre = [result(tier: "pretrained", task: "sst2", method: "dense", seed: 1, metrics: ["accuracy": 0.8]),
                   result(tier: "pretrained", task: "rte", method: "dense", seed: 1, metrics: ["accuracy": 0.6]),
                   result(tier: "pretrained", task: "sst2", method: "dense", seed: 2, metrics: ["accuracy": 0.9]),
                   result(tier: "pretrained", task: "rte", method: "dense", seed: 2, metrics: ["accuracy": 0.7]),
                   result(tier: "pretrained", task: "rte", method: "molex", seed: 1, metrics: ["accuracy": 0.65])]
        // From scratch: 0.6 and 0.5 on the same tasks (CoLA, not in the pretrained tier, is ignored).
        let scratch = [result(tier: "proxy", task: "sst2", method: "dense", seed: 1, metrics: ["accuracy": 0.7]),
                       result(tier: "proxy", task: "rte", method: "dense", seed: 1, metrics: ["accuracy": 0.5]),
                       result(tier: "proxy", task: "sst2", method: "dense", seed: 2, metrics: ["accuracy": 0.6]),
                       result(tier: "proxy", task: "rte", method: "dense", seed: 2, metrics: ["accuracy": 0.4]),
                       result(tier: "proxy", task: "cola", method: "dense", seed: 1, metrics: ["mcc": 0.1])]
        let notes = PretrainedReport.notes(pretrained: pre, scratch: scratch)["glue"] ?? []
        XCTAssertEqual(notes.count, 5, "model, comparison, training, recipe table, departures")
        XCTAssertTrue(notes[0].contains("LoRA (r = 8, alpha = 16, on query, value"), notes[0])
        XCTAssertTrue(notes[1].contains("averages 75.0 ± 7.1 (2 seeds)"), notes[1])
        XCTAssertTrue(notes[1].contains("averages 55.0 ± 7.1 (2 seeds)"), notes[1])
        XCTAssertTrue(notes[1].contains("+20.0 points"), notes[1])
        XCTAssertTrue(notes[1].contains("SST-2, RTE"), notes[1])
        XCTAssertFalse(notes[1].contains("same-size"), "no dense-scratch cells in the tier")
        // Without from-scratch results the line says so.
        XCTAssertTrue(PretrainedReport.notes(pretrained: pre, scratch: [])["glue"]![1].contains("no from-scratch `dense` results"))

        // The tier's own same-size baseline comes first: 0.5 and 0.4 (seed 1) average 45.0,
        // 75.0 - 45.0 = +30.0 points; it is reported only when it covers every task.
        let same = [result(tier: "pretrained", task: "sst2", method: "dense-scratch", seed: 1, metrics: ["accuracy": 0.5]),
                    result(tier: "pretrained", task: "rte", method: "dense-scratch", seed: 1, metrics: ["accuracy": 0.4])]
        let line = PretrainedReport.notes(pretrained: pre + same, scratch: scratch)["glue"]![1]
        XCTAssertTrue(line.contains("same-size model trained from scratch"), line)
        XCTAssertTrue(line.contains("averages 45.0 (1 seed): +30.0 points, pretrained fine-tuning is ahead"), line)
        XCTAssertTrue(line.contains("+20.0 points for the pretrained encoder"), line)
        XCTAssertLessThan(try XCTUnwrap(line.range(of: "same-size")).lowerBound, try XCTUnwrap(line.range(of: "proxy tier")).lowerBound)
        let partial = PretrainedReport.notes(pretrained: pre + [same[0]], scratch: [])["glue"]![1]
        XCTAssertFalse(partial.contains("same-size"), partial)
        let behind = [result(tier: "pretrained", task: "sst2", method: "dense-scratch", seed: 1, metrics: ["accuracy": 0.9]),
                      result(tier: "pretrained", task: "rte", method: "dense-scratch", seed: 1, metrics: ["accuracy": 0.9])]
        XCTAssertTrue(PretrainedReport.notes(pretrained: pre + behind, scratch: [])["glue"]![1]
            .contains("-15.0 points, pretrained fine-tuning is not ahead"))

        // The report writer renders the tier into its own file with the notes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-pretrained-report-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let results = dir.appendingPathComponent("results")
        for r in scratch {
            let cell = Cell(config: r.config)
            try ResultStore.write(r, to: cell.resultPath(in: results))
        }
        let files = try ReportWriter.write(results: pre, tier: "pretrained", claims: [], outDir: dir.appendingPathComponent("reports"),
                                           notes: try PretrainedReport.notes(results: pre, resultsRoot: results))
        let md = try String(contentsOf: try XCTUnwrap(files.first { $0.lastPathComponent == "pretrained-glue.md" }), encoding: .utf8)
        XCTAssertTrue(md.contains("# GLUE: pretrained tier"))
        XCTAssertTrue(md.contains("**Data:** proxy"))
        XCTAssertTrue(md.contains("+20.0 points"))
        XCTAssertTrue(md.contains("| molex |"))
    }

    /// The recipe lines read each cell's configuration: per-task training, the optimizer
    /// groups, options common to every task and those that differ.
    func testRecipeFromTheCellConfigurations() throws {
        func cell(_ task: String, _ method: String, _ options: [String: OptionValue], lr: Double) -> CellResult {
            var r = result(tier: "pretrained", task: task, method: method, seed: 1, metrics: ["accuracy": 0.8])
            r.config.method = MethodEntry(label: method, method: method, options: options)
            r.config.training.lr = lr
            r.config.training.trainExamples = 2000
            r.config.pretrained?.parameterGroups = [ParameterGroup(name: "gate", prefixes: ["mixer.gates"], lr: 0.1, weightDecay: 0.1),
                                                    ParameterGroup(name: "router", contains: [".router"])]
            return r
        }
        let rs = [cell("sst2", "molex", ["a": .double(0.5), "balance_weight": .double(0.01)], lr: 0.001),
                  cell("rte", "molex", ["a": .double(0.5), "balance_weight": .double(0.001)], lr: 0.001),
                  cell("sst2", "top2", ["renormalize": .bool(true)], lr: 0.001),
                  cell("rte", "top2", ["renormalize": .bool(true)], lr: 0.001)]
        let lines = PretrainedReport.notes(pretrained: rs, scratch: [])["glue"] ?? []
        XCTAssertEqual(lines.count, 6, "model, comparison, training, groups, recipe table, departures")
        XCTAssertTrue(lines[2].contains("per task: SST-2 lr 0.001, 60 steps of batch 32; RTE lr 0.001, 60 steps of batch 32."), lines[2])
        XCTAssertTrue(lines[3].contains("`gate` (`mixer.gates*`): lr 0.1, weight decay 0.1; `router` (`*.router*`): the task's lr, the tier's weight decay"), lines[3])
        XCTAssertTrue(lines[4].contains("| molex (`molex`) | a: 0.5 | balance_weight: SST-2 0.01, RTE 0.001 |"), lines[4])
        XCTAssertTrue(lines[4].contains("| top2 (`top2`) | renormalize: true | — |"), lines[4])
        XCTAssertTrue(lines[5].contains("60 steps of batch 32 over the first 2000 proxy training examples"), lines[5])
    }
}
