import Foundation
import Tensor

/// The default of every option a registered method reads, found by building the method
/// with no options set and recording what `MethodOptions` is asked for (so the listing
/// cannot drift from the initialisers). Used by `moebench list methods`.
public enum OptionDefaults {
    /// Collects `key -> default` while a method is built under `record`.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [String: String] = [:]
        func note(_ key: String, _ value: String) {
            lock.lock(); defer { lock.unlock() }
            if seen[key] == nil { seen[key] = value }
        }
        var values: [String: String] { lock.lock(); defer { lock.unlock() }; return seen }
    }

    @TaskLocal static var recorder: Recorder?

    /// Model sizes used to build a method for the listing; defaults do not depend on them.
    static let probeD = 8, probeHidden = 16, probeBlocks = 4

    /// The defaults `method` applies when a suite sets none of its options, by key. Keys an
    /// initialiser reads only under other settings are absent; `none` means unset.
    public static func defaults(of method: RegisteredMethod) -> [String: String] {
        let r = Recorder()
        $recorder.withValue(r) {
            var rng = RNG(seed: 0)
            let options = MethodOptions(method: method.name, method.preset)
            switch method.kind {
            case .ffnSlot(let make, _): _ = try? make(probeD, probeHidden, options, &rng)
            case .blockMixer(let make): _ = try? make(probeD, probeBlocks, options, &rng)
            }
        }
        return r.values.filter { method.optionKeys.contains($0.key) }
    }
}
