/// Parameter initialisers. Each returns a fresh leaf tensor with `requiresGrad = true`,
/// drawing its values from `rng` in row-major order (so the same generator state gives the
/// same values on every platform).
public enum Init {
    /// Normal(mean, std²) values, e.g. `std: 0.02` for transformer weights.
    public static func normal(_ shape: [Int], std: Float, mean: Float = 0, rng: inout RNG) -> Tensor {
        Tensor.randn(shape, std: std, mean: mean, rng: &rng, requiresGrad: true)
    }

    /// Uniform values in `[-bound, bound)`.
    public static func uniform(_ shape: [Int], bound: Float, rng: inout RNG) -> Tensor {
        Tensor.uniform(shape, -bound, bound, rng: &rng, requiresGrad: true)
    }

    /// Glorot/Xavier uniform for a `[fanIn, fanOut]` weight (the layout `linear` uses):
    /// `U(-a, a)` with `a = gain · sqrt(6 / (fanIn + fanOut))`, as
    /// `torch.nn.init.xavier_uniform_`.
    public static func xavierUniform(fanIn: Int, fanOut: Int, gain: Float = 1, rng: inout RNG) -> Tensor {
        precondition(fanIn + fanOut > 0, "xavierUniform needs fanIn + fanOut > 0")
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        return uniform([fanIn, fanOut], bound: bound, rng: &rng)
    }

    /// PyTorch's `nn.Linear` default for both weight and bias: `U(-1/sqrt(fanIn), 1/sqrt(fanIn))`
    /// (kaiming_uniform with `a = sqrt(5)` reduces to this bound).
    public static func linearDefault(_ shape: [Int], fanIn: Int, rng: inout RNG) -> Tensor {
        precondition(fanIn > 0, "linearDefault needs fanIn > 0")
        return uniform(shape, bound: 1 / Float(fanIn).squareRoot(), rng: &rng)
    }

    /// All zeros (biases, LoRA's B matrix).
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(zeros: shape, requiresGrad: true) }

    /// All ones (layer-norm gains).
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1, requiresGrad: true) }
}
