// Reference values written in float64 by
//     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
// into Tests/TensorTests/Fixtures/ops_a_reference.json (a bundled test resource).
import Foundation
import Tensor
import XCTest

/// The decoded `ops_a_reference.json`: inputs, outputs and vector-Jacobian products of
/// softmax, log-softmax, log-sum-exp, layer norm, GELU and cross-entropy.
struct OpsAReference: Decodable {
    struct SoftmaxCase: Decodable {
        let shape: [Int], axis: Int
        let x: [Float], g: [Float]
        let softmax: [Float], log_softmax: [Float], dsoftmax: [Float], dlog_softmax: [Float]
    }
    struct LogSumExpCase: Decodable {
        let shape: [Int], axis: Int
        let x: [Float], g: [Float], y: [Float], dx: [Float]
    }
    struct LayerNormCase: Decodable {
        let shape: [Int], eps: Float
        let x: [Float], gamma: [Float], beta: [Float], g: [Float]
        let y: [Float], dx: [Float], dgamma: [Float], dbeta: [Float]
    }
    struct GeluCase: Decodable { let x: [Float], y: [Float], dy: [Float] }
    struct CrossEntropyCase: Decodable {
        let shape: [Int], logits: [Float], labels: [Int], ignore_index: Int
        let loss: Float, dlogits: [Float]
    }
    let softmax_cases: [SoftmaxCase]
    let logsumexp_cases: [LogSumExpCase]
    let layer_norm_cases: [LayerNormCase]
    let gelu: GeluCase
    let cross_entropy: CrossEntropyCase

    /// Loads the fixture from the test bundle's `Fixtures` folder.
    static func load(file: StaticString = #filePath, line: UInt = #line) throws -> OpsAReference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ops_a_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"),
                                "Fixtures/ops_a_reference.json missing from the test bundle", file: file, line: line)
        return try JSONDecoder().decode(OpsAReference.self, from: Data(contentsOf: url))
    }
}

/// Runs `f(x)` with `x` requiring a gradient, back-propagates the upstream gradient
/// `seed` (same shape as the output) and returns the output and `dL/dx`.
func valueAndGradient(_ x: Tensor, seed: [Float], _ f: (Tensor) -> Tensor) -> (Tensor, [Float]) {
    Autograd.reset()
    x.requiresGrad = true
    x.zeroGrad()
    let y = f(x)
    y.backward(seed: Tensor(shape: y.shape, scalars: seed))
    let g = x.grad?.scalars ?? [Float](repeating: 0, count: x.count)
    x.zeroGrad()
    x.requiresGrad = false
    return (y, g)
}
