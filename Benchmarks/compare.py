"""Side-by-side table of the Swift engine's benchmarks and the PyTorch eager peers.

Reads files of JSON lines: ENGINE (`moebench bench --json`: MoE layer records with
T, d, h, E, k, tokens_per_s, moe_vs_sgemm, dispatch_overhead; training steps named
step_<suite>_<method> with ms, examples_per_s) and PEER (the lines of
Benchmarks/peer/moe_layer_torch.py and Benchmarks/peer/train_step_torch.py, concatenated).
Prints two markdown tables: MoE layers per (T, d, h, E, k) with engine/torch tokens/s and
each side's moe_vs_sgemm and dispatch_overhead; training steps per name with engine ms,
torch ms and speed-up = torch ms / engine ms (> 1: the engine is faster). A figure with no
counterpart is shown as "-".

With several rounds (`make bench-peer` alternates engine and peer runs, ROUNDS times, so
that a slow stretch of a shared machine does not fall on one side only), each side's best
round is taken per benchmark: the MoE layer record with the most tokens/s (its
moe_vs_sgemm and dispatch_overhead come from that same run, where they were measured side
by side), the training step with the fewest ms.

usage: python3 Benchmarks/compare.py ENGINE.jsonl PEER.jsonl
       python3 Benchmarks/compare.py --engine E1.jsonl E2.jsonl ... --peer P1.jsonl P2.jsonl ...
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


def best(records, key, score):
    """Per key, the record with the highest score (records without the score are skipped)."""
    out = {}
    for r in records:
        if score(r) is None:
            continue
        k = key(r)
        if k not in out or score(r) > score(out[k]):
            out[k] = r
    return out


def main(engine_paths, peer_paths):
    engine = [r for p in engine_paths for r in load(p)]
    peer = [r for p in peer_paths for r in load(p)]
    rounds = max(len(engine_paths), len(peer_paths))
    if rounds > 1:
        print(f"Best of {len(engine_paths)} engine and {len(peer_paths)} PyTorch rounds per benchmark.")
        print()
    key = lambda r: tuple(r.get(k) for k in ("T", "d", "h", "E", "k"))
    layers = lambda rs: [r for r in rs if r.get("T") is not None]
    em = best(layers(engine), key, lambda r: r.get("tokens_per_s"))
    pm = best(layers(peer), key, lambda r: r.get("moe_tokens_per_s"))
    print("| MoE layer (T, d, h, E, k) | engine tokens/s | torch tokens/s | engine/torch "
          "| engine moe_vs_sgemm | torch moe_vs_sgemm | engine dispatch_overhead | torch dispatch_overhead |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in dict.fromkeys(key(r) for r in engine + peer if r.get("T") is not None):
        e, p = em.get(k, {}), pm.get(k, {})
        et, pt = e.get("tokens_per_s"), p.get("moe_tokens_per_s")
        print(f"| {', '.join(map(str, k))} | {fmt(et, 0)} | {fmt(pt, 0)} | {fmt(ratio(et, pt))} "
              f"| {fmt(e.get('moe_vs_sgemm'), 3)} | {fmt(p.get('moe_vs_sgemm'), 3)} "
              f"| {fmt(e.get('dispatch_overhead'), 3)} | {fmt(p.get('dispatch_overhead'), 3)} |")
    steps = lambda rs: [r for r in rs if str(r.get("name", "")).startswith("step_")]
    fastest = lambda r: -r["ms"] if r.get("ms") is not None else None
    es = best(steps(engine), lambda r: r["name"], fastest)
    ps = best(steps(peer), lambda r: r["name"], fastest)
    order = [r["name"] for r in engine + peer if str(r.get("name", "")).startswith("step_")]
    print()
    print("| training step | engine ms | torch ms | speed-up (torch ms / engine ms) |")
    print("|---|---:|---:|---:|")
    for name in dict.fromkeys(order):
        e, p = es.get(name, {}).get("ms"), ps.get(name, {}).get("ms")
        print(f"| {name} | {fmt(e)} | {fmt(p)} | {fmt(ratio(p, e))} |")


def parse(args):
    """(engine paths, peer paths) from `E P` or `--engine E... --peer P...`; None if malformed."""
    if len(args) == 2 and not any(a.startswith("--") for a in args):
        return [args[0]], [args[1]]
    if not args or args[0] != "--engine" or "--peer" not in args:
        return None
    i = args.index("--peer")
    engine, peer = args[1:i], args[i + 1:]
    return (engine, peer) if engine and peer and "--engine" not in peer else None


if __name__ == "__main__":
    paths = parse(sys.argv[1:])
    if paths is None:
        sys.exit("\n".join(__doc__.strip().splitlines()[-2:]))
    main(*paths)
