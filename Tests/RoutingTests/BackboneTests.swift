import Foundation
import Routing
import TestSupport
import XCTest

/// Shared helpers for the backbone, mixer and FLOPs tests.
enum Fixture {
    static func context(training: Bool = false, seed: UInt64 = 7, task: Int = 0) -> RoutingContext {
        RoutingContext(training: training, rng: RNG(seed: seed), taskID: task, sequenceOffsets: [])
    }

    static func config(d: Int = 8, depth: Int = 2, heads: Int = 2, hidden: Int = 16, moeEvery: Int = 1,
                       maxLength: Int = 16) -> BackboneConfig {
        BackboneConfig(d: d, depth: depth, heads: heads, ffnHidden: hidden, dropout: 0, moeEvery: moeEvery,
                       maxLength: maxLength)
    }

    /// `w ⊙ x` summed with fixed weights, to make every output element matter.
    static func weightedSum(_ x: Tensor, seed: UInt64 = 11) -> Tensor {
        var rng = RNG(seed: seed)
        let w = Tensor.uniform(x.shape, -1, 1, rng: &rng)
        return (x * w).sum()
    }

    /// True when `t` has a gradient with a non-zero entry.
    static func hasGradient(_ t: Tensor) -> Bool { t.grad?.scalars.contains { $0 != 0 } ?? false }

    /// The real-token rows of `[B, T, d]` as arrays, sequence by sequence.
    static func realRows(_ x: Tensor, _ lengths: [Int]) -> [[Float]] {
        let T = x.shape[1], d = x.shape[2]
        var out: [[Float]] = []
        for (b, n) in lengths.enumerated() {
            out.append(Array(UnsafeBufferPointer(start: x.data + b * T * d, count: n * d)))
        }
        return out
    }
}

/// The encoder block against a formula built from engine primitives, finite differences,
/// padding invariance, and the backbone's `moeEvery` placement.
final class BackboneTests: XCTestCase {
    func testPaddedBatchLayout() {
        let b = PaddedBatch(lengths: [3, 1, 2], length: 4)
        XCTAssertEqual(b.realRows, [0, 1, 2, 4, 8, 9])
        XCTAssertEqual(b.tokenSequence, [0, 0, 0, 1, 2, 2])
        XCTAssertEqual(b.sequenceOffsets, [0, 3, 4, 6])
        XCTAssertEqual(b.keyMask, [true, true, true, false, true, false, false, false, true, true, false, false])
        XCTAssertFalse(b.isDense)
        XCTAssertTrue(PaddedBatch(lengths: [2, 2]).isDense)
        let s = b.subset([2, 0])
        XCTAssertEqual(s.lengths, [2, 3])
        XCTAssertEqual(s.length, 4)
        // gather / scatter round trip: padding rows become 0.
        let x = Tensor(shape: [3, 4, 1], scalars: (0..<12).map(Float.init))
        let tokens = b.gatherTokens(x)
        XCTAssertEqual(tokens.scalars, [0, 1, 2, 4, 8, 9])
        XCTAssertEqual(b.scatterTokens(tokens).scalars, [0, 1, 2, 0, 4, 0, 0, 0, 8, 9, 0, 0])
    }

    /// `x + Attn(LN1(x))` then `+ FFN(LN2(·))`, written out with the engine's primitives, one
    /// sequence at a time (no padding, no mask), against the block on a padded batch.
    func testBlockMatchesFormula() throws {
        var rng = RNG(seed: 1)
        let d = 8, heads = 2
        let ffn = try Dense(d: d, hidden: 12, options: MethodOptions(method: "dense"), rng: &rng)
        let block = EncoderBlock(d: d, heads: heads, ffn: ffn, dropout: 0, rng: &rng)
        for p in [block.norm1.gamma, block.norm1.beta, block.norm2.gamma, block.norm2.beta] {
            for i in 0..<p.count { p.data[i] = rng.uniform(0.5, 1.5) }   // non-trivial norms
        }
        let lengths = [4, 2, 3]
        let batch = PaddedBatch(lengths: lengths, length: 5)
        let x = Tensor.randn([3, 5, d], rng: &rng)
        var ctx = Fixture.context()
        let (y, routed) = Autograd.noGrad { block(x, batch: batch, layer: 0, context: &ctx) }
        XCTAssertEqual(routed.y.shape, [9, d])
        let got = Fixture.realRows(y, lengths)
        for (b, n) in lengths.enumerated() {
            let xb = Tensor(shape: [1, n, d], scalars: Array(UnsafeBufferPointer(start: x.data + b * 5 * d, count: n * d)))
            let ref: Tensor = Autograd.noGrad {
                let a = block.attention
                let ln1 = layerNorm(xb, block.norm1.gamma, block.norm1.beta)
                let q = linear(ln1, a.query.weight, a.query.bias!), k = linear(ln1, a.key.weight, a.key.bias!)
                let v = linear(ln1, a.value.weight, a.value.bias!)
                // Per-head attention written out: softmax(Q Kᵀ / sqrt(dh)) V.
                let dh = d / heads
                var heads_: [Float] = [Float](repeating: 0, count: n * d)
                for h in 0..<heads {
                    for i in 0..<n {
                        var s = [Float](repeating: 0, count: n)
                        for j in 0..<n {
                            var dot: Float = 0
                            for c in 0..<dh { dot += q.data[i * d + h * dh + c] * k.data[j * d + h * dh + c] }
                            s[j] = dot / Float(dh).squareRoot()
                        }
                        let m = s.max()!
                        let e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
                        for c in 0..<dh {
                            var o: Float = 0
                            for j in 0..<n { o += e[j] / z * v.data[j * d + h * dh + c] }
                            heads_[i * d + h * dh + c] = o
                        }
                    }
                }
                let u = xb + linear(Tensor(shape: [1, n, d], scalars: heads_), a.output.weight, a.output.bias!)
                let ln2 = layerNorm(u, block.norm2.gamma, block.norm2.beta)
                let f = linear(linear(ln2, ffn.fc1.weight, ffn.fc1.bias!).gelu(), ffn.fc2.weight, ffn.fc2.bias!)
                return u + f
            }
            assertClose(got[b], ref.scalars, atol: 2e-5, rtol: 1e-4, "sequence \(b)")
        }
        // The sublayers compose to the block.
        var ctx2 = Fixture.context()
        let composed = Autograd.noGrad { () -> Tensor in
            let u = block.attentionSublayer(x, batch: batch, context: &ctx2)
            return block.ffnSublayer(u, batch: batch, layer: 0, context: &ctx2).0
        }
        assertClose(Fixture.realRows(composed, lengths).flatMap { $0 }, got.flatMap { $0 }, atol: 0, rtol: 0)
    }

