import Foundation
import Routing
import TestSupport
import XCTest

/// The three front ends and heads: shapes, speech lengths after subsampling, padding
/// invariance, losses and their gradients.
final class BackboneFrontEndTests: XCTestCase {
    func model(_ kind: FrontEndKind, _ head: HeadKind, method: String = "dense", maxLength: Int = 40,
               seed: UInt64 = 1) throws -> Model {
        var rng = RNG(seed: seed)
        let cfg = ModelConfig(frontEnd: kind, backbone: Fixture.config(maxLength: maxLength), head: head, vocabSize: 30)
        return try Model(config: cfg, method: method, rng: &rng)
    }

    func testSubsampledLengths() {
        // Two convs of kernel 3, stride 2, padding 1: n -> ceil(n / 2), twice.
        XCTAssertEqual([1, 2, 3, 4, 5, 8, 9, 37, 100].map(subsampledLength), [1, 1, 1, 1, 2, 2, 3, 10, 25])
        for n in 1...50 {
            let once = Int((Double(n) / 2).rounded(.up))
            XCTAssertEqual(subsampledLength(n), Int((Double(once) / 2).rounded(.up)))
        }
    }

    func testTextShapesAndLosses() throws {
        let m = try model(.text, .classification(classes: 3))
        let input = ModelInput.text(tokens: [[1, 5, 7, 2], [1, 9, 2]], segments: [[0, 0, 1, 1], [0, 1, 1]])
        XCTAssertEqual(m.predict(input).output.shape, [2, 3])
        var ctx = Fixture.context(training: true)
        let loss = m.loss(input, targets: .classes([2, 0]), context: &ctx)
        XCTAssertEqual(loss.task.shape, [])
        XCTAssertTrue(loss.total.item.isFinite)
        loss.total.backward()
        XCTAssertNotNil((m.frontEnd as! TextFrontEnd).tokenEmbedding.grad)
        // Only tokens that occur get embedding gradient: row 3 is never used.
        let g = (m.frontEnd as! TextFrontEnd).tokenEmbedding.grad?.scalars ?? []
        XCTAssertTrue(g[(3 * 8)..<(4 * 8)].allSatisfy { $0 == 0 })
        XCTAssertTrue(g[(5 * 8)..<(6 * 8)].contains { $0 != 0 })

        let r = try model(.text, .regression)
        XCTAssertEqual(r.predict(input).output.shape, [2])
        var ctx2 = Fixture.context()
        let mse = r.loss(input, targets: .scores([1.5, 4]), context: &ctx2)
        let pred = mse.output.output.scalars
        assertClose([mse.task.item], [((pred[0] - 1.5) * (pred[0] - 1.5) + (pred[1] - 4) * (pred[1] - 4)) / 2], rtol: 1e-5)
    }

    func testTextHeadReadsTheFirstToken() throws {
        // Changing a later token changes the prediction only through attention; changing
        // padding (other sequence lengths) does not change it at all.
        let m = try model(.text, .classification(classes: 2))
        let a = m.predict(.text(tokens: [[1, 4, 6]], segments: nil)).output.scalars
        let b = m.predict(.text(tokens: [[1, 4, 6], [1, 2, 3, 4, 5, 6, 7]], segments: nil)).output.scalars
        assertClose(Array(b[0..<2]), a, atol: 1e-5)
    }

    func testImageShapes() throws {
        let m = try model(.image, .classification(classes: 100), maxLength: 65)
        var rng = RNG(seed: 2)
        let images = Tensor.randn([2, 3, 32, 32], rng: &rng)
        var ctx = Fixture.context()
        let (x, batch) = Autograd.noGrad { m.frontEnd.embed(.image(images), context: &ctx) }
        XCTAssertEqual(x.shape, [2, 65, 8])
        XCTAssertEqual(batch.lengths, [65, 65])
        XCTAssertEqual(m.predict(.image(images)).output.shape, [2, 100])
        // Patch embedding = per-patch linear map: patch (row 1, col 2) of image 0.
        let fe = m.frontEnd as! ImageFrontEnd
        var expected = [Float](repeating: 0, count: 8)
        for o in 0..<8 {
            var s = fe.patchBias.data[o]
            for c in 0..<3 { for i in 0..<4 { for j in 0..<4 {
                s += fe.patchWeight.data[((o * 3 + c) * 4 + i) * 4 + j] * images.data[(c * 32 + 4 + i) * 32 + 8 + j]
            } } }
            expected[o] = s + fe.positionEmbedding.data[(1 + 10) * 8 + o]
        }
        assertClose(Array(x.scalars[(11 * 8)..<(12 * 8)]), expected, atol: 1e-5)
        // Position 0 is the class token.
        assertClose(Array(x.scalars[0..<8]), (0..<8).map { fe.classToken.data[$0] + fe.positionEmbedding.data[$0] })
        var ctx2 = Fixture.context(training: true)
        let loss = m.loss(.image(images), targets: .classes([3, 99]), context: &ctx2)
        loss.total.backward()
        XCTAssertTrue(Fixture.hasGradient(fe.patchWeight))
        XCTAssertTrue(Fixture.hasGradient(fe.classToken))
    }

    func testSpeechLengthsShapesAndPaddingInvariance() throws {
        let m = try model(.speech, .ctc(vocabulary: 29), maxLength: 40)
        var rng = RNG(seed: 3)
        let features = Tensor.randn([3, 37, 80], rng: &rng)
        let lengths = [37, 20, 9]
        let out = m.predict(.speech(features: features, lengths: lengths))
        XCTAssertEqual(out.output.shape, [3, 10, 29])
        XCTAssertEqual(out.outputLengths, [10, 5, 3])
        // Utterance 2 alone (9 frames) gives the same outputs as inside the padded batch,
        // even with garbage in the padded frames.
        for i in (2 * 37 * 80 + 9 * 80)..<(3 * 37 * 80) { features.data[i] = 1000 }
        let padded = m.predict(.speech(features: features, lengths: lengths))
        let alone = Tensor(shape: [1, 9, 80], scalars: Array(features.scalars[(2 * 37 * 80)..<(2 * 37 * 80 + 9 * 80)]))
        let single = m.predict(.speech(features: alone, lengths: [9]))
        XCTAssertEqual(single.output.shape, [1, 3, 29])
        assertClose(Array(padded.output.scalars[(2 * 10 * 29)..<(2 * 10 * 29 + 3 * 29)]), single.output.scalars, atol: 1e-4)
        var ctx = Fixture.context(training: true)
        let loss = m.loss(.speech(features: features, lengths: lengths),
                          targets: .transcripts([[3, 4, 5], [7, 7], [1]]), context: &ctx)
        XCTAssertTrue(loss.total.item.isFinite && loss.total.item > 0)
        loss.total.backward()
        XCTAssertTrue(Fixture.hasGradient((m.frontEnd as! SpeechFrontEnd).conv1Weight))
    }

    func testHeadMustFitTheFrontEnd() {
        var rng = RNG(seed: 4)
        let cfg = ModelConfig(frontEnd: .image, backbone: Fixture.config(maxLength: 65), head: .regression)
        XCTAssertThrowsError(try Model(config: cfg, method: "dense", rng: &rng))
        let short = ModelConfig(frontEnd: .image, backbone: Fixture.config(maxLength: 10), head: .classification(classes: 3))
        XCTAssertThrowsError(try Model(config: short, method: "dense", rng: &rng)) { e in
            XCTAssertTrue("\(e)".contains("max_length"), "\(e)")
        }
    }
}
