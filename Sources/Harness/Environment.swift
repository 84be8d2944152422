import Foundation
import Tensor

/// Captures where a result was produced: git commit, Swift version, BLAS and threads, CPU.
public enum RunEnvironment {
    public static func capture(projectRoot: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> EnvironmentRecord {
        EnvironmentRecord(gitCommit: gitCommit(projectRoot), swiftVersion: swiftVersion,
                          blas: "\(EngineThreads.blasConfig) (\(EngineThreads.blasCore))",
                          threads: EngineThreads.current, cpu: cpuModel, os: osVersion)
    }

    static var swiftVersion: String {
        #if swift(>=6.3)
        return "6.3+"
        #elseif swift(>=6.0)
        return "6.x"
        #else
        return "5.x"
        #endif
    }

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

    /// The checked-out commit, with "-dirty" when tracked files differ; "unknown" outside git.
    static func gitCommit(_ root: URL) -> String {
        func run(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", root.path] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { return nil }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let head = run(["rev-parse", "--short=12", "HEAD"]) else { return "unknown" }
        let dirty = (run(["status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty ? "" : "-dirty"
        return head + dirty
    }
}
