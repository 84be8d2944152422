/// A fully connected layer: `y = x · W + b`.
///
/// Shapes: `x: [..., in]`, `weight: [in, out]`, `bias: [out]`, `y: [..., out]`. FLOPs (from
/// `linear`): `2·rows·in·out` forward plus `rows·out` for the bias, where `rows` is the
/// product of the leading dimensions of `x`.
public final class Linear: Module {
    /// `[in, out]`.
    public var weight: Tensor
    /// `[out]`, or nil for a layer without bias.
    public var bias: Tensor?

    /// A layer with PyTorch's `nn.Linear` default initialisation: weight and bias uniform
    /// in `±1/sqrt(in)` (weight drawn first, then bias, from `rng`).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RNG) {
        weight = Init.linearDefault([inFeatures, outFeatures], fanIn: inFeatures, rng: &rng)
        self.bias = bias ? Init.linearDefault([outFeatures], fanIn: inFeatures, rng: &rng) : nil
        super.init()
    }

    /// A layer over given tensors (e.g. initialised with `Init.normal` or shared with
    /// another layer).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear weight must be [in, out], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[1]], "Linear bias \(bias.shape) vs weight \(weight.shape)") }
        self.weight = weight
        self.bias = bias
        super.init()
    }

    public var inFeatures: Int { weight.shape[0] }
    public var outFeatures: Int { weight.shape[1] }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight, bias) }
}
