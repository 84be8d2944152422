import Foundation

/// How `ctcLoss` reduces the per-sequence losses to one scalar.
public enum CTCReduction: Sendable {
    /// PyTorch's `reduction='mean'`: each sequence's loss divided by its target length
    /// (clamped to at least 1), then averaged over the batch.
    case mean
    /// The sum of the per-sequence losses.
    case sum
}

/// Connectionist Temporal Classification loss (Graves et al., 2006) with the log-softmax
/// fused in, as PyTorch's `ctc_loss` applied to `log_softmax(logits)`.
///
/// - `logits: [B, T, C]` unnormalised scores; `lp[b, t, c] = log_softmax(logits[b, t])[c]`.
/// - `inputLengths[b]` (`0...T`): frames `t < inputLengths[b]` are used, later frames are
///   padding (no loss, zero gradient).
/// - `targets[b]`: label ids in `0..<C`, none equal to `blank`; may be empty.
///
/// For the blank-augmented sequence `l'` (length `L = 2S+1`: blank, l₁, blank, l₂, …,
/// blank) the log-space forward recursion is
///
///     α₀(0) = lp₀(blank),  α₀(1) = lp₀(l₁)
///     α_t(s) = lp_t(l'_s) + logsumexp(α_{t−1}(s), α_{t−1}(s−1), [α_{t−1}(s−2)])
///
/// where the skip term `α_{t−1}(s−2)` is allowed only when `l'_s` is a label different from
/// `l'_{s−2}` (so repeated labels need a blank between them), and
/// `loss_b = −logsumexp(α_{T_b−1}(L−1), α_{T_b−1}(L−2))`. An empty input (`T_b = 0`) has
/// loss 0 for an empty target and +inf otherwise. The recursions run in Float64.
///
/// A sequence whose input is too short for its target (fewer frames than labels plus the
/// blanks needed between repeats) has infinite loss. With `zeroInfinity: true` (the default,
/// PyTorch's `zero_infinity=True`) such a loss and its gradient are set to zero; with
/// `false` the loss is +inf and that sequence's gradient is NaN, as in PyTorch.
///
/// Reduction: `.mean` = `(1/B) · Σ_b loss_b / max(S_b, 1)`; `.sum` = `Σ_b loss_b`. Output
/// shape `[]`.
///
/// Gradient, from the backward recursion `β` (same form, run from the end, `β` including
/// the emission at `t`): with occupancy `γ_t(s) = exp(α_t(s) + β_t(s) − lp_t(l'_s) + loss_b)`,
///
///     d loss_b / d logits[b, t, c] = softmax(logits[b, t])[c] − Σ_{s: l'_s = c} γ_t(s)
///
/// for `t < T_b`, times the reduction weight (`1/(B·max(S_b,1))` or 1) and the upstream
/// gradient.
///
/// FLOPs, with `F = Σ_b T_b·C` used logits and `N = Σ_b T_b·(2S_b+1)` lattice cells:
/// forward `5·F` (log-softmax: max, subtract, exp, sum, subtract log-sum) `+ 12·N` (each
/// cell: a log-sum-exp over up to three predecessors counted as 11, plus the emission add);
/// backward `12·N` (β) `+ 4·N` (occupancy: two adds, one subtract, one exp per cell)
/// `+ 3·F` (softmax exp, subtract, scale).
///
/// Invalid label ids, a label equal to `blank`, input lengths outside `0...T`, or
/// mismatched batch sizes are programmer errors (preconditions).
public func ctcLoss(logits: Tensor, inputLengths: [Int], targets: [[Int]], blank: Int = 0,
                    reduction: CTCReduction = .mean, zeroInfinity: Bool = true) -> Tensor {
    precondition(logits.rank == 3, "ctcLoss: logits must be [B, T, C], got \(logits.shape)")
    let B = logits.shape[0], T = logits.shape[1], C = logits.shape[2]
    precondition(inputLengths.count == B, "ctcLoss: \(inputLengths.count) input lengths for batch \(B)")
    precondition(targets.count == B, "ctcLoss: \(targets.count) targets for batch \(B)")
    precondition(blank >= 0 && blank < C, "ctcLoss: blank \(blank) outside 0..<\(C)")
    var maxL = 1
    for b in 0..<B {
        precondition(inputLengths[b] >= 0 && inputLengths[b] <= T,
                     "ctcLoss: input length \(inputLengths[b]) of sequence \(b) outside 0...\(T)")
        for c in targets[b] {
            precondition(c >= 0 && c < C && c != blank,
                         "ctcLoss: label \(c) in target \(b) must be in 0..<\(C) and differ from blank \(blank)")
        }
        maxL = max(maxL, 2 * targets[b].count + 1)
    }

    // Extended labels l' per sequence, flattened: ext[b * maxL + s].
    var ext = [Int](repeating: blank, count: B * maxL)
    for b in 0..<B {
        for (i, c) in targets[b].enumerated() { ext[b * maxL + 2 * i + 1] = c }
    }
    // Log-probabilities [B, T, C] and forward variables [B, T, maxL] (Float64), kept for
    // the backward pass; only frames t < T_b and cells s < L_b are written and read.
    let logProbs = UnsafeMutablePointer<Double>.allocate(capacity: max(B * T * C, 1))
    let alphas = UnsafeMutablePointer<Double>.allocate(capacity: max(B * T * maxL, 1))
    var nllForward = [Double](repeating: 0, count: B)
    var usedLogits = 0, cells = 0

    ext.withUnsafeBufferPointer { extBuf in
        let x = logits.data
        for b in 0..<B {
            let Tb = inputLengths[b], S = targets[b].count, L = 2 * S + 1
            let lab = extBuf.baseAddress! + b * maxL
            let lp = logProbs + b * T * C
            let alpha = alphas + b * T * maxL
            usedLogits += Tb * C
            cells += Tb * L
            ctcLogSoftmaxRows(x + b * T * C, lp, rows: Tb, cols: C)
            if Tb == 0 {
                nllForward[b] = S == 0 ? 0 : .infinity
                continue
            }
            for s in 0..<L { alpha[s] = -.infinity }
            alpha[0] = lp[blank]
            if L > 1 { alpha[1] = lp[lab[1]] }
            for t in 1..<Tb {
                let prev = alpha + (t - 1) * maxL, cur = alpha + t * maxL, lpt = lp + t * C
                for s in 0..<L {
                    var a = prev[s]
                    if s >= 1 { a = ctcLogAddExp(a, prev[s - 1]) }
                    if s >= 2 && lab[s] != blank && lab[s] != lab[s - 2] { a = ctcLogAddExp(a, prev[s - 2]) }
                    cur[s] = a + lpt[lab[s]]
                }
            }
            let last = alpha + (Tb - 1) * maxL
            let logLik = L > 1 ? ctcLogAddExp(last[L - 1], last[L - 2]) : last[L - 1]
            nllForward[b] = -logLik
        }
    }

    // Reduction weight of each sequence's loss.
    let weights: [Double] = (0..<B).map { b in
        reduction == .sum ? 1 : 1 / (Double(max(targets[b].count, 1)) * Double(B))
    }
    let nll = nllForward
    var total = 0.0
    for b in 0..<B {
        if nll[b].isInfinite && zeroInfinity { continue }
        total += weights[b] * nll[b]
    }
    let out = Tensor(scalar: Float(total))
    Flops.add(5 * usedLogits + 12 * cells)

    guard Autograd.needsGrad(logits) else {
        logProbs.deallocate()
        alphas.deallocate()
        return out
    }
    let buffers = CTCBuffers(logProbs: logProbs, alphas: alphas)
    Autograd.record(out) {
        let upstream = Double(out.gradStorage!.base[0])
        let gx = logits.gradPointer()
        let lpAll = buffers.logProbs, alphaAll = buffers.alphas
        let beta = UnsafeMutablePointer<Double>.allocate(capacity: max(T * maxL, 1))   // [T_b, L]
        let occ = UnsafeMutablePointer<Double>.allocate(capacity: max(C, 1))          // [C]
        defer { beta.deallocate(); occ.deallocate() }
        ext.withUnsafeBufferPointer { extBuf in
            for b in 0..<B {
                let Tb = inputLengths[b], S = targets[b].count, L = 2 * S + 1
                if Tb == 0 { continue }
                let g = gx + b * T * C
                let lp = lpAll + b * T * C
                if nll[b].isInfinite {
                    if zeroInfinity { continue }
                    for i in 0..<(Tb * C) { g[i] += .nan }
                    continue
                }
                let lab = extBuf.baseAddress! + b * maxL
                let alpha = alphaAll + b * T * maxL
                // β_t(s) = lp_t(l'_s) + logsumexp(β_{t+1}(s), β_{t+1}(s+1), [β_{t+1}(s+2)])
                let lastRow = beta + (Tb - 1) * L
                for s in 0..<L { lastRow[s] = -.infinity }
                lastRow[L - 1] = lp[(Tb - 1) * C + lab[L - 1]]
                if L > 1 { lastRow[L - 2] = lp[(Tb - 1) * C + lab[L - 2]] }
                var t = Tb - 2
                while t >= 0 {
                    let next = beta + (t + 1) * L, cur = beta + t * L, lpt = lp + t * C
                    for s in 0..<L {
                        var a = next[s]
                        if s + 1 < L { a = ctcLogAddExp(a, next[s + 1]) }
                        if s + 2 < L && lab[s] != blank && lab[s + 2] != lab[s] { a = ctcLogAddExp(a, next[s + 2]) }
                        cur[s] = a + lpt[lab[s]]
                    }
                    t -= 1
                }
                let scale = upstream * weights[b]
                let nllb = nll[b]
                for t in 0..<Tb {
                    let lpt = lp + t * C, at = alpha + t * maxL, bt = beta + t * L
                    for c in 0..<C { occ[c] = 0 }
                    for s in 0..<L {
                        let lg = at[s] + bt[s] - lpt[lab[s]] + nllb
                        if lg > -.infinity { occ[lab[s]] += Foundation.exp(lg) }
                    }
                    let gt = g + t * C
                    for c in 0..<C { gt[c] += Float((Foundation.exp(lpt[c]) - occ[c]) * scale) }
                }
            }
        }
        Flops.add(16 * cells + 3 * usedLogits)
    }
    return out
}

