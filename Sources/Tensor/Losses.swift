import Foundation

/// Cross-entropy of integer class labels with the log-softmax fused in (stable for large
/// logits), averaged over the rows that are not ignored, as PyTorch's `cross_entropy`
/// with `reduction: "mean"`:
///
///     ℓᵣ = log Σ_c exp(logits[r, c]) − logits[r, labels[r]]        (= −log softmax(logits_r)[labels[r]])
///     L  = (1/K) Σ_{r counted} ℓᵣ,   K = #{r : labels[r] ≠ ignoreIndex}
///     dlogits[r, c] = dL · (softmax(logits_r)[c] − [c == labels[r]]) / K   (0 on ignored rows)
///
/// Shapes: `logits: [N, C]`, `labels`: N class ids in `0..<C` (or `ignoreIndex`); the
/// result has shape `[]`. When every row is ignored (or `N == 0`) the loss is 0 and the
/// gradient is zero. A label out of range on a counted row is a programmer error.
/// FLOPs: 5 per logit of the counted rows forward, 2 backward.
public func crossEntropy(_ logits: Tensor, labels: [Int], ignoreIndex: Int? = nil) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy expects logits [N, C], got \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(labels.count == n, "crossEntropy: \(labels.count) labels for \(n) rows")
    let needs = Autograd.needsGrad(logits)
    // Softmax of each counted row, kept only when a backward will need it.
    let probs = TensorStorage(count: needs ? logits.count : 0, zeroed: false)
    let px = logits.data, pp = probs.base
    var total: Double = 0
    var counted = 0
    for r in 0..<n {
        let y = labels[r]
        if let ig = ignoreIndex, y == ig { continue }
        precondition(y >= 0 && y < c, "crossEntropy: label \(y) of row \(r) out of range 0..<\(c)")
        let row = px + r * c
        var m = -Float.infinity
        for j in 0..<c { m = Swift.max(m, row[j]) }
        var s: Float = 0
        if needs {
            let prow = pp + r * c
            for j in 0..<c { let e = Foundation.exp(row[j] - m); prow[j] = e; s += e }
            let inv = 1 / s
            for j in 0..<c { prow[j] *= inv }
        } else {
            for j in 0..<c { s += Foundation.exp(row[j] - m) }
        }
        total += Double(m) + Double(Foundation.log(s)) - Double(row[y])
        counted += 1
    }
    let out = Tensor(scalar: counted == 0 ? 0 : Float(total / Double(counted)))
    Flops.add(5 * counted * c)
    if needs {
        Autograd.record(out) {
            let gx = logits.gradPointer()
            guard counted > 0 else { return }
            let g = out.gradStorage!.base[0] / Float(counted)
            let pp = probs.base   // the closure keeps the saved probabilities alive
            for r in 0..<n {
                let y = labels[r]
                if let ig = ignoreIndex, y == ig { continue }
                let prow = pp + r * c, grow = gx + r * c
                for j in 0..<c { grow[j] += g * prow[j] }
                grow[y] -= g
            }
            Flops.add(2 * counted * c)
        }
    }
    return out
}

/// Mean squared error, as PyTorch's `mse_loss` with `reduction: "mean"`:
///
///     L = (1/n) Σᵢ (predᵢ − targetᵢ)²
///     dpredᵢ = dL · 2·(predᵢ − targetᵢ)/n,   dtargetᵢ = −dpredᵢ
///
/// `pred` and `target` must hold the same number of elements (`n`), compared in row-major
/// order (e.g. `[B, 1]` against `[B]`); the result has shape `[]` and is 0 when `n == 0`.
/// `target` receives a gradient only if it requires one.
/// FLOPs: 3 per element forward, 3 backward.
public func mseLoss(_ pred: Tensor, _ target: Tensor) -> Tensor {
    precondition(pred.count == target.count, "mseLoss: \(pred.shape) vs \(target.shape)")
    let n = pred.count
    let pp = pred.data, pt = target.data
    var s: Double = 0
    for i in 0..<n { let d = Double(pp[i]) - Double(pt[i]); s += d * d }
    let out = Tensor(scalar: n == 0 ? 0 : Float(s / Double(n)))
    Flops.add(3 * n)
    if Autograd.needsGrad(pred, target) {
        Autograd.record(out) {
            let gp: UnsafeMutablePointer<Float>? = pred.requiresGrad ? pred.gradPointer() : nil
            let gt: UnsafeMutablePointer<Float>? = target.requiresGrad ? target.gradPointer() : nil
            guard n > 0 else { return }
            let g = 2 * out.gradStorage!.base[0] / Float(n)
            for i in 0..<n {
                let d = g * (pp[i] - pt[i])
                gp?[i] += d
                gt?[i] -= d
            }
            Flops.add(3 * n)
        }
    }
    return out
}
