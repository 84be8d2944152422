import Foundation
import Analysis
import Harness
import Routing
import NN
import XCTest

/// The learning-curve record: segment bounds and means against the per-step losses, the
/// evaluation points, resume, the convergence rule, and a real cell whose final metrics are
/// the same bits with and without the intermediate evaluation.
final class LossCurveTests: XCTestCase {
    struct Interrupt: Error {}

    let xs: [[Float]] = (0..<20).map { i in [Float(i % 5) / 5, Float(i % 3) / 3, Float(i % 7) / 7] }
    func target(_ x: [Float]) -> Float { x[0] - 2 * x[1] + 0.5 * x[2] }

    func spec(steps: Int, every: Int) -> TrainingSpec {
        var s = TrainingSpec.default
        s.steps = steps
        s.batchSize = 6
        s.lr = 0.05
        s.checkpointEvery = every
        return s
    }

    func lossFn(_ model: TinyModel) -> ([Int], inout RNG) throws -> Tensor {
        { idx, rng in
            let x = Tensor(shape: [idx.count, 3], scalars: idx.flatMap { self.xs[$0] })
            let y = Tensor(shape: [idx.count, 1], scalars: idx.map { self.target(self.xs[$0]) })
            let h = dropout(model.fc(x), p: 0.1, rng: &rng, training: true)
            return mseLoss(h, y)
        }
    }

    /// The mean squared error of the model on all 20 examples, without dropout or gradients.
    func evaluation(_ model: TinyModel) -> CurveEvaluation {
        CurveEvaluation(metric: "mse", subset: "all 20") {
            Autograd.noGrad {
                let x = Tensor(shape: [20, 3], scalars: self.xs.flatMap { $0 })
                let y = Tensor(shape: [20, 1], scalars: self.xs.map(self.target))
                return Double(mseLoss(model.fc(x), y).item)
            }
        }
    }

    func testSegmentBoundsAndEvalSteps() {
        // 30 steps: twentieths of 1 or 2 steps, ⌊k·30/20⌋.
        let b = LossCurve.segmentBounds(totalSteps: 30)
        XCTAssertEqual(b.count, 20)
        XCTAssertEqual(b[0], 0..<1)
        XCTAssertEqual(b[1], 1..<3)
        XCTAssertEqual(b[19], 28..<30)
        XCTAssertEqual(b.map(\.count).reduce(0, +), 30)
        for k in 1..<b.count { XCTAssertEqual(b[k].lowerBound, b[k - 1].upperBound) }
        XCTAssertEqual(LossCurve.segmentBounds(totalSteps: 7).count, 7)
        XCTAssertEqual(LossCurve.evalSteps(totalSteps: 30), [10, 20, 30])
        XCTAssertEqual(LossCurve.evalSteps(totalSteps: 2), [1, 2])
    }

    func testSegmentsAreTheMeansOfTheStepLossesAndEvaluationLeavesTrainingUnchanged() throws {
        let a = TinyModel(seed: 1)
        var losses: [Double] = []
        let loop = TrainLoop(spec: spec(steps: 30, every: 0), trainCount: 20, configHash: "h", checkpointURL: nil)
        let out = try loop.run(model: a, rng: RNG(seed: 9), step: lossFn(a), curveEvaluation: evaluation(a),
                               progress: { losses.append($0.loss) })
        XCTAssertEqual(losses.count, 30)
        let c = out.curve
        XCTAssertEqual(c.segments.count, 20)
        for (k, r) in LossCurve.segmentBounds(totalSteps: 30).enumerated() {
            XCTAssertEqual(c.segments[k].firstStep, r.lowerBound + 1)
            XCTAssertEqual(c.segments[k].lastStep, r.upperBound)
            let expect = losses[r].reduce(0, +) / Double(r.count)
            XCTAssertEqual(c.segments[k].meanLoss, expect, accuracy: 1e-12)
        }
        XCTAssertEqual(c.eval.map(\.step), [10, 20, 30])
        XCTAssertEqual(c.metric, "mse")
        // The last point is the evaluation of the final model.
        XCTAssertEqual(c.eval[2].value, try evaluation(a).evaluate())
        XCTAssertLessThan(c.eval[2].value, c.eval[0].value)

        // Without the evaluation: the same parameters bit for bit, no points.
        let b = TinyModel(seed: 1)
        let outB = try loop.run(model: b, rng: RNG(seed: 9), step: lossFn(b), progress: { _ in })
        XCTAssertEqual(a.fc.weight.scalars, b.fc.weight.scalars)
        XCTAssertEqual(a.fc.bias!.scalars, b.fc.bias!.scalars)
        XCTAssertEqual(outB.finalLoss, out.finalLoss)
        XCTAssertEqual(outB.curve.segments, c.segments)
        XCTAssertTrue(outB.curve.eval.isEmpty)
    }

