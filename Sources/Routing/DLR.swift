/// DLR — Dynamic Layer Routing (Xu, Li, Chen, AITR 2025).
///
/// DLR's paper publishes only an abstract: no equations, tables or code can be found. This
/// file is this suite's reading of that abstract, element by element; every report that
/// shows DLR says so. Each phrase of the abstract and the element it maps to:
///
/// - "routes inputs through selected network layers treated as experts, building on
///   MoLEx" -> the experts are the encoder's own blocks, as in MoLEx; no new expert
///   parameters.
/// - "task-aware gating that adapts to the modality of each input" -> a sequence-level gate
///   reads `[mean_pool(h) ; e_task]`, where `e_task` is a learned embedding (width 16,
///   option `task_dim`) of the suite task (`RoutingContext.taskID`: one id per GLUE task,
///   CIFAR-100 and LibriSpeech), and `q = softmax(W_s [mean_pool(h); e_task] / temperature)`
///   over the `L` blocks (`W_s: [d + 16, L]`, no bias; `mean_pool` over real tokens).
/// - "adapts to the difficulty of each input" (confidence routing, Huang et al. 2024) -> the
///   sequence takes `S`, the shortest prefix of the blocks sorted by `q` (descending, ties to
///   the lower index) whose cumulative mass is strictly greater than `tau_layer` (default
///   0.5, option `tau`), at most `k_max = 2` blocks (option `k_max`).
/// - "hierarchical sparse expert-mixing" -> level 1 is the sparse sequence-level choice `S`;
///   level 2 a per-token gate `r_t = softmax over S of (W_t h_t)_S` (`W_t: [d, L]`, no bias:
///   the token's logits for the chosen blocks only). The chosen blocks are weighted token by
///   token by the product of the levels, `q` raw as top-p keeps its probabilities raw:
///   `w_tj = q_j r_tj`, and
///   `h'_t = a · Block_i(h)_t + (1 - a) · Σ_{j ∈ S} w_tj · Block_j(h)_t`, `a = 0.9` (option
///   `a`). Both gates and the task embedding are trained by the task loss through `w` (the
///   sequence gate even when `|S| = 1`, where `w_tj = q_j`).
/// - "parallel expert processing with a lightweight shared-parameter design" -> the chosen
///   blocks read the same input `h` (they could run concurrently); each block is evaluated
///   once per input however often it is chosen (`Block_i(h)` is reused when `i ∈ S`); the
///   parameter overhead is the two gates and the task embeddings only
///   (`parameterCount`: `(d + 16)·L + d·L + tasks·16`, `+ 2·L` with `gate_bias`, under 1% of
///   the model).
/// - Losses -> MoLEx's balance loss on `q`, `g_balance · L · Σ_l f_l P_l` (`f_l` the fraction
///   of sequences whose top block, `argmax q`, is `l`; `P_l` the mean of `q_l` over the
///   batch; `g_balance = 0.01`, option `balance_weight`), plus the entropy (dynamic) loss
///   `beta · mean_b(-Σ_l q_bl log q_bl)`, `beta = 1e-4` (option `entropy_beta`).
///
/// The gates are shared by all blocks (one per block with `gate_per_block`). With `gate_bias`
/// both gates are linear layers with a bias (`[L]` each, drawn after all gate weights and
/// the task embedding, `U(±1/sqrt(fan_in))` as `nn.Linear`), the gate convention of MoLEx's
/// reference code, which DLR says it builds on. MoLEx's batch-wide vote has no counterpart
/// here: DLR's level-1 choice is a top-p set per sequence from the pooled sequence, not a
/// vote of tokens. The number of
/// task ids is the option `tasks` (default 11, the suite's tasks). Initialisation: `W_s` and
/// `W_t` as PyTorch's `nn.Linear` (`U(±1/sqrt(fan_in))`), `e_task` `N(0, 1)` as
/// `nn.Embedding`.
///
/// FLOPs of one mixing step (forward, `N` real tokens, `B` sequences, `B·T` positions):
/// block evaluations `1 + |S_b|` per sequence, `|S_b|` when `i ∈ S_b` (data-dependent; the
/// statistics record `S_b` per sequence); router (`.router`): mean pooling `2·N·d`, `W_s`
/// `2·B·(d + 16)·L`, temperature `B·L`, softmax over `L` per sequence, token gate `2·N·d·L`,
/// mask `N·L`, softmax over `L` per token, `w = q·r` `N·L`, balance `B·L + 2L`, entropy
/// `3·B·L`, their sum 1 (with `gate_bias`, `B·L + N·L` more for the biases); combine (`.expert`): one weighted scatter of the chosen rows per
/// chosen block (`2·d` per token and chosen block), `(groups - 1)·B·T·d` to sum them and
/// `3·B·T·d` for `a·Y_i + (1-a)·M`.
public final class DLR: Module, BlockMixer {
    public static let optionKeys: Set<String> = ["a", "tau", "k_max", "temperature", "task_dim", "tasks",
                                                 "gate_per_block", "balance_weight", "entropy_beta", "gate_bias"]
    /// The default of the option `tasks`: one embedding per built-in task id (0-10).
    public static let defaultTasks = 11

