import Foundation
import XCTest

/// Runs the real `moebench` executable built beside the tests and captures what it did.
enum CLI {
    struct Run {
        var status: Int32
        /// Killed by a signal (the status is then the signal number).
        var signaled: Bool
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    /// The `moebench` executable built beside the test bundle (`swift build --build-tests`
    /// builds it too).
    static func executable() throws -> URL {
        let bundle = Bundle(for: BundleToken.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("moebench") }
        guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no moebench executable beside the tests (\(candidates[0].path)); run `swift build --build-tests` first")
        }
        return exe
    }

    /// Starts `moebench args` in `dir` with output to files (read back by `finish`).
    static func start(_ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> (Process, URL, URL) {
        let p = Process()
        p.executableURL = try executable()
        p.currentDirectoryURL = dir
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "MOEBENCH_THREADS")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let tag = UUID().uuidString
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-cli-\(tag).out")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("moebench-cli-\(tag).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return (p, out, err)
    }

    static func finish(_ started: (Process, URL, URL)) -> Run {
        let (p, out, err) = started
        p.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return Run(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                   stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    @discardableResult
    static func run(_ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> Run {
        finish(try start(args, in: dir, environment: environment))
    }

    private final class BundleToken {}
}
