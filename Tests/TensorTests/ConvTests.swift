import Foundation
import Tensor
import TestSupport
import XCTest

/// conv1d / conv2d against direct-loop NumPy references (outputs and gradients), by finite
/// differences, by hand, and FLOP counts.
///
/// Fixtures: `Fixtures/ops_b_conv_reference.json`, regenerate with
/// `python3 Tests/TensorTests/Fixtures/make_fixtures_ops_b.py`.
final class ConvTests: XCTestCase {
    override func setUp() { Autograd.reset() }

    struct Case: Decodable {
        let x_shape: [Int], w_shape: [Int], y_shape: [Int]
        let stride: Int, padding: Int
        let x: [Float], w: [Float], b: [Float]?, y: [Float], g: [Float]
        let dx: [Float], dw: [Float], db: [Float]?
    }

    struct Reference: Decodable {
        let conv2d: [Case]
        let conv1d: [Case]
    }

    func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ops_b_conv_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func check(_ c: Case, twoD: Bool, _ label: String) {
        let x = Tensor(shape: c.x_shape, scalars: c.x, requiresGrad: true)
        let w = Tensor(shape: c.w_shape, scalars: c.w, requiresGrad: true)
        let b = c.b.map { Tensor(shape: [$0.count], scalars: $0, requiresGrad: true) }
        let y = twoD ? conv2d(x, w, b, stride: c.stride, padding: c.padding)
                     : conv1d(x, w, b, stride: c.stride, padding: c.padding)
        XCTAssertEqual(y.shape, c.y_shape, label)
        assertClose(y.scalars, c.y, atol: 1e-4, rtol: 1e-4, "\(label) forward")
        y.backward(seed: Tensor(shape: c.y_shape, scalars: c.g))
        assertClose(x.grad!.scalars, c.dx, atol: 1e-4, rtol: 1e-4, "\(label) dx")
        assertClose(w.grad!.scalars, c.dw, atol: 1e-4, rtol: 1e-4, "\(label) dw")
        if let b, let db = c.db { assertClose(b.grad!.scalars, db, atol: 1e-4, rtol: 1e-4, "\(label) db") }
    }

    func testConv2dAgainstFixtures() throws {
        let ref = try reference()
        XCTAssertEqual(ref.conv2d.count, 6)
        for (i, c) in ref.conv2d.enumerated() {
            check(c, twoD: true, "conv2d case \(i) x\(c.x_shape) w\(c.w_shape) s\(c.stride) p\(c.padding)")
        }
    }

    func testConv1dAgainstFixtures() throws {
        let ref = try reference()
        XCTAssertEqual(ref.conv1d.count, 4)
        for (i, c) in ref.conv1d.enumerated() {
            check(c, twoD: false, "conv1d case \(i) x\(c.x_shape) w\(c.w_shape) s\(c.stride) p\(c.padding)")
        }
    }

    func testConvHandComputed() {
        // conv1d: x = [1 2 3 4], w = [1 0 -1], padding 1, stride 2:
        // padded [0 1 2 3 4 0], windows at 0 and 2: 0·1 + 1·0 - 2 = -2, 2 - 4 = -2.
        let x = Tensor(shape: [1, 1, 4], scalars: [1, 2, 3, 4])
        let w = Tensor(shape: [1, 1, 3], scalars: [1, 0, -1])
        let y = conv1d(x, w, Tensor(shape: [1], scalars: [0.5]), stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [1, 1, 2])
        assertClose(y, [-1.5, -1.5])
        // conv2d: 3×3 image, 2×2 kernel of ones = sums of 2×2 windows.
        let img = Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let ones = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        assertClose(conv2d(img, ones, nil), [12, 16, 24, 28])
        // Two input channels are summed; two output channels are separate.
        let two = Tensor.concat([img, img], axis: 1)
        let k = Tensor(shape: [2, 2, 1, 1], scalars: [1, 1, 2, -1])
        assertClose(conv2d(two, k, nil, stride: 2), [2, 6, 14, 18, 1, 3, 7, 9])
    }

