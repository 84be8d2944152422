#!/usr/bin/env python3
"""Reference values for softmax / log-softmax (large inputs), layer norm and GELU.

Regenerate: python3 Tests/TensorTests/Fixtures/make_fixtures_ops_a.py
Computed in float64 with NumPy and SciPy (erf) from fixed inputs; writes ops_a_reference.json.
"""
import json, os
import numpy as np
from scipy.special import erf

rng = np.random.default_rng(7)
out = {}

x = np.array([[1000.0, 1001.0, 999.0, -5.0], [-1000.0, -1000.5, -999.0, -1002.0], [0.1, -0.2, 0.3, 0.0]])
m = x.max(axis=1, keepdims=True)
lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
out["softmax"] = {"shape": list(x.shape), "x": x.ravel().tolist(),
                  "softmax": np.exp(x - lse).ravel().tolist(), "log_softmax": (x - lse).ravel().tolist()}

x = rng.normal(size=(3, 5)) * 3 + 1
g = rng.normal(size=5)
b = rng.normal(size=5)
mu = x.mean(axis=1, keepdims=True)
var = x.var(axis=1, keepdims=True)  # biased, as torch.nn.functional.layer_norm
y = (x - mu) / np.sqrt(var + 1e-5) * g + b
out["layer_norm"] = {"shape": list(x.shape), "x": x.ravel().tolist(), "gamma": g.tolist(), "beta": b.tolist(),
                     "eps": 1e-5, "y": y.ravel().tolist()}

x = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.3, 1.0, 2.5, 5.0])
out["gelu"] = {"x": x.tolist(), "y": (0.5 * x * (1 + erf(x / np.sqrt(2)))).tolist(),
               "dy": (0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)).tolist()}

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops_a_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
