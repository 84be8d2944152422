#!/usr/bin/env python3
# Reference fixtures for ConvTests.swift.
#
# Regenerate (from the package root):
#     python3 Tests/TensorTests/Fixtures/make_fixtures_ops_b.py
# Writes Tests/TensorTests/Fixtures/conv_reference.json.
#
# conv2d / conv1d (cross-correlation, zero padding) by direct loops in float64 over every
# output element and kernel tap, and the gradients of sum(upstream * out) with respect to
# the input, the weight and the bias by the same direct loops (each tap's product
# x * w contributes upstream * w to dx and upstream * x to dw). Inputs are rounded to
# float32 first so the Swift side sees exactly the same values.
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def r(x):
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def f32(rng, shape):
    return rng.uniform(-1, 1, size=shape).astype(np.float32).astype(np.float64)


def conv2d_loops(x, w, b, stride, pad, up):
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, cout, oh, ow))
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(cout)
    for i in range(n):
        for o in range(cout):
            for y in range(oh):
                for xx in range(ow):
                    acc = b[o] if b is not None else 0.0
                    g = up[i, o, y, xx]
                    db[o] += g
                    for c in range(cin):
                        for p in range(kh):
                            for q in range(kw):
                                iy = y * stride - pad + p
                                ix = xx * stride - pad + q
                                if 0 <= iy < h and 0 <= ix < wd:
                                    acc += w[o, c, p, q] * x[i, c, iy, ix]
                                    dx[i, c, iy, ix] += g * w[o, c, p, q]
                                    dw[o, c, p, q] += g * x[i, c, iy, ix]
                    out[i, o, y, xx] = acc
    return out, dx, dw, db


def conv1d_loops(x, w, b, stride, pad, up):
    n, cin, length = x.shape
    cout, _, k = w.shape
    lout = (length + 2 * pad - k) // stride + 1
    out = np.zeros((n, cout, lout))
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(cout)
    for i in range(n):
        for o in range(cout):
            for t in range(lout):
                acc = b[o] if b is not None else 0.0
                g = up[i, o, t]
                db[o] += g
                for c in range(cin):
                    for q in range(k):
                        it = t * stride - pad + q
                        if 0 <= it < length:
                            acc += w[o, c, q] * x[i, c, it]
                            dx[i, c, it] += g * w[o, c, q]
                            dw[o, c, q] += g * x[i, c, it]
                out[i, o, t] = acc
    return out, dx, dw, db


def conv2d_einsum(x, w, b, stride, pad):
    """Independent vectorised cross-check of the loop reference (padding + strided windows)."""
    cout, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("ncyxpq,ocpq->noyx", win, w)
    return out + (b[None, :, None, None] if b is not None else 0)


def main():
    rng = np.random.default_rng(20240607)
    cases = []
    # name, (N, Cin, H, W), (Cout, KH, KW), stride, padding, bias
    for name, xs, ws, stride, pad, bias in [
        ("3x3 same padding", (2, 3, 5, 6), (4, 3, 3), 1, 1, True),
        ("3x2 kernel stride 2 pad 1", (1, 2, 7, 5), (3, 3, 2), 2, 1, False),
        ("1x1 pointwise", (3, 1, 4, 4), (2, 1, 1), 1, 0, True),
        ("4x3 kernel stride 2 pad 2", (1, 2, 6, 7), (2, 4, 3), 2, 2, True),
        ("1x1 image pad 1", (2, 1, 1, 1), (3, 3, 3), 1, 1, True),
        ("1x1 kernel stride 2", (1, 3, 5, 4), (2, 1, 1), 2, 0, False),
    ]:
        n, cin, h, wd = xs
        cout, kh, kw = ws
        x = f32(rng, xs)
        w = f32(rng, (cout, cin, kh, kw))
        b = f32(rng, (cout,)) if bias else None
        oh = (h + 2 * pad - kh) // stride + 1
        ow = (wd + 2 * pad - kw) // stride + 1
        up = f32(rng, (n, cout, oh, ow))
        out, dx, dw, db = conv2d_loops(x, w, b, stride, pad, up)
        assert np.allclose(out, conv2d_einsum(x, w, b, stride, pad), atol=1e-12)
        cases.append({"name": name, "dims": 2, "x_shape": list(xs), "w_shape": list(w.shape),
                      "stride": stride, "padding": pad, "x": r(x), "w": r(w),
                      "bias": r(b) if bias else None, "out_shape": list(out.shape), "out": r(out),
                      "upstream": r(up), "grad_x": r(dx), "grad_w": r(dw),
                      "grad_bias": r(db) if bias else None})
    # name, (N, Cin, L), (Cout, K), stride, padding, bias
    for name, xs, ws, stride, pad, bias in [
        ("k3 same padding", (2, 3, 9), (4, 3), 1, 1, True),
        ("k4 stride 2 pad 2", (1, 2, 8), (3, 4), 2, 2, False),
        ("k1 pointwise", (3, 1, 5), (2, 1), 1, 0, True),
        ("k5 stride 3 one output channel", (1, 4, 6), (1, 5), 3, 0, True),
        ("length 1 pad 2", (2, 2, 1), (2, 3), 1, 2, True),
    ]:
        n, cin, length = xs
        cout, k = ws
        x = f32(rng, xs)
        w = f32(rng, (cout, cin, k))
        b = f32(rng, (cout,)) if bias else None
        lout = (length + 2 * pad - k) // stride + 1
        up = f32(rng, (n, cout, lout))
        out, dx, dw, db = conv1d_loops(x, w, b, stride, pad, up)
        xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad)))[:, :, None, :]
        assert np.allclose(out, conv2d_einsum(xpad, w[:, :, None, :], b, stride, 0)[:, :, 0, :], atol=1e-12)
        cases.append({"name": name, "dims": 1, "x_shape": list(xs), "w_shape": list(w.shape),
                      "stride": stride, "padding": pad, "x": r(x), "w": r(w),
                      "bias": r(b) if bias else None, "out_shape": list(out.shape), "out": r(out),
                      "upstream": r(up), "grad_x": r(dx), "grad_w": r(dw),
                      "grad_bias": r(db) if bias else None})
    with open(os.path.join(HERE, "conv_reference.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
