"""Peer benchmark: one full training step of each suite's proxy model in PyTorch eager (CPU).

Times forward + loss, backward, clip_grad_norm_(1.0), AdamW step and zero_grad of the proxy-tier
model of Suites/{glue,cifar100,librispeech}.yaml for every method, built as the Swift engine
builds it (Sources/Routing: pre-LN encoder blocks, Dense, SwitchTop1, Top2, DynamicTopP,
MoLEx, DLR; Sources/Harness/Trainer.swift for the front ends' sizes). 2 warm-up steps, then
the median of 10 timed steps, cycling over 4 fixed synthetic batches built before timing
(as `moebench bench` does with its proxy batches). Prints one JSON line per (suite, method):
name (step_<suite>_<method>), suite, method, batch_size, ms, examples_per_s, threads, torch.

Inputs (synthetic, shaped like the proxy data the engine's bench reads):
  glue (first task, CoLA: 2 classes): batch 32, token lengths drawn from the proxy CoLA
    train split's WordPiece lengths (6-20, mean 11.1, padded to the batch's longest),
    vocabulary 918 (the size of the vocabulary the engine builds from that split);
  cifar100: batch 64 of [3, 32, 32], 4x4 patches, 65 tokens;
  librispeech: batch 16, frames per utterance drawn from the proxy train-clean-100 deciles
    (132-640, mean 367; padded to the batch's longest), 80 mel bins, CTC targets of
    round(0.157 * frames) characters (the proxy's characters per frame).

usage: python3 train_step_torch.py [--threads 2] [--filter TEXT]
"""
import argparse, json, math, random, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL = dict(d=64, depth=4, heads=4, hidden=256, dropout=0.1)
SUITES = {  # proxy tier: top-level model/training merged with the tier (which only sets steps)
    "glue": dict(modality="text", max_length=48, vocab=918, classes=2, batch=32, lr=1e-3, wd=0.01, task=0),
    "cifar100": dict(modality="image", max_length=65, classes=100, batch=64, lr=2e-3, wd=0.05, task=9),
    "librispeech": dict(modality="speech", max_length=800, vocab=29, batch=16, lr=2e-3, wd=0.01, task=10),
}
METHODS = {"dense": ("dense", {}), "dense-2x": ("dense", {"scale": 2}), "switch": ("switch", {}),
           "top2": ("top2", {}), "topp": ("topp", {}), "molex": ("molex", {}), "dlr": ("dlr", {})}
E, CF, MIN_CAP, ALPHA, TAU, ENT_BETA = 8, 1.25, 4, 0.01, 0.4, 1e-4
COLA_LENGTHS = {6: 79, 7: 29, 8: 524, 9: 176, 10: 199, 11: 127, 12: 192, 13: 196, 14: 111, 15: 123,
                16: 99, 17: 72, 18: 51, 19: 19, 20: 3}
SPEECH_DECILES = [132, 206, 239, 275, 329, 374, 407, 450, 489, 524, 640]


class Layout:
    """A padded batch [B, T, d]: key mask, the flat rows of the real tokens, their sequences."""
    def __init__(self, lengths, T):
        self.lengths, self.B, self.T = lengths, len(lengths), T
        self.mask = torch.arange(T)[None, :] < lengths[:, None]
        self.dense = bool(self.mask.all())
        self.rows = self.mask.flatten().nonzero().squeeze(1)
        self.seq = torch.repeat_interleave(torch.arange(self.B), lengths)
        self.attn_mask = None if self.dense else self.mask[:, None, None, :]

    def subset(self, seqs):
        return Layout(self.lengths[seqs], self.T)

    def gather(self, x):
        flat = x.reshape(-1, x.shape[-1])
        return flat if self.dense else flat.index_select(0, self.rows)

    def scatter(self, y):
        if self.dense:
            return y.view(self.B, self.T, -1)
        return y.new_zeros(self.B * self.T, y.shape[1]).index_copy(0, self.rows, y).view(self.B, self.T, -1)


def balance(p, top, n):  # alpha * n * sum_i f_i P_i, f from the top-1 choices
    return ALPHA * n * (torch.bincount(top, minlength=n).float() / p.shape[0] * p.mean(0)).sum()


def entropy(p):
    return -(p * p.clamp_min(1e-30).log()).sum(-1).mean()


class Dense(nn.Module):
    def __init__(self, d, h, scale=1):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h * scale), nn.Linear(h * scale, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x))), None


