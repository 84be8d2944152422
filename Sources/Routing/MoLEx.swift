import Foundation

/// MoLEx: Mixture of Layer Experts (Teo & Nguyen, ICLR 2025, "Mixture of Layer Experts for
/// Finetuning with Sparse Upcycling"; reference code rachtsy/molex, `RobertaEncoder`).
///
/// The experts are the network's own blocks: no new expert parameters. At block `i`, with
/// block input `h: [B, T, d]` and `L` blocks:
///
/// 1. A gate `G: d -> L` (`gate: [d, L]`, no bias; one shared by all blocks, or one per
///    block with `gate_per_block`) scores every block for every real token:
///    `p_t = softmax(h_t G)`. With `gate_bias` the gate is a linear layer with a bias
///    `[L]`, as the reference's `nn.Linear(d, L)`: `p_t = softmax(h_t G + c)` (bias drawn
///    as `nn.Linear` draws it, `U(±1/sqrt(d))`, after all gate weights). It reads the block input `h` (the same input both blocks read).
/// 2. Each token votes for its top-1 block `argmax_l p_tl`; sequence `b` takes the majority
///    (mode) `j_b` of its tokens' votes, ties to the lower block index. With
///    `granularity = batch` one mode over all tokens of the batch is taken for every
///    sequence (as the reference does). Padding tokens do not vote. `j_b` may equal `i`.
/// 3. `h'_b = a · Block_i(h)_b + (1 - a) · Block_{j_b}(h)_b`. Both blocks read the same `h`;
///    `Block_j` is the stack's own block `j` (the same object and weights, not a copy), so it
///    receives gradients from both of its uses. `Block_i` runs on the whole batch and
///    `Block_j` once on the sequences that chose `j`; sequences with `j_b = i` reuse
///    `Block_i(h)` instead of evaluating block `i` twice.
/// 4. `a = 0.95` fixed (option `a`; the reference's default is 0.5, its CoLA script 0.95), or
///    with `learnable_a` one pair `(u_i, v_i)` per block, `a_i = exp(u_i) / (exp(u_i) +
///    exp(v_i))`, starting at `u = v = 0.5`; with `a_per_block: false` one pair shared by
///    all blocks (the reference's `weight_main`/`weight_other` with one shared gate).
/// 5. The gate probabilities do not enter the output (as in the reference): the gate learns
///    only from the balance loss `g_balance · L · Σ_l f_l P_l` of each block, with `f_l` the
///    fraction of sequences whose chosen block is `l` and `P_l` the mean over real tokens of
///    `p_tl`; summed over blocks, `g_balance = 0.01` (option `balance_weight`). With
///    `balance_weight: 0` (the reference's MRPC and QNLI scripts) the gate is evaluated
///    outside autograd: it receives no gradient at all, so the optimizer never touches it
///    (no weight decay either), as a PyTorch parameter whose `.grad` stays None. With
///    `gate_in_output`, each token's `Block_j(h)_t` is scaled by `w_t = 1 + p_tj - sg(p_tj)`:
///    1 in the forward pass (the output is unchanged) and `p_tj` in the backward pass
///    (straight-through), so the task loss also reaches the gate.
///
/// Statistics per block: sequences per chosen block, the chosen block of every sequence
/// (`chosenBlocks`), the mean gate entropy over tokens, the balance loss.
///
/// FLOPs of one mixing step (forward, `N` real tokens, `B·T` padded positions):
/// - block evaluations: `Block_i` on all `B` sequences, plus `Block_j` on each sequence with
///   `j_b != i` (about 2x a dense block);
/// - router (`.router`): gate `2·N·d·L` (plus `N·L` with `gate_bias`), softmax over `L` per
///   token, balance loss `N·L + 2L`; with `learnable_a` the softmax over the pair;
/// - combine (`.expert`): one scatter of the `N` chosen-block rows into `[B·T, d]` per chosen
///   block (weighted with `gate_in_output`), `(groups - 1)·B·T·d` to sum them, plus
///   `3·B·T·d` for `a·Y_i + (1-a)·M`; `gate_in_output` adds `2·N` for the straight-through
///   weights.
public final class MoLEx: Module, BlockMixer {
    public static let optionKeys: Set<String> = ["a", "learnable_a", "granularity", "gate_per_block",
                                                 "balance_weight", "gate_in_output", "gate_bias", "a_per_block"]

