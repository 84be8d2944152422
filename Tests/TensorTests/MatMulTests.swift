import Tensor
import TestSupport
import XCTest

final class MatMulTests: XCTestCase {
    func testMatmulHandComputed() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
        assertClose(matmul(a, b), [58, 64, 139, 154])
        assertClose(matmul(a, a, transposeB: true), [14, 32, 32, 77])
        assertClose(matmul(a, a, transposeA: true), [17, 22, 27, 22, 29, 36, 27, 36, 45])
    }

    func testSgemmSplitAcrossThreadsMatchesFloat64() {
        // Products above 2^18 multiply-adds are split into row blocks (taller than wide) or
        // column blocks (wider than tall); every transpose combination, alpha and beta.
        var rng = RNG(seed: 4)
        for (m, n, k) in [(100, 70, 64), (40, 300, 50), (33, 33, 300)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = randomTensor(ta ? [k, m] : [m, k], &rng), b = randomTensor(tb ? [n, k] : [k, n], &rng)
                    let c0 = randomTensor([m, n], &rng)
                    let A = a.scalars, B = b.scalars, C0 = c0.scalars
                    var expected = [Float](repeating: 0, count: m * n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for p in 0..<k {
                                s += Double(ta ? A[p * m + i] : A[i * k + p]) * Double(tb ? B[j * k + p] : B[p * n + j])
                            }
                            expected[i * n + j] = Float(1.5 * s + 0.5 * Double(C0[i * n + j]))
                        }
                    }
                    for threads in [1, 2, 3] {
                        let c = Tensor(shape: [m, n], scalars: C0)
                        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1.5, a: a.data, lda: ta ? m : k,
                              b: b.data, ldb: tb ? k : n, beta: 0.5, c: c.data, ldc: n, threads: threads)
                        assertClose(c.scalars, expected, atol: 1e-4, rtol: 1e-4, "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) threads \(threads)")
                    }
                }
            }
        }
    }

    func testMatmulGradients() {
        var rng = RNG(seed: 1)
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (4, 1, 7), (2, 6, 3)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = randomTensor(ta ? [k, m] : [m, k], &rng)
                    let b = randomTensor(tb ? [n, k] : [k, n], &rng)
                    checkGradients([a, b], "m\(m) k\(k) n\(n) ta\(ta) tb\(tb)") {
                        matmul($0[0], $0[1], transposeA: ta, transposeB: tb)
                    }
                }
            }
        }
    }

    func testFlattenedAndBatchedGradients() {
        var rng = RNG(seed: 2)
        let a = randomTensor([2, 3, 4], &rng), w = randomTensor([4, 5], &rng)
        checkGradients([a, w], "flattened") { matmul($0[0], $0[1]) }
        checkGradients([a, randomTensor([5, 4], &rng)], "flattened transposeB") {
            matmul($0[0], $0[1], transposeB: true)
        }
        let b = randomTensor([2, 3, 4], &rng)
        for ta in [false, true] {
            for tb in [false, true] {
                let x = ta ? randomTensor([2, 1, 3, 5], &rng) : randomTensor([2, 1, 5, 3], &rng)
                let y = tb ? randomTensor([2, 1, 4, 3], &rng) : randomTensor([2, 1, 3, 4], &rng)
                checkGradients([x, y], "batched ta\(ta) tb\(tb)") {
                    matmul($0[0], $0[1], transposeA: ta, transposeB: tb)
                }
            }
        }
        _ = b
    }

    func testLinearGradientsAndFlops() {
        var rng = RNG(seed: 3)
        let x = randomTensor([3, 2, 4], &rng), w = randomTensor([4, 5], &rng), b = randomTensor([5], &rng)
        checkGradients([x, w, b]) { linear($0[0], $0[1], $0[2]) }
        let counter = FlopCounter()
        Flops.counting(into: counter) { _ = Autograd.noGrad { linear(x, w, b) } }
        XCTAssertEqual(counter.forwardTotal, 2 * 6 * 4 * 5 + 6 * 5)
        let ref = matmul(x, w) + b
        assertClose(linear(x, w, b), ref)
    }

    func testBroadcastArithmeticGradients() {
        var rng = RNG(seed: 4)
        let cases: [([Int], [Int])] = [([3, 4], [3, 4]), ([3, 4], [4]), ([2, 3, 4], [3, 1]),
                                       ([1, 4], [3, 1]), ([5], []), ([2, 1, 3], [2, 4, 1])]
        for (sa, sb) in cases {
            let a = randomTensor(sa, &rng), b = randomTensor(sb, &rng, 0.5, 1.5)
            checkGradients([a, b], "add \(sa) \(sb)") { $0[0] + $0[1] }
            checkGradients([a, b], "sub \(sa) \(sb)") { $0[0] - $0[1] }
            checkGradients([a, b], "mul \(sa) \(sb)") { $0[0] * $0[1] }
            checkGradients([a, b], "div \(sa) \(sb)") { $0[0] / $0[1] }
        }
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), b = Tensor(shape: [2], scalars: [10, 20])
        assertClose(a + b, [11, 22, 13, 24])
        assertClose(a * Tensor(shape: [2, 1], scalars: [2, 3]), [2, 4, 9, 12])
    }
}

final class ThreadsTests: XCTestCase {
    func testPreferredCoreTypeFromCPUFlags() {
        XCTAssertEqual(EngineThreads.preferredCoreType(cpuinfo: "model name\t: x\nflags\t\t: fpu sse avx2 fma avx512f avx512bw avx512dq avx512vl\n"), "SkylakeX")
        XCTAssertEqual(EngineThreads.preferredCoreType(cpuinfo: "flags\t\t: fpu sse avx2 fma avx512f\n"), "Haswell")
        XCTAssertNil(EngineThreads.preferredCoreType(cpuinfo: "flags\t\t: fpu sse sse2\n"))
        XCTAssertNil(EngineThreads.preferredCoreType(cpuinfo: ""))
    }
}