class MoE(nn.Module):
    """Router [d, E] without bias; experts w1 [E, d, h], b1, w2 [E, h, d], b2; sorted dispatch, one GEMM pair per expert."""
    def __init__(self, kind, d, h):
        super().__init__()
        self.kind, self.router = kind, nn.Linear(d, E, bias=False)
        u = lambda shape, fan: nn.Parameter(torch.empty(shape).uniform_(-fan ** -0.5, fan ** -0.5))
        self.w1, self.b1, self.w2, self.b2 = u((E, d, h), d), u((E, h), d), u((E, h, d), h), u((E, d), h)

    def forward(self, x):
        N = x.shape[0]
        p = torch.softmax(self.router(x), -1)
        if self.kind == "switch":  # top-1, raw gate, capacity max(4, floor(N cf / E)), overflow dropped
            e = p.argmax(-1)
            slot = (F.one_hot(e, E).cumsum(0) - 1).gather(1, e[:, None]).squeeze(1)
            keep = slot < max(MIN_CAP, math.floor(N * CF / E))
            tok = torch.arange(N)[keep]
            exp, gate = e[keep], p[tok, e[keep]]
            aux = balance(p, e, E)
        elif self.kind == "top2":  # GShard: renormalised gates, firsts before seconds, C = max(4, floor(2 N cf / E))
            pv, pi = p.topk(2, -1)
            g = pv / (pv.sum(-1, keepdim=True) + 1e-9)
            C = max(MIN_CAP, math.floor(2 * N * CF / E))
            oh1, oh2 = F.one_hot(pi[:, 0], E), F.one_hot(pi[:, 1], E)
            s1 = (oh1.cumsum(0) - 1).gather(1, pi[:, :1]).squeeze(1)
            s2 = (oh2.cumsum(0) - 1).gather(1, pi[:, 1:]).squeeze(1) + oh1.sum(0).clamp(max=C)[pi[:, 1]]
            keep = torch.stack([s1, s2], 1) < C
            tok = torch.arange(N)[:, None].expand(N, 2)[keep]
            exp, gate = pi[keep], g[keep]
            aux = balance(p, pi[:, 0], E)
        else:  # topp: shortest prefix of the sorted probs whose cumulative sum exceeds tau, raw gates, dropless
            sp, si = p.sort(dim=-1, descending=True, stable=True)
            cs = sp.cumsum(-1)
            keep = torch.cat([torch.zeros(N, 1), cs[:, :-1]], 1) <= TAU
            tok, rank = keep.nonzero(as_tuple=True)
            exp = si[tok, rank]
            gate = p[tok, exp]
            aux = balance(p, si[:, 0], E) + ENT_BETA * entropy(p)
        order = exp.argsort(stable=True)
        tok, gate = tok[order], gate[order]
        xs = x.index_select(0, tok)
        ys, s = [], 0
        w1, b1, w2, b2 = (t.unbind(0) for t in (self.w1, self.b1, self.w2, self.b2))
        for e, c in enumerate(torch.bincount(exp, minlength=E).tolist()):
            if c:
                ys.append(torch.addmm(b2[e], F.gelu(torch.addmm(b1[e], xs[s:s + c], w1[e])), w2[e]))
            s += c
        y = torch.cat(ys) * gate[:, None]
        return x.new_zeros(N, x.shape[1]).index_add(0, tok, y), aux


class Block(nn.Module):
    """Pre-LN: u = h + Drop(Attn(LN1 h)); h' = u + Drop(scatter(FFN(gather(LN2 u))))."""
    def __init__(self, d, heads, ffn, p):
        super().__init__()
        self.norm1, self.norm2, self.ffn, self.heads, self.p = nn.LayerNorm(d), nn.LayerNorm(d), ffn, heads, p
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, h, lay):
        B, T, d = h.shape
        x = self.norm1(h)
        q, k, v = (m(x).view(B, T, self.heads, -1).transpose(1, 2) for m in (self.q, self.k, self.v))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=lay.attn_mask).transpose(1, 2).reshape(B, T, d)
        u = h + F.dropout(self.o(a), self.p, self.training)
        y, aux = self.ffn(lay.gather(self.norm2(u)))
        return u + F.dropout(lay.scatter(y), self.p, self.training), aux


