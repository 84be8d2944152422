#!/usr/bin/env python3
# Reference fixtures for AttentionTests.swift and CTCLossTests.swift.
#
# Regenerate (from the package root):
#     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_c.py
# Writes Tests/TensorTests/Fixtures/attention_reference.json and ctc_reference.json.
#
# Attention: plain Python loops in float64 (one query, one key, one head at a time), with
# gradients from float64 central differences of that plain-loop function.
# CTC: a straightforward probability-space alpha recursion in float64, cross-checked in
# this script against brute-force enumeration of every alignment (all C^T paths), with
# gradients from float64 central differences of the recursion.
import itertools
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def r(x):
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


# ---------------------------------------------------------------- attention

def attention_loops(q, k, v, heads, mask):
    """q [B, Tq, d], k/v [B, Tk, d]; mask [B*Tk] of bools or None. Plain loops."""
    B, Tq, d = q.shape
    Tk = k.shape[1]
    dh = d // heads
    out = np.zeros((B, Tq, d))
    for b in range(B):
        for h in range(heads):
            lo = h * dh
            for i in range(Tq):
                scores = []
                for j in range(Tk):
                    if mask is not None and not mask[b * Tk + j]:
                        scores.append(None)
                        continue
                    s = 0.0
                    for c in range(dh):
                        s += q[b, i, lo + c] * k[b, j, lo + c]
                    scores.append(s / math.sqrt(dh))
                live = [s for s in scores if s is not None]
                if not live:
                    continue  # all keys masked: zeros
                m = max(live)
                w = [0.0 if s is None else math.exp(s - m) for s in scores]
                z = sum(w)
                for j in range(Tk):
                    p = w[j] / z
                    for c in range(dh):
                        out[b, i, lo + c] += p * v[b, j, lo + c]
    return out


def numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        orig = x[idx]
        x[idx] = orig + h
        lp = f()
        x[idx] = orig - h
        lm = f()
        x[idx] = orig
        g[idx] = (lp - lm) / (2 * h)
    return g


def attention_case(rng, name, B, Tq, Tk, d, heads, mask):
    # float32-representable inputs so that the Swift side sees the same values
    q = rng.uniform(-1.5, 1.5, (B, Tq, d)).astype(np.float32).astype(np.float64)
    k = rng.uniform(-1.5, 1.5, (B, Tk, d)).astype(np.float32).astype(np.float64)
    v = rng.uniform(-1, 1, (B, Tk, d)).astype(np.float32).astype(np.float64)
    g = rng.uniform(-1, 1, (B, Tq, d)).astype(np.float32).astype(np.float64)
    out = attention_loops(q, k, v, heads, mask)

    def loss():
        return float(np.sum(g * attention_loops(q, k, v, heads, mask)))

    return {
        "name": name, "B": B, "Tq": Tq, "Tk": Tk, "d": d, "heads": heads,
        "mask": None if mask is None else [bool(m) for m in mask],
        "q": r(q), "k": r(k), "v": r(v), "out": r(out),
        "upstream": r(g),
        "gradQ": r(numeric_grad(loss, q)), "gradK": r(numeric_grad(loss, k)),
        "gradV": r(numeric_grad(loss, v)),
    }


# ---------------------------------------------------------------- CTC

def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ctc_nll_alpha(logits_bt, target, blank):
    """Probability-space alpha recursion over the blank-augmented labels. logits [T, C]."""
    T = logits_bt.shape[0]
    S = len(target)
    if T == 0:
        return 0.0 if S == 0 else math.inf
    p = np.exp(log_softmax(logits_bt))
    ext = [blank]
    for c in target:
        ext += [c, blank]
    L = len(ext)
    alpha = np.zeros((T, L))
    alpha[0, 0] = p[0, blank]
    if L > 1:
        alpha[0, 1] = p[0, ext[1]]
    for t in range(1, T):
        for s in range(L):
            a = alpha[t - 1, s]
            if s >= 1:
                a += alpha[t - 1, s - 1]
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a += alpha[t - 1, s - 2]
            alpha[t, s] = a * p[t, ext[s]]
    lik = alpha[T - 1, L - 1] + (alpha[T - 1, L - 2] if L > 1 else 0.0)
    return -math.log(lik) if lik > 0 else math.inf


