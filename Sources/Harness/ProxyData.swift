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

    /// Writes the proxy data a modality needs when it is missing (a marker file per
    /// modality records a finished write, so an interrupted write is redone).
    public func ensureProxy(for modality: Modality, scale: ProxyScale, log: (String) -> Void) throws {
        guard isProxy else { return }
        let marker = root.appendingPathComponent(".complete-\(modality.rawValue)")
        if FileManager.default.fileExists(atPath: marker.path) { return }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let start = Date()
        log("writing \(scale.rawValue) proxy data for \(modality.rawValue) under \(root.path) …")
        switch modality {
        case .text: try GLUEProxy.write(root: root, seed: DataSource.proxySeed, scale: scale)
        case .image: try CIFARProxy.write(root: root, seed: DataSource.proxySeed, scale: scale)
        case .speech: try SpeechProxy.write(root: root, seed: DataSource.proxySeed, scale: scale)
        }
        try Data().write(to: marker)
        log(String(format: "proxy data for %@ written in %.1f s", modality.rawValue, Date().timeIntervalSince(start)))
    }
}
