import Foundation

/// The counters of an optimizer: everything besides its state tensors that a resumed run
/// needs to continue bit-identically. Saved as JSON in checkpoints.
public struct OptimizerState: Codable, Equatable, Sendable {
    /// The optimizer class ("SGD", "Adam", "AdamW"); loading into another kind fails.
    public var kind: String
    /// Number of `step()` calls.
    public var step: Int
    /// Per parameter, the number of updates it received (a parameter without a gradient
    /// at some step is skipped, and its bias correction does not advance, as in PyTorch).
    public var paramSteps: [Int]
    /// The learning rate of the last step.
    public var lr: Float

    public init(kind: String, step: Int, paramSteps: [Int], lr: Float) {
        self.kind = kind
        self.step = step
        self.paramSteps = paramSteps
        self.lr = lr
    }
}

/// Restoring optimizer counters that do not fit the optimizer.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// A parameter group: parameters found by name that train with their own learning rate
/// and weight decay (PyTorch's `param_groups`). Names are the dotted paths
/// `Module.namedParameters()` gives (e.g. `layers.3.ffn.router.weight`).
///
/// A parameter belongs to the first group with a `prefixes` entry its name starts with or a
/// `contains` entry its name contains; parameters matched by no group form the default
/// group, which uses the optimizer's own `lr` and weight decay.
///
/// `lr` is the group's *peak* learning rate, on the same scale as the optimizer's initial
/// `lr` (its base): a schedule that sets `optimizer.lr` each step scales every group the same
/// way, the group's learning rate at a step being `optimizer.lr · group.lr / base`. nil keeps
/// the optimizer's learning rate (and `weightDecay` nil its weight decay).
public struct ParameterGroup: Codable, Equatable, Sendable {
    public var name: String
    public var prefixes: [String]
    public var contains: [String]
    public var lr: Float?
    public var weightDecay: Float?

    public init(name: String, prefixes: [String] = [], contains: [String] = [], lr: Float? = nil, weightDecay: Float? = nil) {
        self.name = name
        self.prefixes = prefixes
        self.contains = contains
        self.lr = lr
        self.weightDecay = weightDecay
    }

    /// Whether parameter `name` belongs to this group.
    public func matches(_ name: String) -> Bool {
        prefixes.contains { name.hasPrefix($0) } || contains.contains { !$0.isEmpty && name.contains($0) }
    }

    /// For each name, the index of the first group it matches, or nil (the default group).
    public static func assign(_ groups: [ParameterGroup], names: [String]) -> [Int?] {
        names.map { n in groups.firstIndex { $0.matches(n) } }
    }
}

/// The base of all optimizers: owns the parameter list, the per-parameter state buffers
/// ("slots", allocated zero-filled up front so that they can be restored in place) and the
/// step counters. A subclass names its slots and overrides `update` for one parameter.
///
/// `step()` visits the parameters in order and updates those that have a gradient
/// (`gradStorage != nil`); the others are skipped, as PyTorch skips parameters whose
/// `.grad` is None. Updates work in place on raw pointers, outside autograd; gradients are
/// read, never modified. Optimizer arithmetic is not counted as model FLOPs.
open class Optimizer {
    /// The parameters, in the order given (state tensor names use these indices).
    public let params: [Tensor]
    /// The learning rate used by the next `step()`; set it before each step for a schedule.
    public var lr: Float
    /// Number of `step()` calls so far.
    public private(set) var stepCount = 0
    /// Per parameter, the number of updates it has received.
    public private(set) var paramSteps: [Int]
    /// Names of the per-parameter state buffers (PyTorch's names, e.g. `exp_avg`).
    public let slotNames: [String]
    /// `slots[s][i]`: buffer `slotNames[s]` of parameter `i`, same shape as the parameter.
    private let slots: [[Tensor]]
    /// The learning rate given at construction: the scale group learning rates are
    /// relative to (see `ParameterGroup`).
    public let baseLR: Float
    /// The parameter groups (empty: every parameter in the default group).
    public private(set) var groups: [ParameterGroup] = []
    /// Per parameter, its group's index in `groups`, or nil for the default group.
    public private(set) var groupOfParam: [Int?]

