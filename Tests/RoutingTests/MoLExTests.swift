import Foundation
import Routing
import TestSupport
import XCTest

/// MoLEx: a = 1 is the plain backbone, the majority vote on hand-built gates, the mixing
/// formula on hand-built blocks, gradients of the shared block from both of its uses, the
/// gate's training signal, and that it trains.
final class MoLExTests: XCTestCase {
    func options(_ v: [String: OptionValue] = [:]) -> MethodOptions { MethodOptions(method: "molex", v) }

    func testAEqualsOneIsThePlainBackbone() throws {
        let cfg = Fixture.config(depth: 3)
        var r1 = RNG(seed: 1), r2 = RNG(seed: 1)
        let plain = try Backbone(config: cfg, method: "dense", rng: &r1)
        let molex = try Backbone(config: cfg, method: "molex", options: ["a": .double(1)], rng: &r2)
        var rng = RNG(seed: 2)
        let x = Tensor.randn([3, 5, 8], rng: &rng)
        let batch = PaddedBatch(lengths: [5, 2, 4])
        var c1 = Fixture.context(), c2 = Fixture.context()
        let a = Autograd.noGrad { plain(x, batch: batch, context: &c1) }
        let b = Autograd.noGrad { molex(x, batch: batch, context: &c2) }
        XCTAssertEqual(b.stats.count, 3)
        assertClose(Fixture.realRows(b.hidden, batch.lengths).flatMap { $0 },
                    Fixture.realRows(a.hidden, batch.lengths).flatMap { $0 }, atol: 0, rtol: 0)
        // ... and with the default a = 0.95 it is not.
        var r3 = RNG(seed: 1)
        let mixed = try Backbone(config: cfg, method: "molex", rng: &r3)
        var c3 = Fixture.context()
        let m = Autograd.noGrad { mixed(x, batch: batch, context: &c3) }
        let diff = zip(m.hidden.scalars, a.hidden.scalars).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(diff, 1e-3)
    }

    func testMajorityVoteOnHandBuiltGateOutputs() {
        // L = 3. Tokens' top-1: seq 0 -> [2, 2, 1], seq 1 -> [0, 1] (tie -> 0),
        // seq 2 -> [1, 2, 1, 2, 0] (tie 1/2 -> 1).
        let top: [Int] = [2, 2, 1, 0, 1, 1, 2, 1, 2, 0]
        var p = [Float](repeating: 0.1, count: top.count * 3)
        for (t, j) in top.enumerated() { p[t * 3 + j] = 0.8 }
        let offsets = [0, 3, 5, 10]
        XCTAssertEqual(MoLEx.chooseBlocks(probs: p, blocks: 3, offsets: offsets, granularity: .sequence), [2, 0, 1])
        // Batch mode: votes 0:2, 1:4, 2:4 -> tie -> 1 for everyone.
        XCTAssertEqual(MoLEx.chooseBlocks(probs: p, blocks: 3, offsets: offsets, granularity: .batch), [1, 1, 1])
        // A token's own top-1 ties go to the lower index too: [0.4, 0.4, 0.2] votes 0.
        XCTAssertEqual(MoLEx.chooseBlocks(probs: [0.4, 0.4, 0.2], blocks: 3, offsets: [0, 1], granularity: .sequence), [0])
    }

    /// Hand-built gate (tokens vote for the block of their largest feature) and hand-built
    /// "blocks" `Block_j(h) = (j + 1)·h + j`: the output is `a·Block_i + (1-a)·Block_j` per
    /// sequence, each block is evaluated once, and the statistics match.
    func testMixingFormulaWithHandBuiltGateAndBlocks() throws {
        var rng = RNG(seed: 3)
        let molex = try MoLEx(d: 3, blocks: 3, options: options(["a": .double(0.7)]), rng: &rng)
        let g = molex.gates[0]
        for i in 0..<9 { g.data[i] = i % 4 == 0 ? 10 : 0 }  // identity: token votes argmax feature
        // seq 0 (len 3) votes [2, 2, 1] -> 2; seq 1 (len 2) votes [0, 1] -> 0 (= i).
        let hv: [Float] = [0, 0, 1, 0, 0, 2, 0, 3, 0, /* pad */ 9, 9, 9,
                           1, 0, 0, 0, 1, 0, /* pads */ 9, 9, 9, 9, 9, 9]
        let h = Tensor(shape: [2, 4, 3], scalars: hv)
        let batch = PaddedBatch(lengths: [3, 2], length: 4)
        var calls: [(Int, Int)] = []
        let ev = BlockEvaluator(input: h, batch: batch, blockCount: 3) { j, x, b, _ in
            calls.append((j, b.batchSize))
            return (x * Float(j + 1) + Float(j), nil)
        }
        var ctx = Fixture.context()
        let out = molex.mix(h, block: 0, blocks: ev, context: &ctx)
        XCTAssertEqual(out.stats.chosenBlocks, [[2], [0]])
        XCTAssertEqual(out.stats.assignedPerUnit, [1, 0, 1])
        XCTAssertEqual(calls.map(\.0), [0, 2])        // block 0 on all, block 2 on sequence 0 only
        XCTAssertEqual(calls.map(\.1), [2, 1])
        XCTAssertEqual(ev.evaluationCount, 3)
        var expected: [Float] = []
        for b in 0..<2 {
            let j = b == 0 ? 2 : 0
            for t in 0..<batch.lengths[b] {
                for c in 0..<3 {
                    let x = hv[(b * 4 + t) * 3 + c]
                    expected.append(0.7 * x + 0.3 * (Float(j + 1) * x + Float(j)))
                }
            }
        }
        assertClose(batch.gatherTokens(out.y).scalars, expected, atol: 1e-6)
        // Balance loss: g · L · Σ f_l P_l with f = [.5, 0, .5], P = mean token probabilities.
        let p = Autograd.noGrad { linear(batch.gatherTokens(h), g).softmax(axis: -1) }.scalars
        var P = [Float](repeating: 0, count: 3)
        for t in 0..<5 { for l in 0..<3 { P[l] += p[t * 3 + l] / 5 } }
        assertClose([out.auxLoss!.item], [0.01 * 3 * (0.5 * P[0] + 0.5 * P[2])], atol: 1e-7)
        XCTAssertEqual(out.stats.chosenHistogram, [0, 2, 0, 0])
    }

