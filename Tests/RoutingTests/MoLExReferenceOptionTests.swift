import Foundation
import Routing
import TestSupport
import XCTest

/// The options that make MoLEx run as its reference code does (gate bias, batch-wide vote,
/// shared learnable mixing pair, balance coefficient 0), and DLR's gate bias; each changes
/// what it should and nothing else.
final class MoLExReferenceOptionTests: XCTestCase {
    func molex(_ opts: [String: OptionValue], seed: UInt64 = 5, depth: Int = 2) throws -> Backbone {
        var rng = RNG(seed: seed)
        return try Backbone(config: Fixture.config(depth: depth), method: "molex", options: opts, rng: &rng)
    }

    func testGateBiasIsAParameterAndLeavesTheWeightsAsTheyWere() throws {
        let off = try molex([:]), on = try molex(["gate_bias": .bool(true)])
        let mOff = off.mixer as! MoLEx, mOn = on.mixer as! MoLEx
        XCTAssertTrue(mOff.gateBiases.isEmpty)
        XCTAssertEqual(mOn.gateBiases.map(\.shape), [[2]])
        XCTAssertEqual(mOn.gates[0].scalars, mOff.gates[0].scalars)
        XCTAssertTrue(on.namedParameters().contains { $0.0.hasSuffix("gateBiases.0") })
        XCTAssertEqual(on.parameterCount, off.parameterCount + 2)
        // U(±1/sqrt(d)), d = 8.
        XCTAssertTrue(mOn.gateBiases[0].scalars.allSatisfy { abs($0) <= 1 / Float(8).squareRoot() })
        // Per-block gates: one bias per gate.
        let pb = try molex(["gate_bias": .bool(true), "gate_per_block": .bool(true)], depth: 3).mixer as! MoLEx
        XCTAssertEqual(pb.gateBiases.count, 3)
    }

    /// A hand-built gate: zero weights, so the bias alone decides every token's vote.
    /// Bias favouring block 1 -> every sequence mixes with block 1; the bias receives the
    /// balance loss's gradient.
    func testGateBiasDecidesTheVoteOnAHandBuiltGate() throws {
        let bb = try molex(["gate_bias": .bool(true)])
        let m = bb.mixer as! MoLEx
        for k in 0..<m.gates[0].count { m.gates[0].data[k] = 0 }
        m.gateBiases[0].data[0] = -1
        m.gateBiases[0].data[1] = 2
        var rng = RNG(seed: 3)
        var ctx = Fixture.context()
        let out = bb(Tensor.randn([3, 4, 8], rng: &rng), batch: PaddedBatch(lengths: [4, 2, 3]), context: &ctx)
        for s in out.stats { XCTAssertEqual(s.chosenBlocks!.map { $0[0] }, [1, 1, 1]) }
        out.auxLoss!.backward()
        XCTAssertTrue(Fixture.hasGradient(m.gateBiases[0]))
    }

    /// Batch mode on a hand-built input: sequences whose own votes differ all take the
    /// batch's mode. Sequence 0's tokens vote 0, sequence 1's vote 1 (three tokens against
    /// two), so per sequence the choices are [0, 1] and over the batch [1, 1].
    func testBatchModeVotePicksOneBlockForTheWholeBatch() throws {
        func choices(_ g: String) throws -> [[Int]] {
            var rng = RNG(seed: 5)
            let m = try MoLEx(d: 8, blocks: 2, options: MethodOptions(method: "molex", ["granularity": .string(g)]), rng: &rng)
            // Gate [8, 2]: feature 0 -> block 0, feature 1 -> block 1.
            for k in 0..<m.gates[0].count { m.gates[0].data[k] = 0 }
            m.gates[0].data[0 * 2 + 0] = 10
            m.gates[0].data[1 * 2 + 1] = 10
            var hv = [Float](repeating: 0, count: 2 * 3 * 8)
            for t in 0..<2 { hv[(0 * 3 + t) * 8 + 0] = 1 }     // seq 0: 2 tokens for block 0
            for t in 0..<3 { hv[(1 * 3 + t) * 8 + 1] = 1 }     // seq 1: 3 tokens for block 1
            let h = Tensor(shape: [2, 3, 8], scalars: hv)
            let batch = PaddedBatch(lengths: [2, 3], length: 3)
            let ev = BlockEvaluator(input: h, batch: batch, blockCount: 2) { j, x, _, _ in (x * Float(j + 1), nil) }
            var ctx = Fixture.context()
            let out = Autograd.noGrad { m.mix(h, block: 0, blocks: ev, context: &ctx) }
            return [out.stats.chosenBlocks!.map { $0[0] }]
        }
        XCTAssertEqual(try choices("sequence"), [[0, 1]])
        XCTAssertEqual(try choices("batch"), [[1, 1]])
    }

