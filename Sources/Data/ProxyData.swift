import Foundation

/// Writes the whole proxy dataset root: GLUE, CIFAR-100 and LibriSpeech in their published
/// formats, and `PROXY.md` saying the data is synthetic, how it was made, the seed and the
/// scale (see `DatasetLayout`).
public enum ProxyData {
    /// Writes `root/glue/`, `root/cifar-100-binary/`, `root/LibriSpeech/` and `root/PROXY.md`.
    /// `progress` is called before each dataset with its name. Throws a `DataError`, before
    /// writing anything, when the root already holds published (non-proxy) data of any of
    /// the three; and when a folder cannot be written or a tool the speech proxy needs
    /// (espeak-ng, sox) is missing.
    public static func write(root: URL, seed: UInt64, scale: ProxyScale,
                             progress: (String) -> Void = { _ in }) throws {
        try refusePublishedData(root: root)
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: root.path, "cannot create the dataset folder: \(error.localizedDescription)")
        }
        progress(DatasetLayout.glueFolder)
        try GLUEProxy.write(root: root, seed: seed, scale: scale)
        progress(DatasetLayout.cifarFolder)
        try CIFARProxy.write(root: root, seed: seed, scale: scale)
        progress(DatasetLayout.librispeechFolder)
        try SpeechProxy.write(root: root, seed: seed, scale: scale)
        try ProxyNotes.record(root: root, section: "moebench data proxy", body: """
            Written by `moebench data proxy --out \(root.path) --seed \(seed) --scale \(scale.rawValue)`: \
            seed \(seed), scale \(scale.rawValue). The same seed and scale write the same bytes. Results \
            built from this folder are labelled "data: proxy".
            """)
    }

    /// Throws when `root` holds published data that a proxy write would mix with synthetic
    /// data: a GLUE task folder with `train.tsv`, `cifar-100-binary/` with `train.bin`, or a
    /// LibriSpeech subset folder, without the proxy's `difficulty.tsv`.
    public static func refusePublishedData(root: URL) throws {
        let fm = FileManager.default
        func published(_ dir: URL, _ marker: String?) -> Bool {
            let hasData = marker.map { fm.fileExists(atPath: dir.appendingPathComponent($0).path) }
                ?? fm.fileExists(atPath: dir.path)
            return hasData && !fm.fileExists(atPath: dir.appendingPathComponent("difficulty.tsv").path)
        }
        var folders = GLUETask.allCases.map { (GLUE.taskFolder(root: root, task: $0), Optional("train.tsv")) }
        folders.append((DatasetLayout.cifar(root), "train.bin"))
        folders += LibriSpeech.subsets.map { (DatasetLayout.librispeech(root).appendingPathComponent($0), nil) }
        for (dir, marker) in folders where published(dir, marker) {
            throw DataError(file: dir.path, "holds data that is not proxy data (no difficulty.tsv): "
                            + "not writing proxy data into this dataset root")
        }
    }
}