    func testResumedRunRecordsTheSameCurve() throws {
        let a = TinyModel(seed: 1)
        let loopA = TrainLoop(spec: spec(steps: 30, every: 0), trainCount: 20, configHash: "h", checkpointURL: nil)
        let outA = try loopA.run(model: a, rng: RNG(seed: 9), step: lossFn(a), curveEvaluation: evaluation(a), progress: { _ in })

        // Interrupted at step 14 (the last checkpoint at step 12, after the first evaluation
        // point), then resumed.
        let ckpt = Fixture.tempDir().appendingPathComponent("cell.ckpt")
        let b = TinyModel(seed: 1)
        let loopB = TrainLoop(spec: spec(steps: 30, every: 4), trainCount: 20, configHash: "h", checkpointURL: ckpt)
        var calls = 0
        let base = lossFn(b)
        XCTAssertThrowsError(try loopB.run(model: b, rng: RNG(seed: 9), step: { idx, rng in
            calls += 1
            if calls == 14 { throw Interrupt() }
            return try base(idx, &rng)
        }, curveEvaluation: evaluation(b), progress: { _ in }))
        let c = TinyModel(seed: 1)
        let outC = try loopB.run(model: c, rng: RNG(seed: 9), step: lossFn(c), curveEvaluation: evaluation(c), progress: { _ in })
        XCTAssertEqual(outC.resumedFrom, 12)
        XCTAssertEqual(outC.curve, outA.curve)
        XCTAssertEqual(outC.finalLoss, outA.finalLoss)
    }

    func curve(_ means: [Double]) -> LossCurve {
        LossCurve(segments: means.enumerated().map { LossCurve.Segment(firstStep: $0.offset * 5 + 1, lastStep: $0.offset * 5 + 5, meanLoss: $0.element) },
                  metric: "accuracy", evalSubset: "", eval: [])
    }

    func testConvergenceRule() {
        // Segments 17-18 average 1.0, 19-20 average 0.97: a 3 % fall, not converged.
        var m = [Double](repeating: 2, count: 16) + [1.02, 0.98, 0.98, 0.96]
        XCTAssertEqual(curve(m).lastFifthDrop!, 0.03, accuracy: 1e-12)
        XCTAssertEqual(curve(m).converged, false)
        // 1.0 to 0.99: 1 %, converged.
        m = [Double](repeating: 2, count: 16) + [1.0, 1.0, 0.99, 0.99]
        XCTAssertEqual(curve(m).lastFifthDrop!, 0.01, accuracy: 1e-12)
        XCTAssertEqual(curve(m).converged, true)
        // A rising loss is converged (the rule is about a loss still falling).
        m = [Double](repeating: 2, count: 16) + [1.0, 1.0, 1.1, 1.1]
        XCTAssertEqual(curve(m).converged, true)
        // Near zero: 0.004 to 0.002 is a 50 % fall but only 0.002 in absolute terms (at or
        // below the floor of 0.01): converged.
        m = [Double](repeating: 2, count: 16) + [0.004, 0.004, 0.002, 0.002]
        XCTAssertEqual(curve(m).lastFifthDrop!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(curve(m).lastFifthFall!, 0.002, accuracy: 1e-12)
        XCTAssertEqual(curve(m).converged, true)
        // 0.05 to 0.035: 30 % and 0.015 (above the floor): not converged.
        m = [Double](repeating: 2, count: 16) + [0.05, 0.05, 0.035, 0.035]
        XCTAssertEqual(curve(m).converged, false)
        // Fewer than 20 segments: no verdict.
        XCTAssertNil(curve([1, 0.5, 0.2]).converged)
    }

    /// A real text cell (dropout, Switch routing with its training-time noise) gives the same
    /// metrics, to the bit, with and without the curve's intermediate evaluation.
    func testTrainerMetricsUnchangedByIntermediateEvaluation() throws {
        let tmp = Fixture.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var model = ModelSpec.default
        (model.d, model.depth, model.heads, model.ffnHidden, model.dropout, model.maxLength, model.vocabSize) = (16, 2, 2, 32, 0.1, 24, 300)
        var training = TrainingSpec.default
        training.steps = 12
        training.batchSize = 8
        let env = EnvironmentRecord(gitCommit: "test", swiftVersion: "6", blas: "openblas", threads: 1, cpu: "cpu", os: "os")
        for (task, modality, method) in [("sst2", Modality.text, "switch"), ("stsb", .text, "top2"), ("rte", .text, "dlr"), ("sst2", .text, "topp"),
                                      ("cifar100", .image, "dense")] {
            let cfg = CellConfig(suite: modality == .text ? "glue" : "cifar100", modality: modality, tier: "smoke", data: "smoke",
                                 task: task, method: MethodEntry(label: method, method: method, options: ["switch", "top2", "topp"].contains(method) ? ["experts": .int(4)] : [:]),
                                 seed: 1, model: model, training: training)
            func run(_ curve: Bool) throws -> CellResult {
                let t = Trainer(dataDir: tmp.appendingPathComponent("data"), realData: nil,
                                resultsRoot: tmp.appendingPathComponent("results-\(curve)"), environment: env, log: { _ in })
                t.recordsCurveMetric = curve
                return try t.run(Cell(config: cfg), progress: { _ in })
            }
            let with = try run(true), without = try run(false)
            XCTAssertEqual(with.metrics, without.metrics, task)
            XCTAssertEqual(with.finalTrainLoss, without.finalTrainLoss, task)
            XCTAssertEqual(with.flops, without.flops, task)
            XCTAssertEqual(with.curve?.segments, without.curve?.segments, task)
            let c = try XCTUnwrap(with.curve)
            XCTAssertEqual(c.segments.count, 12)
            XCTAssertEqual(c.eval.map(\.step), [4, 8, 12], task)
            XCTAssertEqual(c.metric, TaskCatalog.info(task)!.metrics[0])
            XCTAssertTrue(without.curve!.eval.isEmpty)
            // The stored result round-trips with its curve.
            let url = tmp.appendingPathComponent("r.json")
            try ResultStore.write(with, to: url)
            XCTAssertEqual(try ResultStore.read(url).curve, c)
        }
    }
}
