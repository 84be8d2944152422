import NN
import TestSupport
import XCTest

final class ClipTests: XCTestCase {
    /// a.grad = [3, 4], b.grad = [[12]], c has no gradient.
    func make() -> (Tensor, Tensor, Tensor) {
        let a = Tensor(shape: [2], scalars: [0, 0], requiresGrad: true)
        let b = Tensor(shape: [1, 1], scalars: [0], requiresGrad: true)
        let c = Tensor(shape: [3], scalars: [0, 0, 0], requiresGrad: true)
        a.gradPointer()[0] = 3; a.gradPointer()[1] = 4
        b.gradPointer()[0] = 12
        return (a, b, c)
    }

    func testClipsToMaxNorm() {
        // norm = sqrt(9 + 16 + 144) = 13; scale = 6.5 / (13 + 1e-6) = 0.5·(1 - 7.7e-8)
        // -> a.grad = [1.5, 2], b.grad = [6]; the returned norm is the one before clipping.
        let (a, b, c) = make()
        let norm = clipGradNorm([a, b, c], maxNorm: 6.5)
        XCTAssertEqual(norm, 13, accuracy: 1e-6)
        assertClose(a.grad!, [1.5, 2], atol: 1e-6)
        assertClose(b.grad!, [6], atol: 1e-6)
        XCTAssertNil(c.gradStorage)
        // The clipped norm is maxNorm (up to the 1e-6 epsilon).
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 100), 6.5, accuracy: 1e-5)
    }

    func testBelowMaxNormUnchanged() {
        let (a, b, _) = make()
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 13.5), 13, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.scalars, [3, 4])
        XCTAssertEqual(b.grad!.scalars, [12])
    }

    func testSharedTensorCountedOnce() {
        // Listing `a` twice must not give sqrt(2·25 + 144).
        let (a, b, _) = make()
        XCTAssertEqual(clipGradNorm([a, b, a], maxNorm: 1000), 13, accuracy: 1e-6)
    }

    func testNonFiniteGradientPropagates() {
        let (a, b, _) = make()
        b.gradPointer()[0] = .nan
        XCTAssertTrue(clipGradNorm([a, b], maxNorm: 1).isNaN)
        XCTAssertTrue(a.grad!.scalars.allSatisfy { $0.isNaN })
    }
}