    /// `W_s: [d + taskDim, L]`, one or `L` of them.
    public let sequenceGates: [Tensor]
    /// `W_t: [d, L]`, one or `L` of them.
    public let tokenGates: [Tensor]
    /// `[tasks, taskDim]`.
    public let taskEmbedding: Tensor
    /// With `gate_bias`, the biases `[L]` of the sequence gates and of the token gates (one
    /// per gate); else empty.
    public let sequenceGateBiases: [Tensor]
    public let tokenGateBiases: [Tensor]
    public let a: Float
    public let tau: Float
    public let kMax: Int?
    public let temperature: Float
    public let balanceWeight: Float
    public let entropyBeta: Float
    public let blockCount: Int

    public init(d: Int, blocks L: Int, options: MethodOptions, rng: inout RNG) throws {
        try options.validate(allowed: DLR.optionKeys)
        let a = try options.double("a", default: 0.9)
        try requireOption(a >= 0 && a <= 1, options, "a", "must be in [0, 1], got \(a)")
        let tau = try options.double("tau", default: 0.5)
        try requireOption(tau >= 0 && tau < 1, options, "tau", "must be in [0, 1), got \(tau)")
        let kMax = try options.optionalInt("k_max") ?? (options.values["k_max"] == nil ? 2 : nil)
        if let k = kMax { try requireOption(k >= 1, options, "k_max", "must be at least 1 or 'none', got \(k)") }
        let temperature = try options.double("temperature", default: 1)
        try requireOption(temperature > 0, options, "temperature", "must be positive, got \(temperature)")
        let taskDim = try options.int("task_dim", default: 16)
        try requireOption(taskDim >= 1, options, "task_dim", "must be at least 1, got \(taskDim)")
        let tasks = try options.int("tasks", default: DLR.defaultTasks)
        try requireOption(tasks >= 1, options, "tasks", "must be at least 1, got \(tasks)")
        let perBlock = try options.bool("gate_per_block", default: false)
        let bw = try options.double("balance_weight", default: 0.01)
        let eb = try options.double("entropy_beta", default: 1e-4)
        try requireOption(bw >= 0, options, "balance_weight", "must be non-negative, got \(bw)")
        try requireOption(eb >= 0, options, "entropy_beta", "must be non-negative, got \(eb)")
        let n = perBlock ? L : 1
        sequenceGates = (0..<n).map { _ in Init.linearDefault([d + taskDim, L], fanIn: d + taskDim, rng: &rng) }
        tokenGates = (0..<n).map { _ in Init.linearDefault([d, L], fanIn: d, rng: &rng) }
        taskEmbedding = Init.normal([tasks, taskDim], std: 1, rng: &rng)
        if try options.bool("gate_bias", default: false) {
            sequenceGateBiases = (0..<n).map { _ in Init.linearDefault([L], fanIn: d + taskDim, rng: &rng) }
            tokenGateBiases = (0..<n).map { _ in Init.linearDefault([L], fanIn: d, rng: &rng) }
        } else {
            sequenceGateBiases = []
            tokenGateBiases = []
        }
        self.a = Float(a)
        self.tau = Float(tau)
        self.kMax = kMax
        self.temperature = Float(temperature)
        balanceWeight = Float(bw)
        entropyBeta = Float(eb)
        blockCount = L
        super.init()
    }

    public var taskDim: Int { taskEmbedding.shape[1] }

    /// `S` for one sequence: the shortest prefix of the blocks sorted by `q` (descending,
    /// ties to the lower index) whose cumulative sum is strictly greater than `tau`, at most
    /// `kMax` blocks (nil: no cap), at least one. In selection order.
    public static func selectBlocks(_ q: [Float], tau: Float, kMax: Int?) -> [Int] {
        let order = q.indices.sorted { q[$0] > q[$1] || (q[$0] == q[$1] && $0 < $1) }
        var chosen: [Int] = []
        var mass: Float = 0
        for j in order {
            chosen.append(j)
            mass += q[j]
            if mass > tau { break }
            if let kMax, chosen.count >= kMax { break }
        }
        return chosen
    }

