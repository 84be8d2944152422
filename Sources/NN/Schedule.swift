import Foundation

/// A learning-rate schedule: linear warm-up from 0, then constant, linear or cosine decay.
///
/// `lr(step)` is the learning rate of the optimizer update with 0-based index `step` (set
/// `optimizer.lr = schedule.lr(step)` before the `step`-th `optimizer.step()`). The values
/// are those of Hugging Face's `get_constant_schedule_with_warmup`,
/// `get_linear_schedule_with_warmup` and `get_cosine_schedule_with_warmup` (and
/// `get_cosine_with_min_lr_schedule_with_warmup` for a floor) driven by PyTorch's
/// `LambdaLR` with `optimizer.step(); scheduler.step()`, so the first update uses
/// `factor(0)`. With `W = warmupSteps`, `T = totalSteps`, `s = step`:
///
///     warm-up (s < W):  factor = s / max(1, W)          (the first update has lr 0 when W > 0)
///     constant:         factor = 1
///     linear:           factor = max(0, (T − s) / max(1, T − W))
///     cosine:           factor = 0.5·(1 + cos(π·min(1, (s − W) / max(1, T − W))))
///     lr = peak · factor                         (warm-up phase)
///     lr = floor + (peak − floor) · factor       (decay phase; floor = 0 by default)
///
/// After `T` the linear and cosine schedules stay at the floor (Hugging Face's cosine
/// would rise again past `T`; training never goes there). Computed in double precision.
public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, Sendable {
        case constant, linear, cosine
    }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    /// The value the decay ends at (Hugging Face's `min_lr`); 0 decays to zero.
    public var floor: Float

    public init(peak: Float, warmupSteps: Int = 0, totalSteps: Int = 0, decay: Decay = .constant, floor: Float = 0) {
        precondition(warmupSteps >= 0 && totalSteps >= 0, "negative schedule length")
        precondition(decay == .constant || totalSteps >= warmupSteps,
                     "totalSteps \(totalSteps) < warmupSteps \(warmupSteps)")
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.floor = floor
    }

    /// Linear warm-up over `warmup` updates, then `peak`.
    public static func constant(_ peak: Float, warmup: Int = 0) -> LRSchedule {
        LRSchedule(peak: peak, warmupSteps: warmup, decay: .constant)
    }

    /// Linear warm-up, then linear decay to `floor` at update `total`.
    public static func linear(_ peak: Float, warmup: Int = 0, total: Int, floor: Float = 0) -> LRSchedule {
        LRSchedule(peak: peak, warmupSteps: warmup, totalSteps: total, decay: .linear, floor: floor)
    }

    /// Linear warm-up, then half-cosine decay to `floor` at update `total`.
    public static func cosine(_ peak: Float, warmup: Int = 0, total: Int, floor: Float = 0) -> LRSchedule {
        LRSchedule(peak: peak, warmupSteps: warmup, totalSteps: total, decay: .cosine, floor: floor)
    }

    /// The learning rate of the update with 0-based index `step`.
    public func lr(_ step: Int) -> Float {
        let s = Double(max(step, 0)), w = Double(warmupSteps), t = Double(totalSteps)
        if step < warmupSteps { return Float(Double(peak) * s / Swift.max(1, w)) }
        let factor: Double
        switch decay {
        case .constant:
            return peak
        case .linear:
            factor = Swift.max(0, (t - s) / Swift.max(1, t - w))
        case .cosine:
            let progress = Swift.min(1, (s - w) / Swift.max(1, t - w))
            factor = 0.5 * (1 + Foundation.cos(Double.pi * progress))
        }
        return Float(Double(floor) + (Double(peak) - Double(floor)) * factor)
    }
}
