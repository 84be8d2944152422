import Foundation
import Tensor
import XCTest

/// Finite-difference gradient check.
///
/// Builds `L = sum_i w_i · f(inputs)_i` with fixed random weights `w` (so every output
/// element's gradient is exercised), back-propagates, and compares each input's gradient
/// with the central difference `(L(x + h) - L(x - h)) / 2h`, where `L` is accumulated in
/// float64 from the float32 outputs. Inputs listed in `skip` (e.g. integer indices stored
/// as floats) are not perturbed.
///
/// The step `h` and tolerances suit float32 forward passes of smooth functions with O(1)
/// inputs; kinks (ReLU at 0, max ties) must be kept away from by the caller's inputs.
public func checkGradients(_ inputs: [Tensor], skip: Set<Int> = [], step h: Float = 1e-2,
                           atol: Float = 2e-3, rtol: Float = 2e-2, seed: UInt64 = 99,
                           _ label: String = "", file: StaticString = #filePath, line: UInt = #line,
                           _ f: ([Tensor]) -> Tensor) {
    for (i, t) in inputs.enumerated() where !skip.contains(i) {
        t.requiresGrad = true
        t.zeroGrad()
    }
    Autograd.reset()
    let out0 = f(inputs)
    var rng = RNG(seed: seed)
    let weights = (0..<out0.count).map { _ in rng.uniform(-1, 1) }
    func weightedSum(_ t: Tensor) -> Double {
        var s = 0.0
        for i in 0..<t.count { s += Double(weights[i]) * Double(t.data[i]) }
        return s
    }
    Autograd.backward(out0, seed: Tensor(shape: out0.shape, scalars: weights))
    for (k, x) in inputs.enumerated() where !skip.contains(k) {
        let analytic = x.gradStorage.map { Array($0.buffer) } ?? [Float](repeating: 0, count: x.count)
        var numeric = [Float](repeating: 0, count: x.count)
        Autograd.noGrad {
            for i in 0..<x.count {
                let orig = x.data[i]
                x.data[i] = orig + h
                let lp = weightedSum(f(inputs))
                x.data[i] = orig - h
                let lm = weightedSum(f(inputs))
                x.data[i] = orig
                numeric[i] = Float((lp - lm) / (2 * Double(h)))
            }
        }
        assertClose(analytic, numeric, atol: atol, rtol: rtol, "gradient of input \(k) \(label)",
                    file: file, line: line)
    }
    for t in inputs { t.zeroGrad() }
}

/// Random tensor with values in [lo, hi), for tests.
public func randomTensor(_ shape: [Int], _ rng: inout RNG, _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
    Tensor.uniform(shape, lo, hi, rng: &rng)
}
