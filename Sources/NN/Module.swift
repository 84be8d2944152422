/// The base class of every layer and model: parameters are found by reflection.
///
/// A subclass declares its parameters and sub-modules as ordinary stored properties and
/// its forward pass as `callAsFunction`:
///
/// ```swift
/// final class FFN: Module {
///     let w1: Linear, w2: Linear
///     init(d: Int, hidden: Int, rng: inout RNG) {
///         w1 = Linear(d, hidden, rng: &rng); w2 = Linear(hidden, d, rng: &rng)
///     }
///     func callAsFunction(_ x: Tensor) -> Tensor { w2(w1(x).relu()) }
/// }
/// ```
///
/// Discovery walks the stored properties (base-class properties first, then each subclass's,
/// each in declaration order) and finds:
/// - `Tensor` values: a tensor with `requiresGrad` that is a leaf (not the output of a
///   recorded op) is a *parameter*; every leaf tensor (trainable or frozen) is a *state
///   tensor* (what a checkpoint saves);
/// - child `Module`s (walked recursively);
/// - arrays of these, possibly nested (`[Module]`, `[Tensor]`, `[[Module]]`), named by
///   index; dictionaries `[String: Module]` / `[String: Tensor]`, named by key in sorted
///   order; and optionals of all of these (`nil` contributes nothing). `lazy` properties
///   count once they have been initialised.
///
/// Names are the property path joined by dots, e.g. `blocks.0.ffn.w1.weight`, and are stable
/// across runs. A tensor or module reachable along several paths (shared weights) is listed
/// once, under the first path in this order. Modules should keep per-call values (caches,
/// activations) out of stored `Tensor` properties, since those would be saved too.
open class Module {
    /// True in training mode (dropout active, routing noise on), false in evaluation mode.
    /// Set for the whole tree by `train()` / `eval()`.
    public private(set) var isTraining: Bool = true

    public init() {}

    // MARK: Discovery

    /// This module (named "") and every sub-module, depth-first in discovery order, each
    /// once.
    public final func namedModules() -> [(String, Module)] {
        var modules: [(String, Module)] = []
        var visitor = Visitor()
        visitor.onModule = { modules.append(($0, $1)) }
        visitor.walk(self, prefix: "")
        return modules
    }

    /// Trainable parameters: leaf tensors with `requiresGrad`, each once, with their dotted
    /// names.
    public final func namedParameters() -> [(String, Tensor)] {
        namedTensors().filter { $0.1.requiresGrad }
    }

    /// Every leaf tensor the module tree holds (trainable parameters and frozen tensors),
    /// each once, with its dotted name: the module's state for checkpoints.
    public final func namedTensors() -> [(String, Tensor)] {
        var tensors: [(String, Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        var visitor = Visitor()
        visitor.onTensor = { name, t in
            guard !t.hasGradFn, seen.insert(ObjectIdentifier(t)).inserted else { return }
            tensors.append((name, t))
        }
        visitor.walk(self, prefix: "")
        return tensors
    }

    /// Trainable parameters in `namedParameters()` order, each once.
    public final func parameters() -> [Tensor] { namedParameters().map { $0.1 } }

    /// Number of trainable scalars (shared tensors counted once).
    public final var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    // MARK: Modes and gradients

    /// Puts this module and all sub-modules in training mode (`true`) or evaluation mode.
    public final func train(_ mode: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = mode }
    }

    /// Puts this module and all sub-modules in evaluation mode.
    public final func eval() { train(false) }

    /// Clears the gradient of every parameter.
    public final func zeroGrad() {
        for p in parameters() { p.zeroGrad() }
    }
}

/// Depth-first walk over a module tree by reflection.
private struct Visitor {
    var onModule: (String, Module) -> Void = { _, _ in }
    var onTensor: (String, Tensor) -> Void = { _, _ in }
    var visited = Set<ObjectIdentifier>()

    mutating func walk(_ module: Module, prefix: String) {
        guard visited.insert(ObjectIdentifier(module)).inserted else { return }
        onModule(prefix, module)
        // Base-class properties first: collect the mirror chain up to (not including) Module.
        var chain: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: module)
        while let m = mirror, m.subjectType != Module.self {
            chain.append(m)
            mirror = m.superclassMirror
        }
        for m in chain.reversed() {
            for child in m.children {
                guard let label = child.label else { continue }
                visit(child.value, join(prefix, propertyName(label)))
            }
        }
    }

    mutating func visit(_ value: Any, _ name: String) {
        // `as?` from `Any` unwraps optionals, so `Tensor?`, `[Module]?`, … are covered.
        if let t = value as? Tensor {
            onTensor(name, t)
        } else if let m = value as? Module {
            walk(m, prefix: name)
        } else if let a = value as? [Tensor?] {
            for (i, t) in a.enumerated() { if let t { onTensor(join(name, "\(i)"), t) } }
        } else if let a = value as? [Module?] {
            for (i, m) in a.enumerated() { if let m { walk(m, prefix: join(name, "\(i)")) } }
        } else if let d = value as? [String: Tensor] {
            for k in d.keys.sorted() { onTensor(join(name, k), d[k]!) }
        } else if let d = value as? [String: Module] {
            for k in d.keys.sorted() { walk(d[k]!, prefix: join(name, k)) }
        } else {
            // Nested arrays such as `[[Module]]`: only when the first element is itself
            // something to walk, so that large numeric arrays are not enumerated.
            let mirror = Mirror(reflecting: value)
            var unwrapped = mirror
            if mirror.displayStyle == .optional {
                guard let inner = mirror.children.first?.value else { return }
                unwrapped = Mirror(reflecting: inner)
            }
            guard unwrapped.displayStyle == .collection,
                  let first = unwrapped.children.first?.value, Visitor.isWalkable(first) else { return }
            for (i, child) in unwrapped.children.enumerated() { visit(child.value, join(name, "\(i)")) }
        }
    }

    static func isWalkable(_ value: Any) -> Bool {
        value is Tensor || value is Module || value is [Tensor?] || value is [Module?]
            || value is [String: Tensor] || value is [String: Module]
            || (Mirror(reflecting: value).displayStyle == .collection
                && Mirror(reflecting: value).children.first.map { isWalkable($0.value) } == true)
    }

    func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The declared property name behind a mirror label (`lazy var x` is stored as
    /// `$__lazy_storage_$_x`).
    func propertyName(_ label: String) -> String {
        let lazyPrefix = "$__lazy_storage_$_"
        return label.hasPrefix(lazyPrefix) ? String(label.dropFirst(lazyPrefix.count)) : label
    }
}
