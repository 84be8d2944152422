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

    /// The absolute fall `a − b` of the same two means (in the loss's own units).
    public var lastFifthFall: Double? {
        guard segments.count == LossCurve.segmentCount else { return nil }
        let a = (segments[16].meanLoss + segments[17].meanLoss) / 2
        let b = (segments[18].meanLoss + segments[19].meanLoss) / 2
        guard a.isFinite, b.isFinite else { return nil }
        return a - b
    }

    /// The fraction above which a run counts as "not converged".
    public static let convergenceThreshold = 0.02
    /// The absolute fall at or below which a run counts as converged whatever the fraction:
    /// a loss near zero (a task learnt to saturation: 0.004 to 0.002 is a 50 % fall) has
    /// nothing left to learn.
    public static let convergenceFloor = 0.01

    /// False when the loss still fell by more than `convergenceThreshold` of itself and by
    /// more than `convergenceFloor` over the last fifth.
    public var converged: Bool? {
        guard let drop = lastFifthDrop, let fall = lastFifthFall else { return nil }
        return drop <= LossCurve.convergenceThreshold || fall <= LossCurve.convergenceFloor
    }
}