    /// The shared block gets the sum of the gradients of its two uses: computed once with
    /// the shared object, once with an identical copy standing in for the expert use.
    func testSharedBlockGradientIsTheSumOfBothUses() throws {
        let cfg = Fixture.config(depth: 2)
        var r1 = RNG(seed: 5), r2 = RNG(seed: 5)
        let shared = try Backbone(config: cfg, method: "molex", rng: &r1)
        let copy = try Backbone(config: cfg, method: "molex", rng: &r2)   // same weights, other objects
        for bb in [shared, copy] {
            let g = (bb.mixer as! MoLEx).gates[0]
            for r in 0..<8 { g.data[r * 2] = -1; g.data[r * 2 + 1] = 1 }    // positive inputs vote block 1
        }
        var rng = RNG(seed: 6)
        let h0 = Tensor.uniform([2, 3, 8], 0.5, 1.5, rng: &rng)
        let batch = PaddedBatch(lengths: [3, 2])

        func run(_ bb: Backbone, expertBlocks: [EncoderBlock]) -> (Tensor, [LayerStats]) {
            var ctx = Fixture.context()
            var h = h0
            var stats: [LayerStats] = []
            for i in 0..<2 {
                let ev = BlockEvaluator(input: h, batch: batch, blockCount: 2) { j, x, b, c in
                    // Block i (the step's own block) from `bb`, the chosen expert from `expertBlocks`.
                    let block = j == i ? bb.blocks[j] : expertBlocks[j]
                    return (block(x, batch: b, layer: j, context: &c).0, nil)
                }
                let out = bb.mixer!.mix(h, block: i, blocks: ev, context: &ctx)
                h = out.y
                stats.append(out.stats)
            }
            return (Fixture.weightedSum(batch.gatherTokens(h)), stats)
        }

        let (lossShared, stats) = run(shared, expertBlocks: shared.blocks)
        XCTAssertEqual(stats[0].chosenBlocks, [[1], [1]], "step 0 must use block 1 as the expert")
        lossShared.backward()

        // Separate: `copy`'s blocks for each step's own block, a third identical stack's
        // blocks for the expert use.
        var r3 = RNG(seed: 5)
        let expert = try Backbone(config: cfg, method: "molex", rng: &r3)
        let (loss2, _) = run(copy, expertBlocks: expert.blocks)
        loss2.backward()
        assertClose([loss2.item], [lossShared.item], rtol: 1e-6)
        let names = shared.blocks[1].namedParameters().map(\.0)
        let sharedGrads = shared.blocks[1].parameters().map { $0.grad?.scalars ?? [] }
        let ownGrads = copy.blocks[1].parameters().map { $0.grad?.scalars ?? [] }
        let expertGrads = expert.blocks[1].parameters().map { $0.grad?.scalars ?? [] }
        for k in names.indices {
            XCTAssertTrue(ownGrads[k].contains { $0 != 0 }, "own use of \(names[k])")
            XCTAssertTrue(expertGrads[k].contains { $0 != 0 }, "expert use of \(names[k])")
            assertClose(sharedGrads[k], zip(ownGrads[k], expertGrads[k]).map { $0 + $1 }, atol: 1e-5, rtol: 1e-4, names[k])
        }
    }