    func testSharedLearnablePair() throws {
        let bb = try molex(["learnable_a": .bool(true), "a_per_block": .bool(false)], depth: 3)
        let m = bb.mixer as! MoLEx
        XCTAssertEqual(m.mixLogits!.shape, [1, 2])
        var rng = RNG(seed: 4)
        var ctx = Fixture.context()
        let out = bb(Tensor.randn([2, 3, 8], rng: &rng), batch: PaddedBatch(lengths: [3, 2]), context: &ctx)
        Fixture.weightedSum(out.hidden).backward()
        let g = m.mixLogits!.grad!.scalars
        XCTAssertNotEqual(g[0], 0)
        XCTAssertEqual(g[0] + g[1], 0, accuracy: 1e-6)
        // The default stays one pair per block.
        XCTAssertEqual((try molex(["learnable_a": .bool(true)], depth: 3).mixer as! MoLEx).mixLogits!.shape, [3, 2])
    }

    /// With balance coefficient 0 the gate (weights and bias) receives no gradient at all,
    /// from the task loss or the auxiliary loss; with the default it learns from the balance
    /// loss. The forward pass does not change.
    func testBalanceOffMeansTheGateReceivesNoGradient() throws {
        var rng = RNG(seed: 6)
        let x = Tensor.randn([3, 4, 8], rng: &rng)
        let batch = PaddedBatch(lengths: [4, 3, 2])
        func run(_ w: Double) throws -> (MoLEx, Tensor) {
            let bb = try molex(["gate_bias": .bool(true), "balance_weight": .double(w)])
            var ctx = Fixture.context()
            let out = bb(x, batch: batch, context: &ctx)
            (Fixture.weightedSum(batch.gatherTokens(out.hidden)) + (out.auxLoss ?? Tensor(scalar: 0))).backward()
            return (bb.mixer as! MoLEx, out.hidden)
        }
        let (off, h0) = try run(0)
        XCTAssertNil(off.gates[0].grad, "no gradient reaches the gate")
        XCTAssertNil(off.gateBiases[0].grad, "no gradient reaches the gate bias")
        let (on, h1) = try run(0.01)
        XCTAssertTrue(Fixture.hasGradient(on.gates[0]))
        XCTAssertTrue(Fixture.hasGradient(on.gateBiases[0]))
        assertClose(h0.scalars, h1.scalars, atol: 0, rtol: 0)
    }

    func testOptionsAreRegisteredWithTheirDefaults() throws {
        let molexDefaults = OptionDefaults.defaults(of: try MethodRegistry.method("molex"))
        XCTAssertEqual(molexDefaults["gate_bias"], "false")
        XCTAssertEqual(molexDefaults["a_per_block"], "true")
        XCTAssertEqual(molexDefaults["a"], "0.95")
        XCTAssertEqual(molexDefaults["granularity"], "sequence")
        XCTAssertEqual(molexDefaults["balance_weight"], "0.01")
        XCTAssertEqual(OptionDefaults.defaults(of: try MethodRegistry.method("dlr"))["gate_bias"], "false")
    }

    func testDLRGateBias() throws {
        var r1 = RNG(seed: 2), r2 = RNG(seed: 2)
        let off = try Backbone(config: Fixture.config(), method: "dlr", rng: &r1)
        let on = try Backbone(config: Fixture.config(), method: "dlr", options: ["gate_bias": .bool(true)], rng: &r2)
        let dOff = off.mixer as! DLR, dOn = on.mixer as! DLR
        XCTAssertTrue(dOff.sequenceGateBiases.isEmpty && dOff.tokenGateBiases.isEmpty)
        XCTAssertEqual(dOn.sequenceGateBiases.map(\.shape), [[2]])
        XCTAssertEqual(dOn.tokenGateBiases.map(\.shape), [[2]])
        XCTAssertEqual(dOn.sequenceGates[0].scalars, dOff.sequenceGates[0].scalars)
        XCTAssertEqual(dOn.taskEmbedding.scalars, dOff.taskEmbedding.scalars)
        XCTAssertEqual(on.parameterCount, off.parameterCount + 4)
        // tau 0.99: every sequence chooses two blocks, so the token gate's softmax has two
        // entries and its bias a gradient.
        var r3 = RNG(seed: 2)
        let two = try Backbone(config: Fixture.config(), method: "dlr", options: ["gate_bias": .bool(true), "tau": .double(0.99)], rng: &r3)
        let dTwo = two.mixer as! DLR
        var rng = RNG(seed: 3)
        var ctx = Fixture.context()
        let out = two(Tensor.randn([2, 3, 8], rng: &rng), batch: PaddedBatch(lengths: [3, 2]), context: &ctx)
        (Fixture.weightedSum(out.hidden) + out.auxLoss!).backward()
        XCTAssertTrue(Fixture.hasGradient(dTwo.sequenceGateBiases[0]))
        XCTAssertTrue(Fixture.hasGradient(dTwo.tokenGateBiases[0]))
    }
}
