import Data
import Foundation

/// Where a cell's data comes from: the generated proxy of a scale (under `data/`), or the
/// real datasets at `--data DIR`.
public struct DataSource: Equatable, Sendable {
    public var root: URL
    public var isProxy: Bool

    /// The proxy root for `scale`: `<dataDir>/proxy-<scale>`.
    public static func proxy(_ scale: ProxyScale, dataDir: URL) -> DataSource {
        DataSource(root: dataDir.appendingPathComponent("proxy-\(scale.rawValue)"), isProxy: true)
    }

    /// The seed the proxy data is written with (fixed: the data is part of the benchmark).
    public static let proxySeed: UInt64 = 20_241_122

    /// The marker file that says a modality's proxy data under `root` is complete.
    public func marker(for modality: Modality) -> URL {
        root.appendingPathComponent(".complete-\(modality.rawValue)")
    }

    /// The lock every writer of this proxy root takes (beside the root, so that removing
    /// the root does not remove it).
    var lockFile: URL {
        root.deletingLastPathComponent().appendingPathComponent(".\(root.lastPathComponent).lock")
    }

    /// The folder a writer fills before moving the data into place.
    func partialFolder(for modality: Modality) -> URL {
        root.deletingLastPathComponent().appendingPathComponent(".\(root.lastPathComponent).partial-\(modality.rawValue)")
    }

    /// Writes the proxy data a modality needs when it is missing.
    ///
    /// Safe against kills and concurrent writers: a writer holds an exclusive lock on the
    /// root (`flock`, released by the kernel when the process dies, so a killed writer never
    /// blocks the next one), writes into a partial folder beside the root, then renames each
    /// dataset folder into place and writes the modality's marker last. A process that finds
    /// no marker waits for the lock and checks again: the first writer wins and the others
    /// read what it wrote. A dataset folder without a marker (left by an interrupted write
    /// of an older version) is replaced, as is a partial folder left by a killed writer.
    public func ensureProxy(for modality: Modality, scale: ProxyScale, log: (String) -> Void) throws {
        guard isProxy else { return }
        let fm = FileManager.default
        if fm.fileExists(atPath: marker(for: modality).path) { return }
        let parent = root.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw HarnessError("\(parent.path): cannot create the proxy data folder: \(error.localizedDescription)")
        }
        let once = WriteOnce(marker: marker(for: modality), lock: lockFile, lockName: "the proxy data lock",
                             partial: partialFolder(for: modality), waiting: "proxy data under \(root.path)",
                             writing: "\(scale.rawValue) proxy data for \(modality.rawValue) under \(root.path)",
                             written: "proxy data for \(modality.rawValue)")
        try once.run(log: log) { partial in
            try fm.createDirectory(at: partial, withIntermediateDirectories: true)
            switch modality {
            case .text: try GLUEProxy.write(root: partial, seed: DataSource.proxySeed, scale: scale)
            case .image: try CIFARProxy.write(root: partial, seed: DataSource.proxySeed, scale: scale)
            case .speech: try SpeechProxy.write(root: partial, seed: DataSource.proxySeed, scale: scale)
            }
            try fm.createDirectory(at: root, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: partial.path).sorted() {
                let src = partial.appendingPathComponent(name), dst = root.appendingPathComponent(name)
                if name == DatasetLayout.proxyMarkerFile(partial).lastPathComponent {
                    try mergeNotes(from: src, into: dst)
                    continue
                }
                try WriteOnce.moveIntoPlace(src, dst, what: "the finished proxy data")
            }
        }
    }

    /// Adds the sections (`## ` headings) of the notes file `src` to `dst`, replacing a
    /// section of the same heading (each modality's writer notes its own section).
    func mergeNotes(from src: URL, into dst: URL) throws {
        let new = try String(contentsOf: src, encoding: .utf8)
        guard var text = try? String(contentsOf: dst, encoding: .utf8) else {
            try atomicWrite(Data(new.utf8), to: dst)
            return
        }
        let parts = new.components(separatedBy: "\n## ").dropFirst()
        for part in parts {
            let block = "## " + part.trimmingCharacters(in: .newlines) + "\n\n"
            let heading = block.prefix { $0 != "\n" } + "\n"
            if let r = text.range(of: String(heading)) {
                let rest = text[r.upperBound...]
                let end = rest.range(of: "\n## ").map { text.index(after: $0.lowerBound) } ?? text.endIndex
                text.replaceSubrange(r.lowerBound..<end, with: block)
            } else {
                if !text.hasSuffix("\n\n") { text += text.hasSuffix("\n") ? "\n" : "\n\n" }
                text += block
            }
        }
        try atomicWrite(Data(text.utf8), to: dst)
    }
}
