import ArgumentParser
import Foundation
import Tensor

@main
struct MoEBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moebench",
        abstract: "Reproducible benchmark and paper-replication suite for Mixture-of-Experts routing.",
        subcommands: [EnvCommand.self, DataCommand.self, ReportCommand.self, MergeCommand.self,
                      RegressCommand.self, FlopsCommand.self, EncodeCommand.self]
    )
}

/// Options every compute command shares.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "OpenBLAS threads (default: MOEBENCH_THREADS, else OpenBLAS's own default).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            EngineThreads.set(threads)
        } else {
            EngineThreads.configureFromEnvironment()
        }
    }
}

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print the engine's configuration (BLAS, threads).")

    @OptionGroup var engine: EngineOptions

    func run() throws {
        try engine.apply()
        print("openblas: \(EngineThreads.blasConfig)")
        print("core: \(EngineThreads.blasCore)")
        print("threads: \(EngineThreads.current)")
    }
}