    public init(_ params: [Tensor], lr: Float, slotNames: [String]) {
        var seen = Set<ObjectIdentifier>()
        for p in params {
            precondition(seen.insert(ObjectIdentifier(p)).inserted,
                         "a parameter (shape \(p.shape)) is listed twice; pass module.parameters(), which lists shared tensors once")
        }
        self.params = params
        self.lr = lr
        self.baseLR = lr
        self.paramSteps = [Int](repeating: 0, count: params.count)
        self.groupOfParam = [Int?](repeating: nil, count: params.count)
        self.slotNames = slotNames
        self.slots = slotNames.map { _ in params.map { Tensor(zeros: $0.shape) } }
    }

    /// Puts the parameters into `groups` by name: `names[i]` is the name of `params[i]`
    /// (`module.namedParameters()` order). Parameters matching no group stay in the default
    /// group, whose updates are exactly those of an optimizer without groups.
    public final func setGroups(_ groups: [ParameterGroup], names: [String]) {
        precondition(names.count == params.count, "\(names.count) names for \(params.count) parameters")
        precondition(baseLR > 0 || groups.allSatisfy { $0.lr == nil }, "group learning rates need a positive base learning rate")
        self.groups = groups
        self.groupOfParam = ParameterGroup.assign(groups, names: names)
    }

    /// The learning rate of parameter `index` at this step: `lr` in the default group,
    /// `lr · group.lr / baseLR` in a group with its own learning rate.
    @inline(__always)
    public final func lr(for index: Int) -> Float {
        guard let g = groupOfParam[index], let glr = groups[g].lr else { return lr }
        return Float(Double(lr) * Double(glr) / Double(baseLR))
    }

    /// The weight decay of parameter `index`: its group's, or `defaultValue` (the
    /// optimizer's own).
    @inline(__always)
    public final func weightDecay(for index: Int, default defaultValue: Float) -> Float {
        guard let g = groupOfParam[index], let wd = groups[g].weightDecay else { return defaultValue }
        return wd
    }

    /// The optimizer's name in saved state.
    open var kind: String { String(describing: type(of: self)) }

    /// Updates every parameter that has a gradient, with the current `lr`.
    public final func step() {
        stepCount += 1
        for i in params.indices {
            guard let g = params[i].gradStorage else { continue }
            paramSteps[i] += 1
            update(params[i], grad: g.base, index: i, step: paramSteps[i])
        }
    }

    /// Updates parameter `index` (`param.data`, `param.count` values) in place from its
    /// gradient `grad`; `step` is this parameter's 1-based update count.
    open func update(_ param: Tensor, grad: UnsafeMutablePointer<Float>, index: Int, step: Int) {
        fatalError("\(type(of: self)) must override update(_:grad:index:step:)")
    }

    /// Buffer `slot` (an index into `slotNames`) of parameter `index`.
    @inline(__always)
    public final func slot(_ slot: Int, _ index: Int) -> UnsafeMutablePointer<Float> {
        slots[slot][index].data
    }

    /// Clears the gradients of all parameters.
    public final func zeroGrad() {
        for p in params { p.zeroGrad() }
    }

    // MARK: State for checkpoints

    /// The state buffers as named tensors, `"<slot>.<parameter index>"` (e.g.
    /// `exp_avg.0`, `exp_avg_sq.0`, `exp_avg.1`, …). These are the live buffers: restoring a
    /// checkpoint copies into them.
    public final func stateTensors() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for i in params.indices {
            for s in slotNames.indices { out.append(("\(slotNames[s]).\(i)", slots[s][i])) }
        }
        return out
    }

    /// The counters (step counts and learning rate).
    public final var state: OptimizerState {
        OptimizerState(kind: kind, step: stepCount, paramSteps: paramSteps, lr: lr)
    }

    /// Restores counters saved from an optimizer of the same kind over the same parameters.
    public final func load(state: OptimizerState) throws {
        guard state.kind == kind else {
            throw OptimizerStateError(message: "saved optimizer is \(state.kind), this one is \(kind)")
        }
        guard state.paramSteps.count == params.count else {
            throw OptimizerStateError(message: "saved optimizer has \(state.paramSteps.count) parameters, this one has \(params.count)")
        }
        guard state.step >= 0, state.paramSteps.allSatisfy({ $0 >= 0 && $0 <= state.step }) else {
            throw OptimizerStateError(message: "saved optimizer step counts are invalid (step \(state.step))")
        }
        stepCount = state.step
        paramSteps = state.paramSteps
        lr = state.lr
    }
}