    func testBlockFiniteDifferenceGradients() throws {
        var rng = RNG(seed: 2)
        let d = 4
        let ffn = try Dense(d: d, hidden: 6, options: MethodOptions(method: "dense"), rng: &rng)
        let block = EncoderBlock(d: d, heads: 2, ffn: ffn, dropout: 0, rng: &rng)
        let batch = PaddedBatch(lengths: [3, 2], length: 3)
        let x = Tensor.randn([2, 3, d], rng: &rng)
        let params = [block.attention.query.weight, block.attention.value.weight, block.attention.output.bias!,
                      block.norm1.gamma, block.norm2.beta, ffn.fc1.weight, ffn.fc2.bias!]
        checkGradients([x] + params, step: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in
            var ctx = Fixture.context()
            // Padding rows never feed real ones; weight only the real rows.
            let y = block(x, batch: batch, layer: 0, context: &ctx).0
            return batch.gatherTokens(y)
        }
    }

    /// A sequence's outputs do not depend on the padding of its batch (dense method).
    func testPaddingInvariance() throws {
        var rng = RNG(seed: 3)
        let backbone = try Backbone(config: Fixture.config(), method: "dense", rng: &rng)
        let x = Tensor.randn([2, 6, 8], rng: &rng)
        var ctx = Fixture.context()
        let both = Autograd.noGrad { backbone(x, batch: PaddedBatch(lengths: [6, 3]), context: &ctx) }
        let short = Tensor(shape: [1, 3, 8], scalars: Array(UnsafeBufferPointer(start: x.data + 48, count: 24)))
        let alone = Autograd.noGrad { backbone(short, batch: PaddedBatch(lengths: [3]), context: &ctx) }
        assertClose(Fixture.realRows(both.hidden, [6, 3])[1], alone.hidden.scalars, atol: 1e-5)
    }

    func testMoeEveryPlacesTheMethodLayer() throws {
        var rng = RNG(seed: 4)
        let cfg = Fixture.config(depth: 4, moeEvery: 2)
        XCTAssertEqual((0..<4).map { cfg.isRouted(block: $0) }, [false, true, false, true])
        let b = try Backbone(config: cfg, method: "dense", options: ["hidden_scale": .int(2)], rng: &rng)
        // Routed blocks get the method's layer (hidden 2·16), the others the plain dense FFN.
        let hidden = b.blocks.map { ($0.ffn as! Dense).fc1.outFeatures }
        XCTAssertEqual(hidden, [16, 32, 16, 32])
        var ctx = Fixture.context()
        let out = Autograd.noGrad { b(Tensor.randn([2, 3, 8], rng: &rng), batch: PaddedBatch(lengths: [3, 2]), context: &ctx) }
        XCTAssertEqual(out.stats.map(\.layer), [1, 3])
        XCTAssertEqual(out.stats.map(\.routed), [5, 5])
        XCTAssertNil(out.auxLoss)
        XCTAssertEqual(out.hidden.shape, [2, 3, 8])
    }

    func testEveryParameterGetsAGradient() throws {
        var rng = RNG(seed: 5)
        let b = try Backbone(config: Fixture.config(), method: "dense", rng: &rng)
        var ctx = Fixture.context(training: true)
        let out = b(Tensor.randn([2, 4, 8], rng: &rng), batch: PaddedBatch(lengths: [4, 2]), context: &ctx)
        Fixture.weightedSum(out.hidden).backward()
        for (name, p) in b.namedParameters() {
            let g = p.grad?.scalars ?? []
            XCTAssertTrue(g.contains { $0 != 0 }, "no gradient for \(name)")
        }
        // Names are stable and the FFN slot is found by reflection.
        XCTAssertTrue(b.namedParameters().map(\.0).contains("blocks.1.ffn.fc2.weight"))
        XCTAssertTrue(b.namedParameters().map(\.0).contains("blocks.0.attention.query.weight"))
    }

    func testConfigValidation() {
        XCTAssertThrowsError(try BackboneConfig(d: 10, heads: 4).validate()) { e in
            XCTAssertTrue("\(e)".contains("divisible"), "\(e)")
        }
        XCTAssertThrowsError(try BackboneConfig(moeEvery: 0).validate())
        XCTAssertThrowsError(try BackboneConfig(dropout: 1).validate())
        XCTAssertNoThrow(try BackboneConfig().validate())
    }
}
