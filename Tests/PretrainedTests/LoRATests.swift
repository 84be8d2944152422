import Foundation
import NN
import Pretrained
import Tensor
import TestSupport
import XCTest

/// LoRA adapters and the fine-tuning classifier.
final class LoRATests: XCTestCase {
    func testInitialisation() {
        var rng = RNG(seed: 5)
        let l = LoRA(inFeatures: 64, outFeatures: 10, rank: 4, alpha: 16, rng: &rng)
        XCTAssertEqual(l.a.shape, [64, 4])
        XCTAssertEqual(l.b.shape, [4, 10])
        XCTAssertEqual(l.scale, 4)
        XCTAssertTrue(l.b.scalars.allSatisfy { $0 == 0 })
        let bound: Float = 1 / 8   // 1/sqrt(in)
        XCTAssertTrue(l.a.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(l.a.scalars.map(abs).max()!, 0.9 * bound)
        XCTAssertTrue(l.a.requiresGrad && l.b.requiresGrad)
    }

    /// `x·W + b + s·(x·A)·B` equals a plain linear map with the merged weight `W + s·A·B`.
    func testForwardEqualsMergedWeight() {
        var rng = RNG(seed: 6)
        let inF = 5, outF = 3, r = 2
        let base = Linear(weight: randomTensor([inF, outF], &rng), bias: randomTensor([outF], &rng))
        let layer = LoRALinear(base: base)
        let a = randomTensor([inF, r], &rng), b = randomTensor([r, outF], &rng)
        layer.setLoRA(LoRA(a: a, b: b, scale: 1.5))
        XCTAssertFalse(base.weight.requiresGrad)
        XCTAssertFalse(base.bias!.requiresGrad)
        var merged = base.weight.scalars
        for i in 0..<inF { for o in 0..<outF {
            var s: Float = 0
            for k in 0..<r { s += a.data[i * r + k] * b.data[k * outF + o] }
            merged[i * outF + o] += 1.5 * s
        } }
        let x = randomTensor([4, inF], &rng)
        let expected = linear(x, Tensor(shape: [inF, outF], scalars: merged), base.bias)
        assertClose(layer(x), expected, atol: 1e-5, rtol: 1e-5)
    }

    func testGradientsOfAdapterAndInput() {
        var rng = RNG(seed: 7)
        let base = Linear(weight: randomTensor([4, 3], &rng), bias: randomTensor([3], &rng))
        let a = randomTensor([4, 2], &rng), b = randomTensor([2, 3], &rng), x = randomTensor([2, 5, 4], &rng)
        checkGradients([x, a, b], "LoRALinear") { t in
            let layer = LoRALinear(base: base)
            layer.setLoRA(LoRA(a: t[1], b: t[2], scale: 2))
            return layer(t[0])
        }
    }

    /// With B = 0 the adapted encoder's output is bit-identical to the pretrained one, and
    /// still matches the reference.
    func testZeroBLeavesTheEncoderUnchanged() throws {
        let plain = try SharedModel.encoder()
        let adapted = try BertEncoder.load(directory: try pretrainedDirectory())
        var rng = RNG(seed: 8)
        adapted.addLoRA(LoRAConfig(rank: 8, alpha: 16, targets: LoRATarget.allCases), rng: &rng)
        adapted.eval()
        let fx = try PretrainedFixtures.load()
        let input = BertInput(ids: fx.cases.prefix(4).map(\.ids))
        let h = adapted.encode(input)
        XCTAssertEqual(h.scalars, plain.encode(input).scalars)
        let d = 384
        assertClose(Array(h.scalars[0 ..< d]), fx.cases[0].hidden_first, atol: 1e-4, rtol: 1e-4)
        // The adapters do act once B is non-zero.
        adapted.layers[0].value.lora!.b.data[0] = 0.5
        XCTAssertNotEqual(adapted.encode(input).scalars, h.scalars)
    }

    /// After one backward pass of the classifier loss only the adapters (on query and
    /// value) and the head hold gradients.
    func testOnlyAdaptersAndHeadReceiveGradients() throws {
        var rng = RNG(seed: 9)
        let model = try PretrainedClassifier(directory: try pretrainedDirectory(), outputs: 3, pooling: .cls,
                                             lora: LoRAConfig(), rng: &rng)
        let trainable = Set(model.namedParameters().map(\.0))
        var expected: Set<String> = ["dense.weight", "dense.bias", "out.weight", "out.bias"]
        for l in 0..<6 { for p in ["query", "value"] { for m in ["a", "b"] { expected.insert("encoder.layers.\(l).\(p).lora.\(m)") } } }
        XCTAssertEqual(trainable, expected)
        XCTAssertEqual(model.parameterCount, 6 * 2 * (384 * 8 + 8 * 384) + 384 * 384 + 384 + 384 * 3 + 3)

        let fx = try PretrainedFixtures.load()
        let cases = Array(fx.cases[0..<3]) + [fx.cases.first { $0.pair != nil }!]
        model.train()
        Autograd.reset()
        let loss = model.loss(ids: cases.map(\.ids), segments: cases.map(\.type_ids), labels: [0, 2, 1, 1], rng: &rng)
        XCTAssertTrue(loss.item.isFinite)
        loss.backward()
        for (name, t) in model.namedTensors() {
            if expected.contains(name) {
                XCTAssertNotNil(t.gradStorage, "\(name) has no gradient")
            } else {
                XCTAssertNil(t.gradStorage, "frozen \(name) has a gradient")
            }
        }
        // B = 0 at the start: the gradient reaches B (non-zero) but not yet A (exactly zero).
        let lora = model.encoder.layers[3].value.lora!
        XCTAssertGreaterThan(lora.b.grad!.scalars.map(abs).max()!, 0)
        XCTAssertEqual(lora.a.grad!.scalars.map(abs).max()!, 0)
        Autograd.reset()
    }

    /// LoRA fine-tuning learns: a few AdamW steps on a tiny two-class task (sentiment of six
    /// sentences) bring the training loss well below chance and classify all six.
    func testLoRAFineTuningFitsATinyTask() throws {
        var rng = RNG(seed: 12)
        let s = try SentenceEncoder(directory: try pretrainedDirectory())
        let model = PretrainedClassifier(encoder: s.encoder, outputs: 2, pooling: .mean, lora: LoRAConfig(), rng: &rng)
        let texts = ["a wonderful, delightful film", "great acting and a lovely story", "i loved every minute",
                     "a dreadful, boring mess", "terrible acting and an awful plot", "i hated every minute"]
        let labels = [1, 1, 1, 0, 0, 0]
        let ids = texts.map { s.ids($0) }
        let opt = AdamW(model.parameters(), lr: 3e-3, weightDecay: 0)
        model.train()
        var first: Float = 0, last: Float = 0
        for step in 0..<8 {
            Autograd.reset()
            model.zeroGrad()
            let loss = model.loss(ids: ids, labels: labels, rng: &rng)
            if step == 0 { first = loss.item }
            last = loss.item
            loss.backward()
            opt.step()
        }
        Autograd.reset()
        XCTAssertEqual(first, Float(log(2.0)), accuracy: 0.05, "an untrained head is near chance")
        XCTAssertLessThan(last, 0.05, "loss \(first) -> \(last)")
        let logits = model.predict(ids: ids).scalars
        let predicted = (0..<6).map { logits[2 * $0 + 1] > logits[2 * $0] ? 1 : 0 }
        XCTAssertEqual(predicted, labels)
    }

    /// The full composition (embeddings, blocks with adapters, pooling, head, loss) against
    /// finite differences on a tiny random encoder.
    func testClassifierGradientsOnATinyEncoder() {
        var rng = RNG(seed: 10)
        let config = BertConfig(vocabSize: 9, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 12,
                                maxPositions: 6, hiddenDropout: 0)
        let model = PretrainedClassifier(encoder: BertEncoder(config: config, rng: &rng), outputs: 3, pooling: .mean,
                                         lora: LoRAConfig(rank: 2, alpha: 4, targets: [.query, .value, .intermediate]), rng: &rng)
        // Non-zero B so that every adapter matrix has a non-trivial gradient.
        for (name, t) in model.namedParameters() where name.hasSuffix("lora.b") {
            for i in 0..<t.count { t.data[i] = rng.uniform(-0.5, 0.5) }
        }
        let params = model.parameters()
        let ids = [[1, 4, 6, 2], [1, 3, 2]], segs = [[0, 0, 1, 1], [0, 1, 1]]
        checkGradients(params, step: 1e-2, atol: 3e-3, rtol: 3e-2, "classifier") { _ in
            var r = RNG(seed: 0)
            return model.loss(ids: ids, segments: segs, labels: [2, 0], rng: &r)
        }
    }

    func testRegressionLossAndPredict() {
        var rng = RNG(seed: 11)
        let config = BertConfig(vocabSize: 9, hiddenSize: 8, layers: 1, heads: 2, intermediateSize: 12, maxPositions: 6)
        let model = PretrainedClassifier(encoder: BertEncoder(config: config, rng: &rng), outputs: 1, lora: nil, rng: &rng)
        let ids = [[1, 4, 2], [1, 5, 6, 2]]
        let y = model.predict(ids: ids)
        XCTAssertEqual(y.shape, [2, 1])
        model.eval()
        var r = RNG(seed: 1)
        let loss = model.loss(ids: ids, labels: [Float(0.5), -1], rng: &r)
        let e0 = y.data[0] - 0.5, e1 = y.data[1] + 1
        XCTAssertEqual(loss.item, (e0 * e0 + e1 * e1) / 2, accuracy: 1e-6)
        // Without LoRA the whole encoder trains.
        XCTAssertTrue(model.encoder.embeddings.word.requiresGrad)
        Autograd.reset()
    }
}
