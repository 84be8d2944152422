import Foundation
import NN
import TestSupport
import XCTest

/// tanh through the generic pointwise helper: dy/dx = 1 - y².
private func tanhActivation(_ x: Tensor) -> Tensor {
    unaryOp(x, { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y })
}

private final class MLP: Module {
    let hidden: Linear
    let out: Linear

    init(rng: inout RNG) {
        hidden = Linear(4, 16, rng: &rng)
        out = Linear(16, 1, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { out(tanhActivation(hidden(x))) }
}

/// A small regression problem: 64 points in [-1, 1)⁴, target x0·x1 − 0.5·x2 + x3².
private struct Problem {
    let x: [Float]
    let y: [Float]
    static let n = 64

    init() {
        var rng = RNG(seed: 1234)
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<Problem.n {
            let p = (0..<4).map { _ in rng.uniform(-1, 1) }
            x += p
            y.append(p[0] * p[1] - 0.5 * p[2] + p[3] * p[3])
        }
        self.x = x
        self.y = y
    }

    func batch(_ rows: [Int]) -> (Tensor, Tensor) {
        var bx: [Float] = [], by: [Float] = []
        for r in rows { bx += x[r * 4 ..< r * 4 + 4]; by.append(y[r]) }
        return (Tensor(shape: [rows.count, 4], scalars: bx), Tensor(shape: [rows.count, 1], scalars: by))
    }
}

/// One training setup: model, AdamW, warm-up + cosine schedule, clipping, minibatches
/// drawn from an `order` generator.
private final class Run {
    let problem = Problem()
    let model: MLP
    let optimizer: AdamW
    let schedule = LRSchedule.cosine(0.03, warmup: 3, total: 20, floor: 0.003)
    var order: RNG
    var step = 0

    init(seed: UInt64) {
        let root = RNG(seed: seed)
        var initRNG = root.split("init")
        model = MLP(rng: &initRNG)
        optimizer = AdamW(model.parameters(), lr: 0, weightDecay: 0.01)
        order = root.split("order")
    }

    /// Mean squared error; gradients of the mean via the backward seed 1/B.
    func trainStep() {
        let rows = (0..<16).map { _ in order.int(Problem.n) }
        let (x, y) = problem.batch(rows)
        optimizer.zeroGrad()
        let diff = model(x) - y
        let sq = diff * diff
        sq.backward(seed: Tensor(shape: sq.shape, repeating: 1 / Float(rows.count)))
        clipGradNorm(optimizer.params, maxNorm: 1)
        optimizer.lr = schedule.lr(step)
        optimizer.step()
        step += 1
    }

    func train(until end: Int) { while step < end { trainStep() } }

    func fullLoss() -> Float {
        Autograd.noGrad {
            let (x, y) = problem.batch(Array(0..<Problem.n))
            let d = (model(x) - y).scalars
            return d.reduce(0) { $0 + $1 * $1 } / Float(d.count)
        }
    }

    var parameterBits: [UInt32] { model.parameters().flatMap { $0.scalars.map(\.bitPattern) } }
}

final class TrainingTests: XCTestCase {
    func testSameSeedIsBitIdenticalOtherSeedDiffers() {
        let a = Run(seed: 7), b = Run(seed: 7), c = Run(seed: 8)
        XCTAssertEqual(a.parameterBits, b.parameterBits)
        let before = a.fullLoss()
        a.train(until: 20); b.train(until: 20); c.train(until: 20)
        XCTAssertEqual(a.parameterBits, b.parameterBits)
        XCTAssertNotEqual(a.parameterBits, c.parameterBits)
        // The loop actually trains.
        XCTAssertLessThan(a.fullLoss(), 0.7 * before)
    }

    func testResumeFromCheckpointIsBitIdentical() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nn-resume-\(UUID().uuidString).ckpt")
        defer { try? FileManager.default.removeItem(at: url) }

        let straight = Run(seed: 11)
        straight.train(until: 20)

        let first = Run(seed: 11)
        first.train(until: 10)
        try TrainingCheckpoint.save(to: url, model: first.model, optimizer: first.optimizer,
                                    metadata: TrainingMetadata(step: first.step, rngs: ["order": first.order],
                                                               configHash: "mlp-4-16-1"))

        let resumed = Run(seed: 999)   // different initial weights and data order
        let meta = try TrainingCheckpoint.load(from: url, model: resumed.model, optimizer: resumed.optimizer,
                                               expectedConfigHash: "mlp-4-16-1")
        resumed.step = meta.step
        resumed.order = meta.rngs["order"]!
        XCTAssertEqual(resumed.parameterBits, first.parameterBits)
        resumed.train(until: 20)
        XCTAssertEqual(resumed.parameterBits, straight.parameterBits)
    }
}
