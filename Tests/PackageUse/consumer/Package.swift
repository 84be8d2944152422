// swift-tools-version:6.0
// A package that depends on moebench by version, as a user's would (see ../check.sh).
import PackageDescription

let url = Context.environment["MOEBENCH_PACKAGE_URL"] ?? "https://github.com/moebench/moebench"
let package = Package(
    name: "consumer",
    dependencies: [.package(url: url, exact: "0.0.1")],
    targets: [.executableTarget(name: "consumer", dependencies: [
        .product(name: "Tensor", package: "moebench"),
        .product(name: "Routing", package: "moebench"),
        .product(name: "Harness", package: "moebench"),
    ])]
)
