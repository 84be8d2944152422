import CBLAS
import Foundation
import NN
import Routing
import Tensor

/// The engine's benchmarks, measured side by side in one process (`moebench bench`).
///
/// Every figure is the median wall time of timed iterations after warm-up iterations. The
/// ratios compare measurements of the same run, so the machine's load affects both sides.
public enum Bench {
    /// One benchmark's measurements; keys that do not apply are nil (left out of the JSON).
    /// The MoE layer keys have the meaning of the PyTorch peer script's output.
    public struct Record: Codable, Equatable {
        public var name: String
        /// Median milliseconds of one timed iteration.
        public var ms: Double
        public var iterations: Int
        public var gflops: Double?
        /// Engine matmul GFLOP/s ÷ raw `cblas_sgemm` GFLOP/s (1024³).
        public var matmul_vs_sgemm: Double?
        // MoE layer forward + backward.
        public var T: Int?
        public var d: Int?
        public var h: Int?
        public var E: Int?
        public var k: Int?
        public var tokens_per_s: Double?
        /// Expert GEMM GFLOP/s (`3·2·T·2·d·h·k` per forward + backward) ÷ sgemm GFLOP/s.
        public var moe_vs_sgemm: Double?
        /// Dense FFN of equal active FLOPs (hidden `h·k`), forward + backward.
        public var dense_ms: Double?
        /// MoE layer time ÷ dense layer time.
        public var dispatch_overhead: Double?
        // Training step.
        public var suite: String?
        public var task: String?
        public var method: String?
        public var batch_size: Int?
        public var examples_per_s: Double?
        /// Bytes the step must hold: parameters, their gradients, optimizer state and the
        /// activations saved for backward (everything live at the end of the forward pass).
        public var held_mb: Double?
        /// Most bytes held at once during the step (every engine buffer counted).
        public var peak_mb: Double?
        /// `peak_mb ÷ held_mb`.
        public var peak_vs_held: Double?

        public init(name: String, ms: Double, iterations: Int) {
            self.name = name
            self.ms = ms
            self.iterations = iterations
        }
    }

    /// The MoE layer configurations of the performance targets: `(T, d, h, E, k)`.
    public static let moeConfigs: [(T: Int, d: Int, h: Int, E: Int, k: Int)] = [
        (4096, 256, 1024, 8, 2), (4096, 256, 1024, 8, 1), (2048, 128, 512, 8, 2), (8192, 512, 2048, 16, 2),
    ]

    /// Median seconds of `iterations` calls of `body` after `warmup` calls.
    public static func median(warmup: Int, iterations: Int, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        let n = times.count
        return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2
    }

    static func randomTensor(_ shape: [Int], rng: inout RNG, scale: Float = 1, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor.uniform(shape, -scale, scale, rng: &rng)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Raw `cblas_sgemm` of `n×n` by `n×n` (the local limit).
    public static func sgemm(n: Int = 1024, iterations: Int = 20) -> Record {
        var rng = RNG(seed: 1)
        let a = randomTensor([n, n], rng: &rng), b = randomTensor([n, n], rng: &rng)
        let c = Tensor(zeros: [n, n])
        let s = median(warmup: 3, iterations: iterations) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                        a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
        }
        var r = Record(name: "sgemm_\(n)", ms: s * 1e3, iterations: iterations)
        r.gflops = 2 * pow(Double(n), 3) / s / 1e9
        return r
    }

    /// The engine's `matmul` through the tensor API (output allocated per call, no gradient).
    public static func engineMatmul(n: Int = 1024, iterations: Int = 20, sgemm raw: Record) -> Record {
        var rng = RNG(seed: 2)
        let a = randomTensor([n, n], rng: &rng), b = randomTensor([n, n], rng: &rng)
        let s = median(warmup: 3, iterations: iterations) {
            _ = Autograd.noGrad { matmul(a, b) }
        }
        var r = Record(name: "matmul_\(n)", ms: s * 1e3, iterations: iterations)
        r.gflops = 2 * pow(Double(n), 3) / s / 1e9
        r.matmul_vs_sgemm = r.gflops! / raw.gflops!
        return r
    }

    /// One MoE layer forward + backward of `sum(y)` (gradients to the input, the router
    /// and every expert weight), dropless as the peer script's layer: top-2 (GShard,
    /// renormalised gates) for `k = 2`, Switch top-1 for `k = 1`; and the dense FFN of
    /// hidden width `h·k`, measured alternately in the same run.
    public static func moeLayer(T: Int, d: Int, h: Int, E: Int, k: Int, iterations: Int,
                                sgemm raw: Record) throws -> Record {
        precondition(k == 1 || k == 2, "the bench has top-1 and top-2 layers")
        var rng = RNG(seed: 3)
        let method = k == 1 ? "switch" : "top2"
        let opts = try MethodRegistry.method(method).options(["experts": .int(E), "dropless": .bool(true)])
        let moe: FFNLayer = k == 1 ? try SwitchTop1(d: d, hidden: h, options: opts, rng: &rng)
                                   : try Top2(d: d, hidden: h, options: opts, rng: &rng)
        let dense = try Dense(d: d, hidden: h, options: MethodOptions(method: "dense", ["hidden_scale": .int(k)]), rng: &rng)
        let x = randomTensor([T, d], rng: &rng, requiresGrad: true)
        func run(_ layer: FFNLayer) {
            var ctx = RoutingContext(training: true, rng: RNG(seed: 4), sequenceOffsets: [0, T])
            let out = layer.forward(x, layer: 0, context: &ctx)
            out.y.sum().backward()
            x.zeroGrad()
            layer.zeroGrad()
        }
        let tMoE = median(warmup: 2, iterations: iterations) { run(moe) }
        let tDense = median(warmup: 2, iterations: iterations) { run(dense) }
        let expertFlops = 3.0 * 2 * Double(T) * Double(2 * d * h * k)
        var r = Record(name: "moe_T\(T)_d\(d)_h\(h)_E\(E)_k\(k)", ms: tMoE * 1e3, iterations: iterations)
        (r.T, r.d, r.h, r.E, r.k) = (T, d, h, E, k)
        r.tokens_per_s = Double(T) / tMoE
        r.gflops = expertFlops / tMoE / 1e9
        r.moe_vs_sgemm = r.gflops! / raw.gflops!
        r.dense_ms = tDense * 1e3
        r.dispatch_overhead = tMoE / tDense
        return r
    }
}
