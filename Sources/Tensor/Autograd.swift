/// The reverse-mode autograd tape.
///
/// Ops append one entry per output while gradients are enabled and some input requires a
/// gradient. `backward(loss)` seeds `d loss / d loss = 1` and runs the entries in reverse
/// order of recording; each entry's closure reads its output's gradient and accumulates
/// into its inputs' gradients. Intermediate gradients are freed as soon as they have been
/// propagated; leaves (parameters, inputs created by the user) keep theirs until
/// `zeroGrad()`.
///
/// The tape is process-global and single-threaded: one graph is built at a time.
public enum Autograd {
    struct Entry {
        let output: Tensor
        let category: FlopCategory
        let backward: () -> Void
    }

    nonisolated(unsafe) static var tape: [Entry] = []
    nonisolated(unsafe) static var enabled = true

    /// True while ops record backward closures.
    public static var isGradEnabled: Bool { enabled }

    /// Runs `body` without recording anything (evaluation, optimizer updates).
    public static func noGrad<T>(_ body: () throws -> T) rethrows -> T {
        let saved = enabled
        enabled = false
        defer { enabled = saved }
        return try body()
    }

    /// Whether an op over `inputs` must record a backward closure.
    @inline(__always)
    public static func needsGrad(_ inputs: Tensor...) -> Bool {
        guard enabled else { return false }
        for t in inputs where t.requiresGrad { return true }
        return false
    }

    @inline(__always)
    public static func needsGrad(_ inputs: [Tensor]) -> Bool {
        guard enabled else { return false }
        for t in inputs where t.requiresGrad { return true }
        return false
    }

    /// Records `backward` for `output`. Call only when `needsGrad` is true. The closure
    /// runs with `output.gradStorage` set; it must add (not assign) into the inputs'
    /// `gradPointer()` for inputs with `requiresGrad`, or, when it writes every element,
    /// assign into a fresh `gradForWrite()` buffer.
    public static func record(_ output: Tensor, backward: @escaping () -> Void) {
        output.requiresGrad = true
        output.hasGradFn = true
        tape.append(Entry(output: output, category: Flops.category, backward: backward))
    }

    /// Number of recorded entries (for tests and leak checks).
    public static var tapeCount: Int { tape.count }

    /// Drops everything recorded so far without running it.
    public static func reset() { tape.removeAll(keepingCapacity: true) }

    /// Back-propagates from `loss` (any shape; seeded with ones, or with `seed` values of
    /// the same shape) and clears the tape.
    public static func backward(_ loss: Tensor, seed: Tensor? = nil) {
        let g = loss.gradPointer()
        if let seed {
            precondition(seed.count == loss.count, "seed shape \(seed.shape) vs \(loss.shape)")
            for i in 0..<loss.count { g[i] += seed.data[i] }
        } else {
            for i in 0..<loss.count { g[i] += 1 }
        }
        let savedPhase = Flops.phase
        let savedCategory = Flops.category
        Flops.phase = .backward
        let savedEnabled = enabled
        enabled = false
        defer {
            Flops.phase = savedPhase
            Flops.category = savedCategory
            enabled = savedEnabled
        }
        let entries = tape
        tape.removeAll(keepingCapacity: true)
        var i = entries.count - 1
        while i >= 0 {
            let e = entries[i]
            if e.output.gradStorage != nil {
                Flops.category = e.category
                e.backward()
                if e.output !== loss { e.output.gradStorage = nil }
            }
            i -= 1
        }
    }
}

extension Tensor {
    /// Back-propagates from this tensor (see `Autograd.backward`).
    public func backward(seed: Tensor? = nil) { Autograd.backward(self, seed: seed) }
}
