"""Side-by-side table of the Swift engine's benchmarks and the PyTorch eager peers.

Reads two files of JSON lines: ENGINE (`moebench bench --json`: MoE layer records with
T, d, h, E, k, tokens_per_s, moe_vs_sgemm, dispatch_overhead; training steps named
step_<suite>_<method> with ms, examples_per_s) and PEER (the lines of
Benchmarks/peer/moe_layer_torch.py and Benchmarks/peer/train_step_torch.py, concatenated).
Prints two markdown tables: MoE layers per (T, d, h, E, k) with engine/torch tokens/s and
each side's moe_vs_sgemm and dispatch_overhead; training steps per name with engine ms,
torch ms and speed-up = torch ms / engine ms (> 1: the engine is faster). A figure with no
counterpart is shown as "-".

usage: python3 Benchmarks/compare.py ENGINE.jsonl PEER.jsonl
"""
import json, sys


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def fmt(v, digits=2):
    return "-" if v is None else f"{float(v):,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def main(engine_path, peer_path):
    engine, peer = load(engine_path), load(peer_path)
    key = lambda r: tuple(r.get(k) for k in ("T", "d", "h", "E", "k"))
    em = {key(r): r for r in engine if r.get("T") is not None}
    pm = {key(r): r for r in peer if r.get("T") is not None}
    print("| MoE layer (T, d, h, E, k) | engine tokens/s | torch tokens/s | engine/torch "
          "| engine moe_vs_sgemm | torch moe_vs_sgemm | engine dispatch_overhead | torch dispatch_overhead |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in dict.fromkeys(key(r) for r in engine + peer if r.get("T") is not None):
        e, p = em.get(k, {}), pm.get(k, {})
        et, pt = e.get("tokens_per_s"), p.get("moe_tokens_per_s")
        print(f"| {', '.join(map(str, k))} | {fmt(et, 0)} | {fmt(pt, 0)} | {fmt(ratio(et, pt))} "
              f"| {fmt(e.get('moe_vs_sgemm'), 3)} | {fmt(p.get('moe_vs_sgemm'), 3)} "
              f"| {fmt(e.get('dispatch_overhead'), 3)} | {fmt(p.get('dispatch_overhead'), 3)} |")
    es = {r["name"]: r for r in engine if str(r.get("name", "")).startswith("step_")}
    ps = {r["name"]: r for r in peer if str(r.get("name", "")).startswith("step_")}
    order = [r["name"] for r in engine + peer if str(r.get("name", "")).startswith("step_")]
    print()
    print("| training step | engine ms | torch ms | speed-up (torch ms / engine ms) |")
    print("|---|---:|---:|---:|")
    for name in dict.fromkeys(order):
        e, p = es.get(name, {}).get("ms"), ps.get(name, {}).get("ms")
        print(f"| {name} | {fmt(e)} | {fmt(p)} | {fmt(ratio(p, e))} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1], sys.argv[2])