    func testConv2dGradients() {
        var rng = RNG(seed: 41)
        // (N, Cin, H, W, Cout, KH, KW, stride, padding, bias)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Bool)] = [
            (1, 1, 1, 1, 1, 1, 1, 1, 0, true),
            (2, 3, 5, 4, 2, 3, 3, 1, 1, true),
            (1, 2, 6, 5, 3, 3, 2, 2, 1, false),
            (2, 1, 4, 3, 1, 1, 1, 1, 0, true),
            (1, 2, 3, 3, 2, 2, 2, 2, 2, true),
            (1, 1, 7, 5, 2, 1, 3, 3, 0, false),
        ]
        for (n, cin, h, wd, cout, kh, kw, s, p, hasBias) in cases {
            let x = randomTensor([n, cin, h, wd], &rng)
            let w = randomTensor([cout, cin, kh, kw], &rng)
            let label = "conv2d x[\(n),\(cin),\(h),\(wd)] w[\(cout),\(cin),\(kh),\(kw)] s\(s) p\(p)"
            if hasBias {
                checkGradients([x, w, randomTensor([cout], &rng)], label) {
                    conv2d($0[0], $0[1], $0[2], stride: s, padding: p)
                }
            } else {
                checkGradients([x, w], label) { conv2d($0[0], $0[1], nil, stride: s, padding: p) }
            }
        }
    }

    func testConv1dGradients() {
        var rng = RNG(seed: 42)
        // (N, Cin, L, Cout, K, stride, padding, bias)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Bool)] = [
            (1, 1, 1, 1, 1, 1, 0, true),
            (2, 3, 7, 2, 3, 1, 1, true),
            (1, 2, 9, 3, 4, 2, 2, false),
            (3, 2, 5, 1, 1, 1, 0, true),
            (1, 1, 4, 2, 2, 3, 3, true),
        ]
        for (n, cin, l, cout, k, s, p, hasBias) in cases {
            let x = randomTensor([n, cin, l], &rng)
            let w = randomTensor([cout, cin, k], &rng)
            let label = "conv1d x[\(n),\(cin),\(l)] w[\(cout),\(cin),\(k)] s\(s) p\(p)"
            if hasBias {
                checkGradients([x, w, randomTensor([cout], &rng)], label) {
                    conv1d($0[0], $0[1], $0[2], stride: s, padding: p)
                }
            } else {
                checkGradients([x, w], label) { conv1d($0[0], $0[1], nil, stride: s, padding: p) }
            }
        }
    }

    func testSingleInputGradients() {
        // Only the input, or only the weight, requires a gradient.
        var rng = RNG(seed: 43)
        let x = randomTensor([2, 2, 5, 5], &rng), w = randomTensor([3, 2, 3, 3], &rng)
        checkGradients([x], "dx only") { conv2d($0[0], w, nil, stride: 2, padding: 1) }
        checkGradients([w], "dw only") { conv2d(x, $0[0], nil, stride: 2, padding: 1) }
        let x1 = randomTensor([2, 3, 4], &rng), w1 = randomTensor([2, 3, 1], &rng)
        checkGradients([x1], "pointwise dx only") { conv1d($0[0], w1, nil) }
    }

    func testFlopCounts() {
        var rng = RNG(seed: 44)
        let x = randomTensor([2, 3, 6, 5], &rng), w = randomTensor([4, 3, 3, 2], &rng), b = randomTensor([4], &rng)
        for t in [x, w, b] { t.requiresGrad = true }
        let counter = FlopCounter()
        Flops.counting(into: counter) { conv2d(x, w, b, stride: 2, padding: 1).backward() }
        // Hout = (6 + 2 - 3)/2 + 1 = 3, Wout = (5 + 2 - 2)/2 + 1 = 3.
        let gemm = 2 * 2 * 4 * 9 * 3 * 3 * 2
        XCTAssertEqual(counter.forwardTotal, gemm + 2 * 4 * 9)
        XCTAssertEqual(counter.backwardTotal, 2 * gemm + 2 * 4 * 9)

        let x1 = randomTensor([3, 2, 10], &rng), w1 = randomTensor([5, 2, 3], &rng)
        let c1 = FlopCounter()
        Flops.counting(into: c1) { _ = Autograd.noGrad { conv1d(x1, w1, nil, stride: 1, padding: 0) } }
        XCTAssertEqual(c1.forwardTotal, 2 * 3 * 5 * 8 * 2 * 3)
    }
}
