import Foundation
import PackagePlugin

/// Embeds the build's provenance in the target it is applied to: the git commit, whether
/// tracked files differ from it, the code fingerprint (a hash of the files that determine
/// the numbers; `buildinfo.sh` lists them), the compiler version and the target CPU flag.
/// It runs before every build (`swift build`, `swift test`, `make release`), and rewrites the
/// generated file only when one of these changes.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
        let pkg = context.package.directoryURL
        var env: [String: String] = [:]
        let inherited = ProcessInfo.processInfo.environment
        for key in ["PATH", "HOME", "MOEBENCH_TARGET_CPU"] {
            if let v = inherited[key] { env[key] = v }
        }
        env["MOEBENCH_TARGET_CPU_SET"] = inherited["MOEBENCH_TARGET_CPU"] == nil ? "0" : "1"
        return [.prebuildCommand(displayName: "moebench build info (commit, code fingerprint)",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: [pkg.appendingPathComponent("Plugins/BuildInfo/buildinfo.sh").path, pkg.path, out.path],
                                 environment: env, outputFilesDirectory: out)]
    }
}
