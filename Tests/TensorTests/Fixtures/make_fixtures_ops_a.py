#!/usr/bin/env python3
"""Reference values for the ops easy to get subtly wrong: softmax / log-softmax and
log-sum-exp with large inputs (along the last and inner axes, with gradients), layer norm
(values and gradients, including a large-offset row and a length-1 row), GELU in the erf
form with its derivative (including both tails), and cross-entropy with large logits and
an ignored row.

Regenerate (from the package root):
    python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
Computed in float64 with NumPy and SciPy from fixed inputs (seeded); writes
ops_a_reference.json beside this script. Read by the TensorTests PointwiseTests,
ReduceSoftmaxTests, LayerNormTests and LossTests.
"""
import json
import os

import numpy as np
from scipy.special import erf, erfc, logsumexp

rng = np.random.default_rng(20240611)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def f32(a):
    """Rounds to float32 first, so the reference is exact for the inputs the tests use."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def softmax_ref(x, axis):
    lse = logsumexp(x, axis=axis, keepdims=True)
    return np.exp(x - lse), x - lse


def softmax_case(x, axis):
    x = f32(x)
    g = f32(rng.uniform(-1, 1, size=x.shape))
    p, lp = softmax_ref(x, axis)
    # Vector-Jacobian products for the upstream gradient g.
    dsoftmax = p * (g - (g * p).sum(axis=axis, keepdims=True))
    dlogsoftmax = g - p * g.sum(axis=axis, keepdims=True)
    return {"shape": list(x.shape), "axis": axis, "x": flat(x), "g": flat(g),
            "softmax": flat(p), "log_softmax": flat(lp),
            "dsoftmax": flat(dsoftmax), "dlog_softmax": flat(dlogsoftmax)}


out = {}

# Softmax / log-softmax: rows around +1000 and -1000 (naive exp overflows / underflows to
# 0/0), a row mixing both, an ordinary row; then an inner axis of a 3-D tensor.
x_last = np.array([[1000.0, 1001.0, 999.0, -5.0, 1000.5],
                   [-1000.0, -1000.5, -999.0, -1002.0, -1001.25],
                   [1000.0, -1000.0, 0.0, 999.75, -3.0],
                   [0.1, -0.2, 0.3, 0.0, 0.05]])
x_mid = rng.normal(size=(2, 5, 3)) * 2
x_mid[0, :, 1] += 1000.0
x_mid[1, :, 2] -= 1000.0
out["softmax_cases"] = [softmax_case(x_last, 1), softmax_case(x_mid, 1), softmax_case(x_mid, 0)]

# Log-sum-exp with large inputs and its gradient (the softmax).
lse_cases = []
for x, axis in [(x_last, 1), (x_mid, 1), (x_mid, 2)]:
    x = f32(x)
    g_shape = list(x.shape)
    del g_shape[axis]
    g = f32(rng.uniform(-1, 1, size=g_shape))
    y = logsumexp(x, axis=axis)
    dx = np.exp(x - np.expand_dims(y, axis)) * np.expand_dims(g, axis)
    lse_cases.append({"shape": list(x.shape), "axis": axis, "x": flat(x), "g": flat(g),
                      "y": flat(y), "dx": flat(dx)})
out["logsumexp_cases"] = lse_cases


# Layer norm over the last dimension (biased variance, as torch.nn.functional.layer_norm).
def layer_norm_case(x, eps):
    x = f32(x)
    n = x.shape[-1]
    gamma = f32(rng.normal(size=n))
    beta = f32(rng.normal(size=n))
    g = f32(rng.uniform(-1, 1, size=x.shape))
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    y = xhat * gamma + beta
    red = tuple(range(x.ndim - 1))
    dbeta = g.sum(axis=red)
    dgamma = (g * xhat).sum(axis=red)
    d = g * gamma
    dx = rstd * (d - d.mean(axis=-1, keepdims=True) - xhat * (d * xhat).mean(axis=-1, keepdims=True))
    return {"shape": list(x.shape), "eps": eps, "x": flat(x), "gamma": flat(gamma), "beta": flat(beta),
            "g": flat(g), "y": flat(y), "dx": flat(dx), "dgamma": flat(dgamma), "dbeta": flat(dbeta)}


ln_x = rng.normal(size=(2, 3, 7)) * 3 + 1
ln_x[1, 2] = 1000.0 + rng.normal(size=7) * 0.5   # a large offset: one-pass variance cancels
ln_cases = [layer_norm_case(ln_x, 1e-5),
            layer_norm_case(rng.normal(size=(4, 1)), 1e-5),          # n = 1: y = beta
            layer_norm_case(rng.normal(size=(3, 16)) * 1e-3, 1e-5)]   # variance comparable to eps
out["layer_norm_cases"] = ln_cases

# GELU, exact erf form (BERT): y = 0.5 x (1 + erf(x / sqrt 2)), dy/dx = Phi(x) + x phi(x).
# Phi via erfc keeps relative accuracy in the negative tail; it must agree with the erf form.
gx = f32([-12.0, -8.0, -6.0, -4.5, -3.0, -2.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.3, 0.5, 1.0,
          1.5, 2.5, 4.0, 6.0, 10.0])
Phi = 0.5 * erfc(-gx / np.sqrt(2))
assert np.allclose(Phi, 0.5 * (1 + erf(gx / np.sqrt(2))), rtol=0, atol=1e-15)
phi = np.exp(-0.5 * gx * gx) / np.sqrt(2 * np.pi)
out["gelu"] = {"x": flat(gx), "y": flat(gx * Phi), "dy": flat(Phi + gx * phi)}

# Cross-entropy with large logits, one ignored row (label -100), mean over counted rows.
ce_logits = f32(np.array([[1000.0, 998.0, 1001.5, 990.0],
                          [-1000.0, -999.0, -1003.0, -1000.5],
                          [3.0, 1.0, -2.0, 0.5],
                          [0.2, 0.1, -0.3, 0.4],
                          [50.0, -50.0, 0.0, 10.0]]))
ce_labels = [2, 0, -100, 3, 1]
counted = [r for r, y in enumerate(ce_labels) if y != -100]
lp = ce_logits - logsumexp(ce_logits, axis=1, keepdims=True)
loss = -np.mean([lp[r, ce_labels[r]] for r in counted])
dlogits = np.zeros_like(ce_logits)
for r in counted:
    dlogits[r] = np.exp(lp[r])
    dlogits[r, ce_labels[r]] -= 1
dlogits /= len(counted)
out["cross_entropy"] = {"shape": list(ce_logits.shape), "logits": flat(ce_logits), "labels": ce_labels,
                        "ignore_index": -100, "loss": float(loss), "dlogits": flat(dlogits)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops_a_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote", path)
