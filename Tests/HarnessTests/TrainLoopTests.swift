import Foundation
import Analysis
import Harness
import NN
import XCTest

final class TinyModel: Module {
    let fc: Linear
    init(seed: UInt64) {
        var rng = RNG(seed: seed)
        fc = Linear(3, 1, rng: &rng)
    }
}

final class TrainLoopTests: XCTestCase {
    struct Interrupt: Error {}

    // y = x·[1, −2, 0.5] + noise-free; 20 examples.
    let xs: [[Float]] = (0..<20).map { i in [Float(i % 5) / 5, Float(i % 3) / 3, Float(i % 7) / 7] }
    func target(_ x: [Float]) -> Float { x[0] - 2 * x[1] + 0.5 * x[2] }

    func spec(steps: Int, every: Int) -> TrainingSpec {
        var s = TrainingSpec.default
        s.steps = steps
        s.batchSize = 6 // not a divisor of 20: batches straddle epochs
        s.lr = 0.05
        s.checkpointEvery = every
        return s
    }

    func lossFn(_ model: TinyModel) -> ([Int], inout RNG) throws -> Tensor {
        { idx, rng in
            let x = Tensor(shape: [idx.count, 3], scalars: idx.flatMap { self.xs[$0] })
            let y = Tensor(shape: [idx.count, 1], scalars: idx.map { self.target(self.xs[$0]) })
            // Dropout draws from the loop's train stream, so resume must restore it.
            let h = dropout(model.fc(x), p: 0.1, rng: &rng, training: true)
            return mseLoss(h, y)
        }
    }

    func testLossFallsAndResumeIsBitIdentical() throws {
        let dir = Fixture.tempDir()
        let ckpt = dir.appendingPathComponent("cell.ckpt")
        // Uninterrupted.
        let a = TinyModel(seed: 1)
        let loopA = TrainLoop(spec: spec(steps: 30, every: 0), trainCount: 20, configHash: "h", checkpointURL: nil)
        let outA = try loopA.run(model: a, rng: RNG(seed: 9), step: lossFn(a), progress: { _ in })
        XCTAssertEqual(outA.steps, 30)
        XCTAssertGreaterThan(outA.flops, 0)

        // Interrupted after step 8 (checkpoints every 4 steps: the last one at step 8), then resumed.
        let b = TinyModel(seed: 1)
        let loopB = TrainLoop(spec: spec(steps: 30, every: 4), trainCount: 20, configHash: "h", checkpointURL: ckpt)
        var calls = 0
        let base = lossFn(b)
        XCTAssertThrowsError(try loopB.run(model: b, rng: RNG(seed: 9), step: { idx, rng in
            calls += 1
            if calls == 10 { throw Interrupt() }
            return try base(idx, &rng)
        }, progress: { _ in }))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt.path))
        let c = TinyModel(seed: 77) // different initial weights: must be overwritten by the checkpoint
        let outC = try loopB.run(model: c, rng: RNG(seed: 9), step: lossFn(c), progress: { _ in })
        XCTAssertEqual(outC.resumedFrom, 8)
        XCTAssertEqual(c.fc.weight.scalars, a.fc.weight.scalars)
        XCTAssertEqual(c.fc.bias!.scalars, a.fc.bias!.scalars)
        XCTAssertEqual(outC.finalLoss, outA.finalLoss)
        XCTAssertEqual(outC.flops, outA.flops)

        // A checkpoint from another configuration is ignored (the run starts over).
        let d = TinyModel(seed: 1)
        let loopD = TrainLoop(spec: spec(steps: 30, every: 4), trainCount: 20, configHash: "other", checkpointURL: ckpt)
        let outD = try loopD.run(model: d, rng: RNG(seed: 9), step: lossFn(d), progress: { _ in })
        XCTAssertNil(outD.resumedFrom)
        XCTAssertEqual(d.fc.weight.scalars, a.fc.weight.scalars)
    }

    func testDivergenceIsReported() {
        let m = TinyModel(seed: 1)
        let loop = TrainLoop(spec: spec(steps: 5, every: 0), trainCount: 20, configHash: "h", checkpointURL: nil)
        XCTAssertThrowsError(try loop.run(model: m, rng: RNG(seed: 1), step: { _, _ in
            m.fc.weight.sum() * Float.nan
        }, progress: { _ in })) { XCTAssertTrue("\($0)".contains("diverged at step 0")) }
    }

    func testStepsFromEpochs() {
        var s = TrainingSpec.default
        s.steps = nil
        s.epochs = 2.5
        s.batchSize = 8
        XCTAssertEqual(TrainLoop(spec: s, trainCount: 20, configHash: "", checkpointURL: nil).totalSteps, 7)
    }
}

/// The loop applies its parameter groups: one SGD step (momentum buffer = gradient at the
/// first step), gradient 1 everywhere from `sum(weight) + sum(bias)`, constant schedule.
final class TrainLoopParameterGroupTests: XCTestCase {
    func testGroupsGetTheirOwnLearningRate() throws {
        var s = TrainingSpec.default
        s.steps = 1
        s.batchSize = 1
        s.lr = 0.1
        s.weightDecay = 0
        s.optimizer = "sgd"
        s.schedule = "constant"
        s.warmupFraction = 0
        s.clipNorm = nil
        func run(_ groups: [ParameterGroup]) throws -> TinyModel {
            let m = TinyModel(seed: 1)
            var loop = TrainLoop(spec: s, trainCount: 4, configHash: "h", checkpointURL: nil)
            loop.parameterGroups = groups
            _ = try loop.run(model: m, rng: RNG(seed: 2), step: { _, _ in m.fc.weight.sum() + m.fc.bias!.sum() }, progress: { _ in })
            return m
        }
        let before = TinyModel(seed: 1)
        let plain = try run([])
        // fc.weight in the group (lr 0.5): moves by 0.5; fc.bias in the default group (0.1).
        let grouped = try run([ParameterGroup(name: "w", prefixes: ["fc.weight"], lr: 0.5)])
        for j in 0..<3 {
            XCTAssertEqual(plain.fc.weight.scalars[j], before.fc.weight.scalars[j] - 0.1, accuracy: 1e-6)
            XCTAssertEqual(grouped.fc.weight.scalars[j], before.fc.weight.scalars[j] - 0.5, accuracy: 1e-6)
        }
        XCTAssertEqual(grouped.fc.bias!.scalars[0], before.fc.bias!.scalars[0] - 0.1, accuracy: 1e-6)
    }
}