def ctc_nll_brute(logits_bt, target, blank):
    """Sum over every path in C^T whose collapse (merge repeats, drop blanks) is target."""
    T, C = logits_bt.shape
    p = np.exp(log_softmax(logits_bt))
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = []
        prev = None
        for c in path:
            if c != prev and c != blank:
                collapsed.append(c)
            prev = c
        if collapsed == list(target):
            total += math.prod(p[t, c] for t, c in enumerate(path))
    if T == 0:
        total = 1.0 if len(target) == 0 else 0.0
    return -math.log(total) if total > 0 else math.inf


def ctc_reduce(logits, lengths, targets, blank, reduction, zero_infinity=True):
    B = logits.shape[0]
    total = 0.0
    for b in range(B):
        nll = ctc_nll_alpha(logits[b, :lengths[b]], targets[b], blank)
        if math.isinf(nll) and zero_infinity:
            nll = 0.0
        if reduction == "mean":
            total += nll / max(len(targets[b]), 1) / B
        else:
            total += nll
    return total


def ctc_case(rng, name, T, C, lengths, targets, blank, blank_bias=0.0, brute=True):
    B = len(lengths)
    logits = rng.normal(0, 1.2, (B, T, C)).astype(np.float32)
    logits[:, :, blank] += np.float32(blank_bias)
    logits = logits.astype(np.float64)
    nlls = []
    for b in range(B):
        a = ctc_nll_alpha(logits[b, :lengths[b]], targets[b], blank)
        if brute:
            bf = ctc_nll_brute(logits[b, :lengths[b]], targets[b], blank)
            assert (math.isinf(a) and math.isinf(bf)) or abs(a - bf) < 1e-9 * max(1, abs(a)), (name, b, a, bf)
        nlls.append(a)
    case = {
        "name": name, "B": B, "T": T, "C": C, "blank": blank,
        "inputLengths": list(lengths), "targets": [list(t) for t in targets],
        "logits": r(logits),
        "nll": [None if math.isinf(x) else x for x in nlls],
        "meanLoss": ctc_reduce(logits, lengths, targets, blank, "mean"),
        "sumLoss": ctc_reduce(logits, lengths, targets, blank, "sum"),
    }
    for red in ("mean", "sum"):
        case[red + "Grad"] = r(numeric_grad(lambda: ctc_reduce(logits, lengths, targets, blank, red), logits))
    return case


def main():
    rng = np.random.default_rng(20240611)
    att = [
        attention_case(rng, "masked, 3 heads", 2, 5, 5, 6, 3,
                       [True] * 5 + [True, True, True, False, False]),
        attention_case(rng, "one head, no mask", 3, 4, 4, 4, 1, None),
        attention_case(rng, "cross, Tq 3 Tk 5, one batch fully masked", 2, 3, 5, 6, 2,
                       [True, False, True, True, False] + [False] * 5),
        attention_case(rng, "T = 1, odd width", 2, 1, 1, 5, 1, [True, True]),
    ]
    ctc = [
        ctc_case(rng, "repeats and alternations", 6, 4, [6, 6, 5, 4],
                 [[1, 1], [1, 2, 1], [3], [2, 3]], blank=0),
        ctc_case(rng, "blank-heavy input", 6, 3, [6, 6, 3], [[1, 2], [2, 2], [1]], blank=0,
                 blank_bias=3.0),
        ctc_case(rng, "blank last, empty target, infeasible", 5, 4, [5, 4, 2, 0],
                 [[0, 1, 0], [], [1, 1], []], blank=3),
        ctc_case(rng, "longer sequences (recursion only)", 20, 6, [20, 17, 12],
                 [[1, 2, 2, 3, 1], [5, 4, 4, 4], [2, 1, 2, 1, 2, 1]], blank=0, brute=False),
    ]
    with open(os.path.join(HERE, "attention_reference.json"), "w") as f:
        json.dump(att, f)
    with open(os.path.join(HERE, "ctc_reference.json"), "w") as f:
        json.dump(ctc, f)


if __name__ == "__main__":
    main()
