// swift-tools-version:6.0
import PackageDescription

// Numeric kernels are checked in debug builds. Release builds made through the Makefile
// (which exports `MOEBENCH_FAST=1`; every benchmark is measured so) compile them with
// `-Ounchecked -wmo`, without overflow/bounds traps, and `MOEBENCH_TARGET_CPU` (set by the
// Makefile from the CPU's flags: `skylake-avx512` for AVX-512, `haswell` for AVX2 + FMA) lets
// the compiler vectorise the elementwise kernels for that CPU.
// Without `MOEBENCH_FAST=1` no unsafe flag is set: a package that depends on moebench by
// version builds it with plain `-O` (SwiftPM refuses unsafe flags in versioned dependencies).
import Foundation
let environment = ProcessInfo.processInfo.environment
let fast = environment["MOEBENCH_FAST"] == "1"
let targetCPU = environment["MOEBENCH_TARGET_CPU"].flatMap { $0.isEmpty ? nil : ["-target-cpu", $0] } ?? []
let kernelSettings: [SwiftSetting] = fast
    ? [.unsafeFlags(["-Ounchecked", "-wmo"] + targetCPU, .when(configuration: .release))]
    : []

let package = Package(
    name: "moebench",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "moebench", targets: ["moebench"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Routing", targets: ["Routing"]),
        .library(name: "Harness", targets: ["Harness"]),
        .library(name: "Analysis", targets: ["Analysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // Tests only: random suite values for the property-based validation test.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // Documentation only: `make docs` (the `generate-documentation` command plugin).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries: the chosen dependencies, installed by `make deps`.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFLAC", pkgConfig: "flac", providers: [.apt(["libflac-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev"])]),

        // The engine: storage, autograd tape, FLOP counter, RNG, kernels.
        .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: kernelSettings),
        // Modules, layers, optimizers, schedules.
        .target(name: "NN", dependencies: ["Tensor"], swiftSettings: kernelSettings),
        // The shared backbone and the routing methods.
        .target(name: "Routing", dependencies: ["NN", "Tensor"], swiftSettings: kernelSettings),
        // Dataset formats, proxy generators, tokenizer, features, metrics.
        .target(name: "Data", dependencies: ["Tensor", "CFLAC"], swiftSettings: kernelSettings),
        // The offline pretrained encoder: safetensors, BERT, LoRA.
        .target(name: "Pretrained", dependencies: ["NN", "Tensor", "Data", "Routing"], swiftSettings: kernelSettings),
        // Suites, the run grid, cache/resume, sharding, results, regression.
        .target(name: "Harness", dependencies: ["Routing", "Data", "NN", "Tensor", "Pretrained",
                                                .product(name: "Yams", package: "Yams")],
                plugins: ["BuildInfo"]),
        // Embeds the commit, dirty flag, code fingerprint and compiler version in Harness
        // (Plugins/BuildInfo/buildinfo.sh says what the fingerprint hashes).
        .plugin(name: "BuildInfo", capability: .buildTool()),
        // What is computed from result files, never inside a cell: suite scores, statistics,
        // claims and their verdicts, the convergence rule, reproduction and regression checks.
        // Outside the code fingerprint, so a change here never makes a result stale; the
        // compiler keeps cell code (Harness and below) from calling into it.
        .target(name: "Analysis", dependencies: ["Harness", "Tensor"]),
        // Markdown tables, claims, PNG plots.
        .target(name: "Report", dependencies: ["Harness", "Analysis", "CPNG", "CFreeType"]),
        // The command line: thin.
        .executableTarget(name: "moebench", dependencies: [
            "Tensor", "NN", "Routing", "Data", "Harness", "Analysis", "Report", "Pretrained",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "TestSupport"]),
        .testTarget(name: "PretrainedTests", dependencies: ["Pretrained", "NN", "Tensor", "Data", "Routing", "Harness", "Analysis", "Report", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "Analysis", "Report", "Routing", "Data", "TestSupport",
                                                        .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "NN", "Tensor", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