class MoLEx(nn.Module):
    """Mixture of layer experts (Sources/Routing/MoLEx.swift, default options)."""
    def __init__(self, d, L, a=0.95):
        super().__init__()
        self.gate, self.L, self.a = nn.Linear(d, L, bias=False), L, a

    def mix(self, h, i, blocks, lay, task):
        p = torch.softmax(self.gate(lay.gather(h)), -1)
        votes = torch.zeros(lay.B, self.L).index_put_((lay.seq, p.argmax(-1)), torch.ones(()), accumulate=True)
        chosen = votes.argmax(1)  # per-sequence mode, ties to the lower block
        auxes = [mix_balance(p, chosen, self.L)]
        yi, ai = blocks[i](h, lay)
        m = torch.zeros_like(yi)
        for j in chosen.unique().tolist():
            seqs = (chosen == j).nonzero().squeeze(1)
            if j == i:
                src = yi.index_select(0, seqs)
            else:
                src, aj = blocks[j](h.index_select(0, seqs), lay.subset(seqs))
                auxes.append(aj)
            m = m.index_add(0, seqs, src)
        m = m * lay.mask[..., None]
        return self.a * yi + (1 - self.a) * m, auxes + [ai]


def mix_balance(p, chosen, L):  # MoLEx: f over sequences' chosen blocks, P over real tokens
    return ALPHA * L * (torch.bincount(chosen, minlength=L).float() / chosen.shape[0] * p.mean(0)).sum()


class DLR(nn.Module):
    """Dynamic layer routing as Sources/Routing/DLR.swift reads it (default options)."""
    def __init__(self, d, L, a=0.9, tau=0.5, task_dim=16, tasks=11):
        super().__init__()
        self.ws, self.wt = nn.Linear(d + task_dim, L, bias=False), nn.Linear(d, L, bias=False)
        self.task = nn.Embedding(tasks, task_dim)
        self.L, self.a, self.tau = L, a, tau

    def mix(self, h, i, blocks, lay, task):
        B, T, d = h.shape
        tok = lay.gather(h)
        inv = (1 / lay.lengths.float())[lay.seq]
        pooled = h.new_zeros(B, d).index_add(0, lay.seq, tok * inv[:, None])
        q = torch.softmax(self.ws(torch.cat([pooled, self.task.weight[task].expand(B, -1)], 1)), -1)
        sq, si = q.detach().sort(dim=-1, descending=True, stable=True)
        sel = F.one_hot(si[:, 0], self.L).bool() | (F.one_hot(si[:, 1], self.L).bool() & (sq[:, :1] <= self.tau))
        r = torch.softmax(self.wt(tok).masked_fill(~sel[lay.seq], float("-inf")), -1)
        w = q[lay.seq] * r
        aux = [mix_balance(q, si[:, 0], self.L) + ENT_BETA * entropy(q)]
        yi, ai = blocks[i](h, lay)
        wd = w.new_zeros(B * T, self.L).index_copy(0, lay.rows, w).view(B, T, self.L) if not lay.dense else w.view(B, T, -1)
        m = torch.zeros_like(yi)
        for j in sel.any(0).nonzero().squeeze(1).tolist():
            seqs = sel[:, j].nonzero().squeeze(1)
            if j == i:
                src = yi.index_select(0, seqs)
            else:
                src, aj = blocks[j](h.index_select(0, seqs), lay.subset(seqs))
                aux.append(aj)
            m = m.index_add(0, seqs, src * wd.index_select(0, seqs)[..., j:j + 1])
        return self.a * yi + (1 - self.a) * m, aux + [ai]