/// Stochastic gradient descent with momentum, as `torch.optim.SGD`. For each parameter `p`
/// with gradient `g`:
///
///     d = g + weightDecay·p
///     if momentum ≠ 0:
///         buf = d                                   (first update of p)
///         buf = momentum·buf + (1 − dampening)·d    (later updates)
///         d = nesterov ? d + momentum·buf : buf
///     p = p − lr·d
public final class SGD: Optimizer {
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    public let weightDecay: Float

    public init(_ params: [Tensor], lr: Float, momentum: Float = 0, dampening: Float = 0,
                nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum needs momentum > 0 and dampening 0")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        super.init(params, lr: lr, slotNames: momentum != 0 ? ["momentum_buffer"] : [])
    }

    public override func update(_ param: Tensor, grad g: UnsafeMutablePointer<Float>, index: Int, step: Int) {
        let p = param.data, n = param.count
        let lr = self.lr(for: index), mu = momentum, wd = weightDecay(for: index, default: weightDecay), keep = 1 - dampening
        if mu == 0 {
            for j in 0..<n {
                let d = wd != 0 ? g[j] + wd * p[j] : g[j]
                p[j] -= lr * d
            }
            return
        }
        let buf = slot(0, index)
        for j in 0..<n {
            var d = wd != 0 ? g[j] + wd * p[j] : g[j]
            buf[j] = step == 1 ? d : mu * buf[j] + keep * d
            d = nesterov ? d + mu * buf[j] : buf[j]
            p[j] -= lr * d
        }
    }
}

/// Adam, as `torch.optim.Adam` (amsgrad off), with L2 weight decay added to the gradient.
/// For each parameter `p` with gradient `g`, at its `t`-th update:
///
///     d = g + weightDecay·p
///     m = m + (1 − β1)·(d − m)            (= β1·m + (1 − β1)·d)
///     v = β2·v + (1 − β2)·d²
///     p = p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
///
/// The bias corrections are computed in double precision, the rest in float32, in PyTorch's
/// order of operations. The hyperparameters are float32, so `1 − β2` carries the rounding
/// of `Float(0.999)` (1.3e-5 relative), where PyTorch forms it in double precision.
public class Adam: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float

    public init(_ params: [Tensor], lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        super.init(params, lr: lr, slotNames: ["exp_avg", "exp_avg_sq"])
    }

    /// The weight decay added to the gradient (L2) of parameter `index`; AdamW applies its
    /// decay separately.
    func coupledWeightDecay(_ index: Int) -> Float { weightDecay(for: index, default: weightDecay) }

    public override func update(_ param: Tensor, grad g: UnsafeMutablePointer<Float>, index: Int, step: Int) {
        let p = param.data, n = param.count
        let m = slot(0, index), v = slot(1, index)
        let b2 = beta2, oneMinusB1 = 1 - beta1, oneMinusB2 = 1 - beta2, eps = self.eps
        let wd = coupledWeightDecay(index), lr = self.lr(for: index)
        let bc1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let bc2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        for j in 0..<n {
            let d = wd != 0 ? g[j] + wd * p[j] : g[j]
            m[j] += oneMinusB1 * (d - m[j])
            v[j] = b2 * v[j] + oneMinusB2 * d * d
            let denom = v[j].squareRoot() / bc2Sqrt + eps
            p[j] -= stepSize * (m[j] / denom)
        }
    }
}

/// AdamW, as `torch.optim.AdamW`: Adam without L2 in the gradient, and decoupled weight
/// decay applied to the parameter first, `p = p · (1 − lr·weightDecay)`, then the Adam
/// update of `Adam` with `d = g`. PyTorch's default `weightDecay` is 0.01.
public final class AdamW: Adam {
    public override init(_ params: [Tensor], lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                         eps: Float = 1e-8, weightDecay: Float = 0.01) {
        super.init(params, lr: lr, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
    }

    override func coupledWeightDecay(_ index: Int) -> Float { 0 }

    public override func update(_ param: Tensor, grad g: UnsafeMutablePointer<Float>, index: Int, step: Int) {
        let wd = weightDecay(for: index, default: weightDecay)
        if wd != 0 {
            let p = param.data, decay = 1 - lr(for: index) * wd
            for j in 0..<param.count { p[j] *= decay }
        }
        super.update(param, grad: g, index: index, step: step)
    }
}
