import ArgumentParser
import Foundation
import Analysis
import Harness
import Tensor

@main
struct MoEBench: ParsableCommand {
    /// Selects OpenBLAS's kernels for this CPU before the library initialises: when
    /// `OPENBLAS_CORETYPE` is unset, sets it from the CPU flags and re-executes the
    /// program once (`MOEBENCH_NO_CORETYPE=1` keeps OpenBLAS's own detection).
    static func main() {
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] == nil, env["MOEBENCH_NO_CORETYPE"] == nil,
           let core = EngineThreads.preferredCoreType() {
            setenv("OPENBLAS_CORETYPE", core, 1)
            let argv = CommandLine.unsafeArgv
            execv("/proc/self/exe", argv)
            // execv returns only on failure: go on with the default kernels.
        }
        // Progress lines reach a log file or a pipe as they are printed.
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "moebench",
        abstract: "Reproducible benchmark and paper-replication suite for Mixture-of-Experts routing.",
        // The provenance embedded at build time (commit, dirty flag, code fingerprint,
        // compiler); `moebench env` adds the BLAS kernels and threads of this machine.
        version: Build.versionText,
        subcommands: [EnvCommand.self, DataCommand.self, ReplicateCommand.self, VerifyCommand.self, ReportCommand.self, ReferenceCommand.self, CompareCommand.self, ListCommand.self, MergeCommand.self,
                      RegressCommand.self, FlopsCommand.self, EncodeCommand.self, BenchCommand.self]
    )
}

/// Options every compute command shares.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Engine threads (default: MOEBENCH_THREADS, else OpenBLAS's default: OPENBLAS_NUM_THREADS or the core count).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard (1...EngineThreads.maxThreads).contains(threads) else {
                throw ValidationError("--threads must be in 1...\(EngineThreads.maxThreads), got \(threads)")
            }
            EngineThreads.set(threads)
        } else {
            try EngineThreads.configureFromEnvironment()
        }
    }
}

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print the engine's configuration (BLAS, threads).")

    @OptionGroup var engine: EngineOptions

    func run() throws {
        try engine.apply()
        print(Build.versionText)
        print("openblas: \(EngineThreads.blasConfig)")
        print("core: \(EngineThreads.blasCore)")
        print("threads: \(EngineThreads.current)")
        print("cpu kind: \(RunEnvironment.cpuKind) (\(RunEnvironment.capture().cpu))")
    }
}