    public enum Granularity: String, CaseIterable, Sendable { case sequence, batch }

    /// One gate `[d, L]`, or `L` of them with `gate_per_block`.
    public let gates: [Tensor]
    /// With `gate_bias`, one bias `[L]` per gate; else empty.
    public let gateBiases: [Tensor]
    /// `[L, 2]` rows `(u_i, v_i)` with `learnable_a` (`[1, 2]` with `a_per_block: false`),
    /// else nil.
    public let mixLogits: Tensor?
    public let a: Float
    public let granularity: Granularity
    public let balanceWeight: Float
    public let gateInOutput: Bool
    public let blockCount: Int

    public init(d: Int, blocks L: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: MoLEx.optionKeys)
        let a = try options.double("a", default: 0.95)
        try requireOption(a >= 0 && a <= 1, options, "a", "must be in [0, 1], got \(a)")
        let learnable = try options.bool("learnable_a", default: false)
        let g = try options.string("granularity", default: "sequence", allowed: Granularity.allCases.map(\.rawValue))
        let perBlock = try options.bool("gate_per_block", default: false)
        let w = try options.double("balance_weight", default: 0.01)
        try requireOption(w >= 0, options, "balance_weight", "must be non-negative, got \(w)")
        try requireOption(L >= 1, options, "blocks", "needs at least one block")
        let bias = try options.bool("gate_bias", default: false)
        let aPerBlock = try options.bool("a_per_block", default: true)
        gates = (0..<(perBlock ? L : 1)).map { _ in Init.linearDefault([d, L], fanIn: d, rng: &rng) }
        // Drawn after the weights, so that turning the bias on leaves the weights as they were.
        gateBiases = bias ? (0..<(perBlock ? L : 1)).map { _ in Init.linearDefault([L], fanIn: d, rng: &rng) } : []
        mixLogits = learnable ? Tensor(shape: [aPerBlock ? L : 1, 2], repeating: 0.5, requiresGrad: true) : nil
        self.a = Float(a)
        granularity = Granularity(rawValue: g)!
        balanceWeight = Float(w)
        gateInOutput = try options.bool("gate_in_output", default: false)
        blockCount = L
        super.init()
    }

    /// The gate of block `i`.
    public func gate(_ i: Int) -> Tensor { gates.count == 1 ? gates[0] : gates[i] }

    /// The gate bias of block `i` (nil without `gate_bias`).
    public func gateBias(_ i: Int) -> Tensor? {
        gateBiases.isEmpty ? nil : (gateBiases.count == 1 ? gateBiases[0] : gateBiases[i])
    }

    /// Whether the gate takes part in autograd: it learns from the balance loss, or from the
    /// task loss with `gate_in_output`.
    public var gateTrains: Bool { balanceWeight > 0 || gateInOutput }

    /// The chosen block of every sequence from the gate probabilities `p: [N, L]` (row `t`
    /// a real token; sequence `b` owns rows `offsets[b] ..< offsets[b + 1]`): the mode of the
    /// tokens' top-1 blocks, ties to the lower index (per sequence, or over the whole batch).
    public static func chooseBlocks(probs p: UnsafePointer<Float>, blocks L: Int, offsets: [Int],
                                    granularity: Granularity) -> [Int] {
        let B = offsets.count - 1
        func mode(_ rows: Range<Int>) -> Int {
            var votes = [Int](repeating: 0, count: L)
            for t in rows {
                let row = p + t * L
                var best = 0
                for l in 1..<L where row[l] > row[best] { best = l }
                votes[best] += 1
            }
            var j = 0
            for l in 1..<L where votes[l] > votes[j] { j = l }
            return j
        }
        switch granularity {
        case .sequence: return (0..<B).map { mode(offsets[$0] ..< offsets[$0 + 1]) }
        case .batch:
            let j = mode(offsets[0] ..< offsets[B])
            return [Int](repeating: j, count: B)
        }
    }

    public func mix(_ h: Tensor, block i: Int, blocks: BlockEvaluator, context: inout RoutingContext) -> RoutingOutput {
        let batch = blocks.batch
        let B = batch.batchSize, T = batch.length, d = h.shape[2], L = blockCount, N = batch.tokenCount
        precondition(blocks.blockCount == L, "MoLEx: built for \(L) blocks, evaluator has \(blocks.blockCount)")

        // Gate, votes, balance loss.
        let tokens = batch.gatherTokens(h)
        let gateProbs = { Flops.withCategory(.router) { linear(tokens, self.gate(i), self.gateBias(i)).softmax(axis: -1) } }
        let p = gateTrains ? gateProbs() : Autograd.noGrad { gateProbs() }
        let chosen = MoLEx.chooseBlocks(probs: p.data, blocks: L, offsets: batch.sequenceOffsets, granularity: granularity)
        var perBlock = [Int](repeating: 0, count: L)
        for j in chosen { perBlock[j] += 1 }
        let f = perBlock.map { Float($0) / Float(B) }
        let balance = Flops.withCategory(.router) { balanceLoss(probs: p, fractions: f, alpha: balanceWeight) }

        // Block evaluations: Block_i on everything, each other chosen block once on its sequences.
        let yi = blocks(i, context: &context)
        let yiFlat = yi.reshaped([B * T, d])
        var mixed: Tensor? = nil
        for j in 0..<L where perBlock[j] > 0 {
            let seqs = (0..<B).filter { chosen[$0] == j }
            var globalRows: [Int] = [], localRows: [Int] = [], tokenRows: [Int] = []
            for (k, b) in seqs.enumerated() {
                for t in 0..<batch.lengths[b] {
                    globalRows.append(b * T + t)
                    localRows.append(k * T + t)
                    tokenRows.append(batch.sequenceOffsets[b] + t)
                }
            }
            let src: Tensor
            if j == i {
                src = yiFlat.indexSelect(rows: globalRows)
            } else {
                let yj = blocks(j, sequences: seqs, context: &context)
                src = yj.reshaped([seqs.count * T, d]).indexSelect(rows: localRows)
            }
            let part = Flops.withCategory(.expert) { () -> Tensor in
                var weights: Tensor? = nil
                if gateInOutput {
                    let w = gatherEntries(p, tokenRows.map { $0 * L + j })
                    weights = (w - w.detached()) + 1
                }
                return scatterAdd(src, rows: globalRows, count: B * T, weights: weights)
            }
            mixed = Flops.withCategory(.expert) { mixed.map { $0 + part } ?? part }
        }
        let m = mixed!.reshaped([B, T, d])
        let y = Flops.withCategory(.expert) { () -> Tensor in
            if let mixLogits {
                let row = mixLogits.shape[0] == 1 ? 0 : i
                let pair = Flops.withCategory(.router) { mixLogits.indexSelect(rows: [row]).softmax(axis: -1) }
                return yi * gatherEntries(pair, [0]) + m * gatherEntries(pair, [1])
            }
            return yi * a + m * (1 - a)
        }

        var histogram = [Int](repeating: 0, count: L + 1)
        histogram[1] = B
        let stats = LayerStats(layer: i, assignedPerUnit: perBlock, routed: B, chosenHistogram: histogram,
                               gateEntropy: Double(meanEntropy(p.data, rows: N, width: L)),
                               aux: ["balance": Double(balance.item)], chosenBlocks: chosen.map { [$0] })
        return RoutingOutput(y: y, auxLoss: balance, stats: stats)
    }

    /// Forward FLOPs of one mixing step besides the block evaluations (see the type's doc):
    /// `router` (gate, softmax, balance loss, learnable `a`) and `combine`.
    public func mixingFlops(d: Int, batch: PaddedBatch, stats: LayerStats) -> (router: Double, combine: Double) {
        let N = Double(batch.tokenCount), L = Double(blockCount), BT = Double(batch.batchSize * batch.length)
        var router = 2 * N * Double(d) * L + N * OpFlops.softmax(width: blockCount) + N * L + 2 * L
        if !gateBiases.isEmpty { router += N * L }
        if mixLogits != nil { router += OpFlops.softmax(width: 2) }
        let groups = stats.assignedPerUnit.filter { $0 > 0 }.count
        var combine = N * OpFlops.scatterAddPerElement(weighted: gateInOutput) * Double(d)
            + Double(max(groups - 1, 0)) * BT * Double(d) + 3 * BT * Double(d)
        if gateInOutput { combine += 2 * N }
        return (router, combine)
    }
}
