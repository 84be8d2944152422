import Foundation

/// Writes the whole proxy dataset root: GLUE, CIFAR-100 and LibriSpeech in their published
/// formats, and `PROXY.md` saying the data is synthetic, how it was made, the seed and the
/// scale (see `DatasetLayout`).
public enum ProxyData {
    /// Writes `root/glue/`, `root/cifar-100-binary/`, `root/LibriSpeech/` and `root/PROXY.md`.
    /// `progress` is called before each dataset with its name. Throws a `DataError` when a
    /// folder cannot be written, when a folder holds published (non-proxy) data, or when a
    /// tool the speech proxy needs (espeak-ng, sox) is missing.
    public static func write(root: URL, seed: UInt64, scale: ProxyScale,
                             progress: (String) -> Void = { _ in }) throws {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: root.path, "cannot create the dataset folder: \(error.localizedDescription)")
        }
        try ProxyNotes.record(root: root, section: "moebench data proxy", body: """
            Written by `moebench data proxy --out \(root.path) --seed \(seed) --scale \(scale.rawValue)`: \
            seed \(seed), scale \(scale.rawValue). The same seed and scale write the same bytes. Results \
            built from this folder are labelled "data: proxy".
            """)
        progress(DatasetLayout.glueFolder)
        try GLUEProxy.write(root: root, seed: seed, scale: scale)
        progress(DatasetLayout.cifarFolder)
        try CIFARProxy.write(root: root, seed: seed, scale: scale)
        progress(DatasetLayout.librispeechFolder)
        try SpeechProxy.write(root: root, seed: seed, scale: scale)
    }
}
