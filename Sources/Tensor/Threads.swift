import CBLAS
import Foundation

/// The engine's thread count: set explicitly (CLI `--threads`, or `MOEBENCH_THREADS`), and
/// recorded with every result.
///
/// The engine partitions its work itself: OpenBLAS runs single-threaded in whichever thread
/// calls it, and `sgemm` splits a large product into row (or column) blocks computed
/// concurrently, one per engine thread, while the MoE dispatch runs whole experts
/// concurrently. OpenBLAS's own worker threads would otherwise busy-wait between calls
/// (about 2^28 cycles each time) on the cores the engine's elementwise kernels need.
public enum EngineThreads {
    /// OpenBLAS's default thread count at load (`OPENBLAS_NUM_THREADS`, else the core
    /// count); read once, after which OpenBLAS is set to one thread.
    private static let initial: Int = {
        let n = max(1, Int(openblas_get_num_threads()))
        openblas_set_num_threads(1)
        return n
    }()
    nonisolated(unsafe) private static var chosen: Int? = nil

    /// Sets the engine's thread count. Results are bit-identical only for the same count.
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1")
        _ = initial
        chosen = n
    }

    /// The largest thread count accepted (far above any machine this runs on; a larger
    /// value is a typo).
    public static let maxThreads = 1024

    /// An invalid thread count: names where it came from and what was expected.
    public struct InvalidThreadCount: Error, CustomStringConvertible {
        public let source: String
        public let value: String
        public var description: String {
            "\(source)=\(value): expected an integer number of threads in 1...\(EngineThreads.maxThreads)"
        }
    }

    /// Parses a thread count (`1...maxThreads`, surrounding spaces allowed); nil otherwise.
    public static func parse(_ s: String) -> Int? {
        guard let n = Int(s.trimmingCharacters(in: .whitespaces)), (1...maxThreads).contains(n) else { return nil }
        return n
    }

    /// Applies `MOEBENCH_THREADS` when set (an error when it is not a thread count: 0,
    /// -1, abc, an empty value); otherwise leaves OpenBLAS's own default. Returns the count
    /// in force.
    @discardableResult
    public static func configureFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        if let s = environment["MOEBENCH_THREADS"] {
            guard let n = parse(s) else { throw InvalidThreadCount(source: "MOEBENCH_THREADS", value: s) }
            set(n)
        }
        return current
    }

    /// The engine's thread count (OpenBLAS itself then runs single-threaded).
    public static var current: Int { chosen ?? initial }

    /// Runs `body` with OpenBLAS's own threading at the engine's thread count (for the
    /// benchmark's raw `cblas_sgemm` reference), then returns OpenBLAS to one thread.
    public static func withOpenBLASThreads<R>(_ body: () throws -> R) rethrows -> R {
        openblas_set_num_threads(Int32(current))
        defer { openblas_set_num_threads(1) }
        return try body()
    }

    /// OpenBLAS's build configuration string (version, kernel, threading).
    public static var blasConfig: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }

    public static var blasCore: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }
}

extension EngineThreads {
    /// The OpenBLAS kernel family this CPU supports, read from `/proc/cpuinfo` flags:
    /// "SkylakeX" with AVX-512 (F, BW, DQ, VL), "Haswell" with AVX2 and FMA, else nil.
    ///
    /// OpenBLAS 0.3.21's runtime detection does not know newer CPUs (AMD Zen 4, for one)
    /// and falls back to its generic SSE3 ("Prescott") kernels, several times slower;
    /// `OPENBLAS_CORETYPE` overrides the detection, but only before the library loads.
    public static func preferredCoreType(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String? {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }
}
