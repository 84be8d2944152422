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
        /// Raw sgemm 1024³ GFLOP/s measured interleaved with this benchmark.
        public var sgemm_gflops: Double?
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

    /// A pause between timed calls, untimed: OpenBLAS's worker threads (used by the raw
    /// sgemm reference) busy-wait for 2^28 TSC cycles (about 0.1 s) after each call; without the pause
    /// they would run on the cores the next measured call needs.
    /// The engine's own worker threads sleep after 2 ms idle; they are woken (untimed) so
    /// that the next timed call starts, as in a training loop, with them running.
    static func cooldown() {
        usleep(300_000)
        WorkerPool.shared.warm()
    }

    /// Median seconds of each body, run in rounds of one call each after `warmup` rounds,
    /// with `cooldown()` after every call.
    public static func interleavedMedians(warmup: Int, iterations: Int, _ bodies: [() -> Void]) -> [Double] {
        for _ in 0..<warmup { for f in bodies { f(); cooldown() } }
        var times = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<iterations {
            for (i, f) in bodies.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                f()
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                cooldown()
            }
        }
        return times.map { t in
            let s = t.sorted(), n = s.count
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
    }

    /// OpenBLAS's own multi-threaded `cblas_sgemm` (the engine's thread count), the local
    /// limit that the ratios divide by.
    @inline(never) static func rawSgemm(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        EngineThreads.withOpenBLASThreads {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                        a, Int32(n), b, Int32(n), 0, c, Int32(n))
        }
    }

    static func randomTensor(_ shape: [Int], rng: inout RNG, scale: Float = 1, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor.uniform(shape, -scale, scale, rng: &rng)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Raw `cblas_sgemm` of `n×n` by `n×n` (the local limit) and the engine's `matmul`
    /// through the tensor API (output allocated per call, no gradient), interleaved.
    public static func matmul(n: Int = 1024, iterations: Int = 30) -> (sgemm: Record, matmul: Record) {
        var rng = RNG(seed: 1)
        let a = randomTensor([n, n], rng: &rng), b = randomTensor([n, n], rng: &rng)
        let c = Tensor(zeros: [n, n])
        let t = interleavedMedians(warmup: 3, iterations: iterations, [
            { rawSgemm(n, a.data, b.data, c.data) },
            { _ = Autograd.noGrad { Tensor_matmul(a, b) } },
        ])
        let flops = 2 * pow(Double(n), 3)
        var raw = Record(name: "sgemm_\(n)", ms: t[0] * 1e3, iterations: iterations)
        raw.gflops = flops / t[0] / 1e9
        var mm = Record(name: "matmul_\(n)", ms: t[1] * 1e3, iterations: iterations)
        mm.gflops = flops / t[1] / 1e9
        mm.matmul_vs_sgemm = mm.gflops! / raw.gflops!
        return (raw, mm)
    }

    /// One MoE layer forward + backward of `sum(y)` (gradients to the input, the router
    /// and every expert weight), dropless as the peer script's layer: top-2 (GShard,
    /// renormalised gates) for `k = 2`, Switch top-1 for `k = 1`; and the dense FFN of
    /// hidden width `h·k`, measured alternately in the same run.
    public static func moeLayer(T: Int, d: Int, h: Int, E: Int, k: Int, iterations: Int) throws -> Record {
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
        // MoE layer, dense layer and raw sgemm interleaved, one call of each per round, so
        // that a change in the machine's load affects all three alike.
        let n = 1024
        var grng = RNG(seed: 5)
        let a = randomTensor([n, n], rng: &grng), b = randomTensor([n, n], rng: &grng), c = Tensor(zeros: [n, n])
        let times = interleavedMedians(warmup: 2, iterations: iterations, [
            { run(moe) },
            { run(dense) },
            { rawSgemm(n, a.data, b.data, c.data) },
        ])
        let (tMoE, tDense, tGemm) = (times[0], times[1], times[2])
        let sgemmGflops = 2 * pow(Double(n), 3) / tGemm / 1e9
        let expertFlops = 3.0 * 2 * Double(T) * Double(2 * d * h * k)
        var r = Record(name: "moe_T\(T)_d\(d)_h\(h)_E\(E)_k\(k)", ms: tMoE * 1e3, iterations: iterations)
        (r.T, r.d, r.h, r.E, r.k) = (T, d, h, E, k)
        r.tokens_per_s = Double(T) / tMoE
        r.gflops = expertFlops / tMoE / 1e9
        r.moe_vs_sgemm = r.gflops! / sgemmGflops
        r.sgemm_gflops = sgemmGflops
        r.dense_ms = tDense * 1e3
        r.dispatch_overhead = tMoE / tDense
        return r
    }
}

/// The engine's matrix product as users call it.
@inline(never) func Tensor_matmul(_ a: Tensor, _ b: Tensor) -> Tensor { matmul(a, b) }