    func testGateLearnsOnlyFromBalanceUnlessGateInOutput() throws {
        var rng = RNG(seed: 7)
        let x = Tensor.randn([2, 4, 8], rng: &rng)
        let batch = PaddedBatch(lengths: [4, 3])
        func gateGrad(_ opts: [String: OptionValue]) throws -> (Tensor, [Float]) {
            var r = RNG(seed: 8)
            let bb = try Backbone(config: Fixture.config(), method: "molex", options: opts, rng: &r)
            var ctx = Fixture.context()
            let out = bb(x, batch: batch, context: &ctx)
            Fixture.weightedSum(batch.gatherTokens(out.hidden)).backward()   // task loss only
            return (out.hidden, (bb.mixer as! MoLEx).gates[0].grad?.scalars ?? [])
        }
        let (h0, g0) = try gateGrad([:])
        XCTAssertTrue(g0.allSatisfy { $0 == 0 }, "the task loss must not reach the gate")
        let (h1, g1) = try gateGrad(["gate_in_output": .bool(true)])
        XCTAssertTrue(g1.contains { $0 != 0 }, "gate_in_output: the task loss reaches the gate")
        assertClose(h1.scalars, h0.scalars, atol: 0, rtol: 0)   // straight-through: same forward
    }

    func testLearnableAStartsAtOneHalfAndGetsGradients() throws {
        var rng = RNG(seed: 9)
        let bb = try Backbone(config: Fixture.config(), method: "molex", options: ["learnable_a": .bool(true)], rng: &rng)
        let m = bb.mixer as! MoLEx
        XCTAssertEqual(m.mixLogits!.scalars, [0.5, 0.5, 0.5, 0.5])
        var ctx = Fixture.context()
        let x = Tensor.randn([2, 3, 8], rng: &rng)
        let out = bb(x, batch: PaddedBatch(lengths: [3, 3]), context: &ctx)
        (Fixture.weightedSum(out.hidden) + out.auxLoss!).backward()
        let g = m.mixLogits!.grad?.scalars ?? [0, 0, 0, 0]
        XCTAssertTrue(g.contains { $0 != 0 })
        // d/du = -d/dv for a = softmax(u, v)_0.
        assertClose([g[0] + g[1], g[2] + g[3]], [0, 0], atol: 1e-6)
        // a = 0.5: the block output is the mean of the two blocks.
        XCTAssertThrowsError(try Backbone(config: Fixture.config(), method: "molex", options: ["a": .double(1.5)], rng: &rng))
        XCTAssertThrowsError(try Backbone(config: Fixture.config(), method: "molex", options: ["granularity": .string("token")], rng: &rng))
    }

    func testPerBlockGatesAndBatchGranularity() throws {
        var rng = RNG(seed: 10)
        let bb = try Backbone(config: Fixture.config(depth: 3), method: "molex",
                              options: ["gate_per_block": .bool(true), "granularity": .string("batch")], rng: &rng)
        XCTAssertEqual((bb.mixer as! MoLEx).gates.count, 3)
        var ctx = Fixture.context()
        let out = Autograd.noGrad { bb(Tensor.randn([4, 3, 8], rng: &rng), batch: PaddedBatch(lengths: [3, 1, 2, 3]), context: &ctx) }
        for s in out.stats {
            XCTAssertEqual(Set(s.chosenBlocks!.map { $0[0] }).count, 1, "one block for the whole batch")
        }
    }

    /// MoLEx on a tiny learnable text task: the label is whether the second token is in the
    /// upper half of the vocabulary. The training loss falls.
    func testTrains() throws {
        let (first, last) = try TinyTask.train(method: "molex", options: [:], steps: 120)
        XCTAssertLessThan(last, 0.5 * first, "loss \(first) -> \(last)")
    }
}

/// A tiny classification task for training tests.
enum TinyTask {
    static func train(method: String, options: [String: OptionValue], steps: Int, seed: UInt64 = 1) throws -> (Float, Float) {
        var rng = RNG(seed: seed)
        let cfg = ModelConfig(frontEnd: .text, backbone: Fixture.config(d: 16, depth: 2, heads: 2, hidden: 32, maxLength: 8),
                              head: .classification(classes: 2), vocabSize: 10)
        let model = try Model(config: cfg, method: method, options: options, rng: &rng)
        let opt = Adam(model.parameters(), lr: 3e-3)
        var losses: [Float] = []
        for step in 0..<steps {
            var tokens: [[Int]] = [], labels: [Int] = []
            for _ in 0..<16 {
                let n = 3 + rng.int(4)
                let seq = [0] + (1..<n).map { _ in 1 + rng.int(9) }
                tokens.append(seq)
                labels.append(seq[1] >= 5 ? 1 : 0)
            }
            var ctx = RoutingContext(training: true, rng: rng.split(UInt64(step)), taskID: 0, sequenceOffsets: [])
            model.zeroGrad()
            let loss = model.loss(.text(tokens: tokens, segments: nil), targets: .classes(labels), context: &ctx)
            loss.total.backward()
            opt.step()
            losses.append(loss.task.item)
        }
        let k = min(10, steps / 4)
        return (losses.prefix(k).reduce(0, +) / Float(k), losses.suffix(k).reduce(0, +) / Float(k))
    }
}
