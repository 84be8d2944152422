#!/usr/bin/env python3
"""Reference values for conv1d / conv2d: outputs and gradients by direct loops.

Regenerate: python3 Tests/TensorTests/Fixtures/make_fixtures_ops_b.py
Each case draws x, w, bias and an upstream gradient g (float64, fixed seed) and computes,
with plain nested loops over the convolution definition (cross-correlation, zero padding):
  y[n, o, i, j] = b[o] + sum_{c,u,v} w[o, c, u, v] * x[n, c, i*s - p + u, j*s - p + v]
  dx = d(sum g*y)/dx, dw = d(sum g*y)/dw, db = d(sum g*y)/db
(conv1d has its own loop over [N, Cin, L]). Writes ops_b_conv_reference.json.
"""
import json, os
import numpy as np

rng = np.random.default_rng(2024)


def conv2d_ref(x, w, b, s, p):
    n, c, h, wd = x.shape
    o, c2, kh, kw = w.shape
    assert c == c2
    ho = (h + 2 * p - kh) // s + 1
    wo = (wd + 2 * p - kw) // s + 1
    y = np.zeros((n, o, ho, wo))
    for a in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    acc = 0.0 if b is None else b[oc]
                    for ic in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                r, q = i * s - p + u, j * s - p + v
                                if 0 <= r < h and 0 <= q < wd:
                                    acc += w[oc, ic, u, v] * x[a, ic, r, q]
                    y[a, oc, i, j] = acc
    return y


def conv2d_grad(x, w, g, s, p):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    _, _, ho, wo = g.shape
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for a in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    for ic in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                r, q = i * s - p + u, j * s - p + v
                                if 0 <= r < h and 0 <= q < wd:
                                    dx[a, ic, r, q] += w[oc, ic, u, v] * g[a, oc, i, j]
                                    dw[oc, ic, u, v] += x[a, ic, r, q] * g[a, oc, i, j]
    return dx, dw, g.sum(axis=(0, 2, 3))


def conv1d_ref(x, w, b, s, p):
    n, c, l = x.shape
    o, _, k = w.shape
    lo = (l + 2 * p - k) // s + 1
    y = np.zeros((n, o, lo))
    for a in range(n):
        for oc in range(o):
            for i in range(lo):
                acc = 0.0 if b is None else b[oc]
                for ic in range(c):
                    for u in range(k):
                        q = i * s - p + u
                        if 0 <= q < l:
                            acc += w[oc, ic, u] * x[a, ic, q]
                y[a, oc, i] = acc
    return y


def conv1d_grad(x, w, g, s, p):
    n, c, l = x.shape
    o, _, k = w.shape
    lo = g.shape[2]
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for a in range(n):
        for oc in range(o):
            for i in range(lo):
                for ic in range(c):
                    for u in range(k):
                        q = i * s - p + u
                        if 0 <= q < l:
                            dx[a, ic, q] += w[oc, ic, u] * g[a, oc, i]
                            dw[oc, ic, u] += x[a, ic, q] * g[a, oc, i]
    return dx, dw, g.sum(axis=(0, 2))


def flat(a):
    return None if a is None else np.asarray(a, dtype=np.float64).ravel().tolist()


out = {"conv2d": [], "conv1d": []}
# (N, Cin, H, W, Cout, KH, KW, stride, padding, bias)
for n, c, h, wd, o, kh, kw, s, p, has_b in [
    (2, 3, 5, 6, 4, 3, 3, 1, 1, True),
    (1, 2, 7, 5, 3, 3, 2, 2, 1, True),
    (2, 1, 4, 4, 2, 1, 1, 1, 0, False),   # 1x1: the columns are the image
    (1, 2, 3, 3, 1, 2, 2, 2, 2, True),    # whole rows and columns of padding
    (1, 3, 6, 7, 2, 1, 3, 3, 0, False),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, True),
]:
    x = rng.normal(size=(n, c, h, wd))
    w = rng.normal(size=(o, c, kh, kw))
    b = rng.normal(size=o) if has_b else None
    y = conv2d_ref(x, w, b, s, p)
    g = rng.normal(size=y.shape)
    dx, dw, db = conv2d_grad(x, w, g, s, p)
    out["conv2d"].append({"x_shape": [n, c, h, wd], "w_shape": [o, c, kh, kw], "stride": s, "padding": p,
                          "x": flat(x), "w": flat(w), "b": flat(b), "y_shape": list(y.shape), "y": flat(y),
                          "g": flat(g), "dx": flat(dx), "dw": flat(dw), "db": flat(db) if has_b else None})

# (N, Cin, L, Cout, K, stride, padding, bias)
for n, c, l, o, k, s, p, has_b in [
    (2, 3, 9, 4, 3, 1, 1, True),
    (1, 2, 10, 3, 4, 2, 2, False),
    (3, 1, 1, 2, 1, 1, 0, True),
    (1, 2, 5, 1, 5, 3, 3, True),
]:
    x = rng.normal(size=(n, c, l))
    w = rng.normal(size=(o, c, k))
    b = rng.normal(size=o) if has_b else None
    y = conv1d_ref(x, w, b, s, p)
    g = rng.normal(size=y.shape)
    dx, dw, db = conv1d_grad(x, w, g, s, p)
    out["conv1d"].append({"x_shape": [n, c, l], "w_shape": [o, c, k], "stride": s, "padding": p,
                          "x": flat(x), "w": flat(w), "b": flat(b), "y_shape": list(y.shape), "y": flat(y),
                          "g": flat(g), "dx": flat(dx), "dw": flat(dw), "db": flat(db) if has_b else None})

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops_b_conv_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
