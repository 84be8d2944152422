import Foundation

/// Cross-entropy of integer labels with fused log-softmax:
/// `L = mean over rows r with labels[r] != ignoreIndex of −log softmax(logits_r)[labels[r]]`,
/// shape `[]` (0 when every row is ignored). `logits: [N, C]`.
/// Gradient: `(softmax(logits_r) − onehot(labels[r])) / (number of counted rows)`.
/// FLOPs: 5 per logit forward, 2 backward.
public func crossEntropy(_ logits: Tensor, labels: [Int], ignoreIndex: Int? = nil) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy expects logits [N, C], got \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(labels.count == n, "crossEntropy: \(labels.count) labels for \(n) rows")
    let probs = Tensor(uninitialized: logits.shape)
    let px = logits.data, pp = probs.data
    var total: Double = 0
    var counted = 0
    for r in 0..<n {
        let row = px + r * c, prow = pp + r * c
        var m = -Float.infinity
        for j in 0..<c { m = Swift.max(m, row[j]) }
        var s: Float = 0
        for j in 0..<c { let e = Foundation.exp(row[j] - m); prow[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<c { prow[j] *= inv }
        let y = labels[r]
        if let ig = ignoreIndex, y == ig { continue }
        precondition(y >= 0 && y < c, "crossEntropy: label \(y) out of range 0..<\(c)")
        total += Double(m + Foundation.log(s) - row[y])
        counted += 1
    }
    let out = Tensor(scalar: counted == 0 ? 0 : Float(total / Double(counted)))
    Flops.add(5 * logits.count)
    if counted > 0 && Autograd.needsGrad(logits) {
        Autograd.record(out) {
            let g = out.gradStorage!.base[0] / Float(counted)
            let gx = logits.gradPointer()
            let pp = probs.data  // keeps the saved probabilities alive with the closure
            for r in 0..<n {
                let y = labels[r]
                if let ig = ignoreIndex, y == ig { continue }
                let prow = pp + r * c, grow = gx + r * c
                for j in 0..<c { grow[j] += g * prow[j] }
                grow[y] -= g
            }
            Flops.add(2 * logits.count)
        }
    }
    return out
}

/// Mean squared error `mean((pred − target)²)`, shape `[]`; `target` gets no gradient
/// unless it requires one. FLOPs: 3 per element forward, 3 backward.
public func mseLoss(_ pred: Tensor, _ target: Tensor) -> Tensor {
    precondition(pred.count == target.count, "mseLoss: \(pred.shape) vs \(target.shape)")
    let n = pred.count
    var s: Double = 0
    let pp = pred.data, pt = target.data
    for i in 0..<n { let d = Double(pp[i] - pt[i]); s += d * d }
    let out = Tensor(scalar: n == 0 ? 0 : Float(s / Double(n)))
    Flops.add(3 * n)
    if n > 0 && Autograd.needsGrad(pred, target) {
        Autograd.record(out) {
            let g = 2 * out.gradStorage!.base[0] / Float(n)
            if pred.requiresGrad { let gp = pred.gradPointer(); for i in 0..<n { gp[i] += g * (pp[i] - pt[i]) } }
            if target.requiresGrad { let gt = target.gradPointer(); for i in 0..<n { gt[i] -= g * (pp[i] - pt[i]) } }
            Flops.add(3 * n)
        }
    }
    return out
}
