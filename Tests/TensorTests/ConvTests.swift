// Reference fixtures (Fixtures/conv_reference.json) are written by a direct-loop float64
// NumPy reference convolution; regenerate with
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_b.py
import Foundation
import Tensor
import TestSupport
import XCTest

final class ConvTests: XCTestCase {
    override func tearDown() { Autograd.reset() }

    /// x = [1, 2, 3, 4], w = [1, −1], padding 1, stride 2: the padded input is
    /// [0, 1, 2, 3, 4, 0]; windows at 0, 2, 4 give 0 − 1, 2 − 3, 4 − 0; plus bias 0.5.
    func testConv1dHandComputed() {
        let x = Tensor(shape: [1, 1, 4], scalars: [1, 2, 3, 4])
        let w = Tensor(shape: [1, 1, 2], scalars: [1, -1])
        let b = Tensor(shape: [1], scalars: [0.5])
        let y = conv1d(x, w, b, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [1, 1, 3])
        assertClose(y, [-0.5, -0.5, 4.5])
        // Two input channels are summed; two output channels are separate.
        let x2 = Tensor(shape: [1, 2, 3], scalars: [1, 2, 3, 10, 20, 30])
        let w2 = Tensor(shape: [2, 2, 1], scalars: [1, 1, 1, -1])
        assertClose(conv1d(x2, w2, nil), [11, 22, 33, -9, -18, -27])
    }

    /// x = 1…9 as 3×3, w = 2×2 ones: each output is the sum of a 2×2 window.
    /// With padding 1 and stride 2 the windows are the corners: 1, 2+3, 4+7, 5+6+8+9.
    func testConv2dHandComputed() {
        let x = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let w = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        let y = conv2d(x, w, nil)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        assertClose(y, [12, 16, 24, 28])
        let z = conv2d(x, w, Tensor(shape: [1], scalars: [-1]), stride: 2, padding: 1)
        XCTAssertEqual(z.shape, [1, 1, 2, 2])
        assertClose(z, [0, 4, 10, 27])
    }

    struct Fixture: Decodable {
        let name: String
        let dims: Int
        let x_shape: [Int], w_shape: [Int], out_shape: [Int]
        let stride: Int, padding: Int
        let x: [Float], w: [Float], bias: [Float]?, out: [Float], upstream: [Float]
        let grad_x: [Float], grad_w: [Float], grad_bias: [Float]?
    }

    func testMatchesNumPyDirectLoopReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "conv_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let fixtures = try JSONDecoder().decode([Fixture].self, from: Data(contentsOf: url))
        XCTAssertEqual(fixtures.filter { $0.dims == 2 }.count, 6)
        XCTAssertEqual(fixtures.filter { $0.dims == 1 }.count, 5)
        for f in fixtures {
            let x = Tensor(shape: f.x_shape, scalars: f.x, requiresGrad: true)
            let w = Tensor(shape: f.w_shape, scalars: f.w, requiresGrad: true)
            let b = f.bias.map { Tensor(shape: [$0.count], scalars: $0, requiresGrad: true) }
            let out = f.dims == 2 ? conv2d(x, w, b, stride: f.stride, padding: f.padding)
                                  : conv1d(x, w, b, stride: f.stride, padding: f.padding)
            XCTAssertEqual(out.shape, f.out_shape, f.name)
            assertClose(out, f.out, atol: 1e-5, rtol: 1e-4, f.name)
            out.backward(seed: Tensor(shape: out.shape, scalars: f.upstream))
            assertClose(x.grad!, f.grad_x, atol: 1e-5, rtol: 1e-4, "dx " + f.name)
            assertClose(w.grad!, f.grad_w, atol: 1e-5, rtol: 1e-4, "dw " + f.name)
            if let b, let gb = f.grad_bias { assertClose(b.grad!, gb, atol: 1e-5, rtol: 1e-4, "dbias " + f.name) }
        }
    }

    func testConv1dGradients() {
        var rng = RNG(seed: 31)
        // (N, Cin, L, Cout, K, stride, padding, bias)
        for (n, cin, l, cout, k, s, p, hasBias) in [(2, 3, 7, 2, 3, 1, 1, true), (1, 1, 1, 1, 1, 1, 0, true),
                                                    (1, 2, 9, 3, 4, 2, 2, false), (3, 1, 5, 2, 5, 2, 1, true),
                                                    (1, 2, 3, 1, 1, 2, 0, true)] {
            let x = randomTensor([n, cin, l], &rng)
            let w = randomTensor([cout, cin, k], &rng)
            let b = randomTensor([cout], &rng)
            let label = "conv1d N\(n) Cin\(cin) L\(l) Cout\(cout) K\(k) s\(s) p\(p) bias \(hasBias)"
            checkGradients(hasBias ? [x, w, b] : [x, w], label) {
                conv1d($0[0], $0[1], hasBias ? $0[2] : nil, stride: s, padding: p)
            }
        }
    }

    func testConv2dGradients() {
        var rng = RNG(seed: 32)
        // (N, Cin, H, W, Cout, KH, KW, stride, padding, bias)
        for (n, cin, h, wd, cout, kh, kw, s, p, hasBias) in [
            (2, 2, 5, 4, 3, 3, 3, 1, 1, true),
            (1, 3, 6, 7, 2, 3, 2, 2, 1, false),
            (1, 1, 1, 1, 2, 1, 1, 1, 0, true),
            (2, 2, 3, 3, 1, 1, 1, 1, 0, true),     // pointwise, no im2col
            (1, 2, 5, 3, 2, 2, 3, 2, 2, true),
            (1, 1, 2, 5, 1, 3, 3, 1, 1, false),
        ] {
            let x = randomTensor([n, cin, h, wd], &rng)
            let w = randomTensor([cout, cin, kh, kw], &rng)
            let b = randomTensor([cout], &rng)
            let label = "conv2d N\(n) C\(cin) \(h)×\(wd) Cout\(cout) K\(kh)×\(kw) s\(s) p\(p) bias \(hasBias)"
            checkGradients(hasBias ? [x, w, b] : [x, w], label) {
                conv2d($0[0], $0[1], hasBias ? $0[2] : nil, stride: s, padding: p)
            }
        }
    }

    /// Only the weight needs a gradient (frozen input) and only the input (frozen weight).
    func testPartialGradients() {
        var rng = RNG(seed: 33)
        let x = randomTensor([1, 2, 4, 4], &rng)
        let w = randomTensor([2, 2, 3, 3], &rng)
        checkGradients([w], "weight only") { conv2d(x, $0[0], nil, stride: 2, padding: 1) }
        XCTAssertNil(x.gradStorage)
        w.requiresGrad = false
        checkGradients([x], "input only") { conv2d($0[0], w, nil, stride: 2, padding: 1) }
        XCTAssertNil(w.gradStorage)
    }

    func testFlopCounts() {
        var rng = RNG(seed: 34)
        let x = randomTensor([2, 3, 5, 6], &rng), w = randomTensor([4, 3, 3, 2], &rng), b = randomTensor([4], &rng)
        for t in [x, w, b] { t.requiresGrad = true }
        let counter = FlopCounter()
        Flops.counting(into: counter) {
            let y = conv2d(x, w, b, stride: 2, padding: 1)  // OH = 3, OW = 4
            XCTAssertEqual(y.shape, [2, 4, 3, 4])
            y.backward(seed: Tensor(shape: y.shape, repeating: 1))
        }
        let macs = 2 * 4 * 3 * 4 * 3 * 3 * 2
        let biasFlops = 2 * 4 * 3 * 4
        XCTAssertEqual(counter.forward(.other), 2 * macs + biasFlops)
        XCTAssertEqual(counter.backward(.other), 4 * macs + biasFlops)

        let x1 = randomTensor([3, 2, 8], &rng), w1 = randomTensor([5, 2, 3], &rng)
        let c1 = FlopCounter()
        Flops.counting(into: c1) { _ = conv1d(x1, w1, nil, stride: 1, padding: 0) }  // Lout = 6
        XCTAssertEqual(c1.total, 2 * 3 * 5 * 6 * 2 * 3)
    }
}
