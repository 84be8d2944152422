import Foundation
import Tensor

/// The build this program is: provenance embedded at build time by the BuildInfo plugin
/// (`Plugins/BuildInfo/buildinfo.sh`), never read from the current directory.
public enum Build {
    /// The commit the binary was built from (40 hex digits), "unknown" outside git.
    public static var commit: String { BuildInfo.commit }
    /// Tracked files differed from the commit when the binary was built.
    public static var dirty: Bool { BuildInfo.dirty }
    /// The commit as results record it: 12 hex digits, with "-dirty" for a dirty build.
    public static var shortCommit: String {
        (BuildInfo.commit == "unknown" ? "unknown" : String(BuildInfo.commit.prefix(12))) + (BuildInfo.dirty ? "-dirty" : "")
    }
    /// "debug" or "release".
    public static var configuration: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }
    /// `MOEBENCH_TARGET_CPU` at build time ("(unset)" when it was not set; "" for generic x86-64).
    public static var targetCPU: String { BuildInfo.targetCPU }
    /// The compiler that built this binary (`swiftc --version`, first line).
    public static var compiler: String { BuildInfo.compiler }
    /// The code fingerprint of the from-scratch tiers (smoke, proxy, full): 16 hex digits over
    /// what determines their numbers (the sources of the engine, layers, routing methods,
    /// data and harness, not of Report, Analysis, the command line or the pretrained tier;
    /// Package.swift, MOEBENCH_TARGET_CPU and the build configuration). A cached result is
    /// reused only under its tier's fingerprint (`fingerprint(tier:)`).
    public static var fingerprint: String {
        fnv1a64Hex(Data("\(BuildInfo.codeHash)|\(configuration)|\(BuildInfo.targetCPU)".utf8))
    }
    /// The pretrained tier's fingerprint: the from-scratch inputs plus the pretrained
    /// encoder (Sources/Pretrained) and its trainer.
    public static var pretrainedFingerprint: String {
        fnv1a64Hex(Data("\(BuildInfo.pretrainedCodeHash)|\(configuration)|\(BuildInfo.targetCPU)".utf8))
    }
    /// The fingerprint that a result of `tier` records and is checked against.
    public static func fingerprint(tier: String) -> String {
        tier == "pretrained" ? pretrainedFingerprint : fingerprint
    }
    /// What `moebench --version` prints.
    public static var versionText: String {
        """
        moebench \(shortCommit)
        commit: \(commit)\(dirty ? " (dirty: tracked files differed when it was built)" : "")
        code fingerprint: \(fingerprint) (smoke, proxy and full tiers: \(BuildInfo.codeFiles - 1) source files + Package.swift, \(configuration), target cpu \(targetCPU.isEmpty ? "generic" : targetCPU))
        pretrained tier fingerprint: \(pretrainedFingerprint) (\(BuildInfo.pretrainedCodeFiles - 1) source files + Package.swift)
        compiler: \(compiler)
        """
    }
}

/// Captures where a result was produced: the build (commit, fingerprint, compiler), BLAS and
/// its kernels, threads, CPU.
public enum RunEnvironment {
    public static func capture() -> EnvironmentRecord {
        EnvironmentRecord(gitCommit: Build.shortCommit, swiftVersion: Build.compiler,
                          blas: "\(EngineThreads.blasConfig) (\(EngineThreads.blasCore))",
                          threads: EngineThreads.current, cpu: cpuModel, os: osVersion,
                          codeFingerprint: Build.fingerprint, cpuKind: cpuKind, build: Build.configuration,
                          host: hostName)
    }

    /// The kind of CPU as far as the numbers are concerned: the OpenBLAS kernel family in use
    /// (e.g. SkylakeX, Haswell). Kernels of different widths round differently; the engine's
    /// own kernels compute the same bits on every x86-64.
    public static var cpuKind: String { EngineThreads.blasCore }

    static var cpuModel: String {
        guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in s.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }

    static var osVersion: String {
        ProcessInfo.processInfo.operatingSystemVersionString
    }

    /// gethostname(2), without a name lookup.
    public static var hostName: String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown" }
        return String(cString: buf)
    }
}