class Model(nn.Module):
    def __init__(self, s, method):
        super().__init__()
        kind, opts = METHODS[method]
        d, L, hid, p = MODEL["d"], MODEL["depth"], MODEL["hidden"], MODEL["dropout"]
        self.s, self.p = s, p
        if s["modality"] == "text":
            self.tok, self.seg = nn.Embedding(s["vocab"], d), nn.Embedding(2, d)
            self.pos = nn.Parameter(torch.randn(s["max_length"], d) * 0.02)
        elif s["modality"] == "image":
            self.patch = nn.Conv2d(3, d, 4, stride=4)
            self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
            self.pos = nn.Parameter(torch.randn(65, d) * 0.02)
        else:
            self.conv1, self.conv2 = nn.Conv1d(80, d, 3, 2, 1), nn.Conv1d(d, d, 3, 2, 1)
            self.pos = nn.Parameter(torch.randn(sub(s["max_length"]), d) * 0.02)
        ffn = (lambda: MoE(kind, d, hid)) if kind in ("switch", "top2", "topp") else (lambda: Dense(d, hid, opts.get("scale", 1)))
        self.blocks = nn.ModuleList(Block(d, MODEL["heads"], ffn(), p) for _ in range(L))
        self.mixer = MoLEx(d, L) if kind == "molex" else DLR(d, L) if kind == "dlr" else None
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, s["classes"] if "classes" in s else s["vocab"])

    def embed(self, x):
        m = self.s["modality"]
        if m == "text":
            ids, lengths = x
            B, T = ids.shape
            h = self.tok(ids) + self.pos[:T] + self.seg(torch.zeros_like(ids))
            lay = Layout(lengths, T)
        elif m == "image":
            g = self.patch(x).flatten(2).transpose(1, 2)
            h = torch.cat([self.cls.expand(g.shape[0], -1, -1), g], 1) + self.pos
            lay = Layout(torch.full((g.shape[0],), h.shape[1]), h.shape[1])
        else:
            feats, lengths = x
            B, Fr, _ = feats.shape
            padded = bool((lengths < Fr).any())
            if padded:
                feats = feats * (torch.arange(Fr)[None, :] < lengths[:, None])[..., None]
            h = F.gelu(self.conv1(feats.transpose(1, 2)))
            if padded:
                h = h * (torch.arange(h.shape[2])[None, :] < (lengths[:, None] + 1) // 2)[:, None, :]
            h = F.gelu(self.conv2(h)).transpose(1, 2)
            h = h + self.pos[:h.shape[1]]
            lay = Layout(sub(lengths), h.shape[1])
        return F.dropout(h, self.p, self.training), lay

    def forward(self, x, y):
        h, lay = self.embed(x)
        aux = []
        for i, b in enumerate(self.blocks):
            h, a = self.mixer.mix(h, i, self.blocks, lay, self.s["task"]) if self.mixer else b(h, lay)
            aux += a if isinstance(a, list) else [a]
        out = self.head(self.norm(h) if self.s["modality"] == "speech" else self.norm(h)[:, 0])
        if self.s["modality"] == "speech":
            targets, tlen = y
            loss = F.ctc_loss(out.log_softmax(-1).transpose(0, 1), targets, lay.lengths, tlen,
                              blank=0, reduction="mean", zero_infinity=True)
        else:
            loss = F.cross_entropy(out, y)
        aux = [a for a in aux if a is not None]
        return loss + sum(aux) if aux else loss


def sub(n):  # frames after two stride-2 convs: ceil(ceil(n / 2) / 2)
    return (n + 3) // 4


def make_batch(s, rng):
    B = s["batch"]
    if s["modality"] == "text":
        lengths = torch.tensor(rng.choices(list(COLA_LENGTHS), weights=list(COLA_LENGTHS.values()), k=B))
        T = int(lengths.max())
        ids = torch.randint(5, s["vocab"], (B, T)) * (torch.arange(T)[None, :] < lengths[:, None])
        return (ids, lengths), torch.randint(0, s["classes"], (B,))
    if s["modality"] == "image":
        return torch.randn(B, 3, 32, 32), torch.randint(0, s["classes"], (B,))
    lengths = []
    for _ in range(B):  # piecewise-linear inverse CDF through the proxy's deciles
        u = rng.random() * 10
        k = min(int(u), 9)
        lengths.append(round(SPEECH_DECILES[k] + (u - k) * (SPEECH_DECILES[k + 1] - SPEECH_DECILES[k])))
    lengths = torch.tensor(lengths)
    tlen = (lengths.float() * 0.157).round().long().clamp(min=1)
    feats = torch.randn(B, int(lengths.max()), 80)
    return (feats, lengths), (torch.randint(1, s["vocab"], (int(tlen.sum()),)), tlen)


def bench(suite, method, threads):
    s = SUITES[suite]
    torch.manual_seed(0)
    rng = random.Random(0)
    model = Model(s, method).train()
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s["wd"])
    batches = [make_batch(s, rng) for _ in range(4)]

    def step(b):
        loss = model(*b)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()

    for i in range(2):
        step(batches[i % 4])
    times = []
    for i in range(10):
        t = time.perf_counter()
        step(batches[(i + 2) % 4])
        times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3
    return {"name": f"step_{suite}_{method}", "suite": suite, "method": method, "batch_size": s["batch"],
            "ms": round(ms, 2), "examples_per_s": round(s["batch"] / ms * 1e3, 1), "threads": threads,
            "torch": torch.__version__}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for suite in SUITES:
        for method in METHODS:
            if args.filter in f"step_{suite}_{method}":
                print(json.dumps(bench(suite, method, args.threads)), flush=True)
