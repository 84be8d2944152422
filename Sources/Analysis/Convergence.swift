import Foundation
import Harness

/// How the reports judge a learning curve (analysis only: it reads result files, so a change
/// here never makes a result stale).
extension LossCurve {
    /// The convergence rule of the reports: the relative fall of the mean training loss from
    /// the first to the second half of the last fifth of the run (segments 17–18 against
    /// 19–20 of 20): `(a − b) / |a|`. Nil without the 20 segments.
    public var lastFifthDrop: Double? {
        guard segments.count == LossCurve.segmentCount else { return nil }
        let a = (segments[16].meanLoss + segments[17].meanLoss) / 2
        let b = (segments[18].meanLoss + segments[19].meanLoss) / 2
        guard a != 0, a.isFinite, b.isFinite else { return nil }
        return (a - b) / abs(a)
    }

    /// The fraction above which a run counts as "not converged".
    public static let convergenceThreshold = 0.02

    /// False when the loss still fell by more than `convergenceThreshold` over the last fifth.
    public var converged: Bool? { lastFifthDrop.map { $0 <= LossCurve.convergenceThreshold } }
}
