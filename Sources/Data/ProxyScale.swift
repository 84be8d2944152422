import Foundation

/// How large a written proxy dataset is.
///
/// - `smoke`: tiny (tens of examples per split), written in seconds; for tests and CI.
/// - `proxy`: moderate, the default benchmark data when the real archives are absent; sized
///   so that the full method grid trains on it on a small machine.
public enum ProxyScale: String, CaseIterable, Codable, Sendable {
    case smoke
    case proxy
}

/// The layout of a dataset root folder, real or proxy.
///
/// A root folder `DIR` holds:
///
/// ```
/// DIR/glue/<Task>/train.tsv, dev.tsv, test.tsv      (official GLUE folder names:
///                                                     CoLA, SST-2, MRPC, STS-B, QQP,
///                                                     MNLI, QNLI, RTE, WNLI; MNLI has
///                                                     dev_matched.tsv, dev_mismatched.tsv,
///                                                     test_matched.tsv instead of dev/test)
/// DIR/cifar-100-binary/train.bin, test.bin,
///                      coarse_label_names.txt, fine_label_names.txt
/// DIR/LibriSpeech/<subset>/<speaker>/<chapter>/...   (OpenSLR 12 layout)
/// DIR/PROXY.md                                       (only in a proxy root: says the data
///                                                     is synthetic, how, seed and scale)
/// ```
///
/// A proxy root additionally keeps `difficulty.tsv` side files (`index<TAB>level`) next to
/// the split files they describe; the dataset files themselves are byte-for-byte in the
/// real formats.
public enum DatasetLayout {
    /// Folder holding the nine GLUE task folders.
    public static let glueFolder = "glue"
    /// Folder holding the CIFAR-100 binary-version files.
    public static let cifarFolder = "cifar-100-binary"
    /// Folder holding the LibriSpeech subsets.
    public static let librispeechFolder = "LibriSpeech"
    /// Marker file at the root of a proxy dataset.
    public static let proxyMarker = "PROXY.md"

    /// `root/glue`.
    public static func glue(_ root: URL) -> URL {
        root.appendingPathComponent(glueFolder, isDirectory: true)
    }
    /// `root/cifar-100-binary`.
    public static func cifar(_ root: URL) -> URL {
        root.appendingPathComponent(cifarFolder, isDirectory: true)
    }
    /// `root/LibriSpeech`.
    public static func librispeech(_ root: URL) -> URL {
        root.appendingPathComponent(librispeechFolder, isDirectory: true)
    }
    /// `root/PROXY.md`.
    public static func proxyMarkerFile(_ root: URL) -> URL {
        root.appendingPathComponent(proxyMarker)
    }
    /// True when `root/PROXY.md` exists, i.e. the root holds synthetic proxy data.
    public static func isProxy(_ root: URL) -> Bool {
        FileManager.default.fileExists(atPath: proxyMarkerFile(root).path)
    }
}