/// Owns the Float64 buffers kept from the forward pass for the backward closure.
private final class CTCBuffers {
    let logProbs: UnsafeMutablePointer<Double>
    let alphas: UnsafeMutablePointer<Double>
    init(logProbs: UnsafeMutablePointer<Double>, alphas: UnsafeMutablePointer<Double>) {
        self.logProbs = logProbs
        self.alphas = alphas
    }
    deinit {
        logProbs.deallocate()
        alphas.deallocate()
    }
}

/// `log(exp(a) + exp(b))`, exact for infinite arguments.
@inline(__always)
private func ctcLogAddExp(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    return a > b ? a + Foundation.log1p(Foundation.exp(b - a)) : b + Foundation.log1p(Foundation.exp(a - b))
}

/// Row-wise log-softmax of `rows × cols` float32 logits into float64.
@inline(__always)
private func ctcLogSoftmaxRows(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Double>,
                               rows: Int, cols: Int) {
    for r in 0..<rows {
        let xr = x + r * cols, yr = y + r * cols
        var mx = -Double.infinity
        for c in 0..<cols { mx = max(mx, Double(xr[c])) }
        var sum = 0.0
        for c in 0..<cols { sum += Foundation.exp(Double(xr[c]) - mx) }
        let lse = mx + Foundation.log(sum)
        for c in 0..<cols { yr[c] = Double(xr[c]) - lse }
    }
}