    public func mix(_ h: Tensor, block i: Int, blocks: BlockEvaluator, context: inout RoutingContext) -> RoutingOutput {
        let batch = blocks.batch
        let B = batch.batchSize, T = batch.length, d = h.shape[2], L = blockCount, N = batch.tokenCount
        precondition(blocks.blockCount == L, "DLR: built for \(L) blocks, evaluator has \(blocks.blockCount)")
        precondition(context.taskID >= 0 && context.taskID < taskEmbedding.shape[0],
                     "DLR: task id \(context.taskID) outside 0..<\(taskEmbedding.shape[0]) (option 'tasks')")
        let ws = sequenceGates.count == 1 ? sequenceGates[0] : sequenceGates[i]
        let wt = tokenGates.count == 1 ? tokenGates[0] : tokenGates[i]
        let bs = sequenceGateBiases.isEmpty ? nil : sequenceGateBiases[sequenceGateBiases.count == 1 ? 0 : i]
        let bt = tokenGateBiases.isEmpty ? nil : tokenGateBiases[tokenGateBiases.count == 1 ? 0 : i]
        let tokens = batch.gatherTokens(h)

        // Level 1: the sequence gate q [B, L] and the sets S_b.
        let q = Flops.withCategory(.router) { () -> Tensor in
            let inv = Tensor(shape: [N], scalars: batch.tokenSequence.map { 1 / Float(batch.lengths[$0]) })
            let pooled = scatterAdd(tokens, rows: batch.tokenSequence, count: B, weights: inv)
            let e = embedding(taskEmbedding, ids: [Int](repeating: context.taskID, count: B))
            return (linear(Tensor.concat([pooled, e], axis: 1), ws, bs) * (1 / temperature)).softmax(axis: -1)
        }
        let qValues = q.scalars
        let sets = (0..<B).map { DLR.selectBlocks(Array(qValues[($0 * L)..<($0 * L + L)]), tau: tau, kMax: kMax) }

        // Level 2: token gate over S, weights w = q_j r_tj [N, L].
        let w = Flops.withCategory(.router) { () -> Tensor in
            var mask = [Float](repeating: -.infinity, count: N * L)
            for b in 0..<B {
                for t in batch.sequenceOffsets[b] ..< batch.sequenceOffsets[b + 1] {
                    for j in sets[b] { mask[t * L + j] = 0 }
                }
            }
            let r = (linear(tokens, wt, bt) + Tensor(shape: [N, L], scalars: mask)).softmax(axis: -1)
            return q.indexSelect(rows: batch.tokenSequence) * r
        }

        // Losses on q.
        var perBlock = [Int](repeating: 0, count: L)
        var top = [Float](repeating: 0, count: L)
        for s in sets {
            for j in s { perBlock[j] += 1 }
            top[s[0]] += 1 / Float(B)
        }
        let (balance, entropy) = Flops.withCategory(.router) {
            (balanceLoss(probs: q, fractions: top, alpha: balanceWeight), entropyLoss(q, beta: entropyBeta))
        }
        let aux = Flops.withCategory(.router) { balance + entropy }

        // Block evaluations and the weighted combine.
        let yi = blocks(i, context: &context)
        let yiFlat = yi.reshaped([B * T, d])
        var mixed: Tensor? = nil
        for j in 0..<L where perBlock[j] > 0 {
            let seqs = (0..<B).filter { sets[$0].contains(j) }
            var globalRows: [Int] = [], localRows: [Int] = [], weightIndex: [Int] = []
            for (k, b) in seqs.enumerated() {
                for t in 0..<batch.lengths[b] {
                    globalRows.append(b * T + t)
                    localRows.append(k * T + t)
                    weightIndex.append((batch.sequenceOffsets[b] + t) * L + j)
                }
            }
            let src: Tensor
            if j == i {
                src = yiFlat.indexSelect(rows: globalRows)
            } else {
                let yj = blocks(j, sequences: seqs, context: &context)
                src = yj.reshaped([seqs.count * T, d]).indexSelect(rows: localRows)
            }
            let part = Flops.withCategory(.expert) {
                scatterAdd(src, rows: globalRows, count: B * T, weights: gatherEntries(w, weightIndex))
            }
            mixed = Flops.withCategory(.expert) { mixed.map { $0 + part } ?? part }
        }
        let m = mixed!.reshaped([B, T, d])
        let y = Flops.withCategory(.expert) { yi * a + m * (1 - a) }

        var histogram = [Int](repeating: 0, count: L + 1)
        for s in sets { histogram[s.count] += 1 }
        let stats = LayerStats(layer: i, assignedPerUnit: perBlock, routed: B, chosenHistogram: histogram,
                               gateEntropy: Double(meanEntropy(q.data, rows: B, width: L)),
                               aux: ["balance": Double(balance.item), "entropy": Double(entropy.item)],
                               chosenBlocks: sets)
        return RoutingOutput(y: y, auxLoss: aux, stats: stats)
    }

    /// Forward FLOPs of one mixing step besides the block evaluations (see the type's doc).
    public func mixingFlops(d: Int, batch: PaddedBatch, stats: LayerStats) -> (router: Double, combine: Double) {
        let N = Double(batch.tokenCount), B = Double(batch.batchSize), L = Double(blockCount)
        let BT = Double(batch.batchSize * batch.length), D = Double(d)
        var router = 2 * N * D + 2 * B * Double(d + taskDim) * L + B * L + B * OpFlops.softmax(width: blockCount)
            + 2 * N * D * L + N * L + N * OpFlops.softmax(width: blockCount) + N * L
            + B * L + 2 * L + 3 * B * L + 1
        if !sequenceGateBiases.isEmpty { router += B * L + N * L }
        var chosenTokens = 0.0
        for (b, s) in (stats.chosenBlocks ?? []).enumerated() { chosenTokens += Double(s.count * batch.lengths[b]) }
        let groups = stats.assignedPerUnit.filter { $0 > 0 }.count
        let combine = chosenTokens * 2 * D + Double(max(groups - 1, 0)) * BT * D + 3 * BT * D
        return (router, combine)
    }
}
