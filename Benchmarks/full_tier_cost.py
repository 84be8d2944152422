"""Expected cost of one full-tier cell, from measured training-step times.

Reads the JSON lines of `moebench bench --tier full --filter step_ --json` (each suite's
full-tier model timed on proxy data of the same format) and multiplies each step time by
the optimizer steps of a full-tier cell on the published datasets:
steps = ceil(epochs * train examples / batch size), with the epochs and batch sizes of the
suite files' `full` tiers. Speech steps are scaled by the mean utterance length of
train-clean-100 (12.69 s) over the proxy's mean (pass it with --proxy-seconds, from
`moebench data inspect librispeech --root data/proxy-proxy --json`: seconds / examples of
train-clean-100); attention grows faster than linearly with length, so this is a lower bound
for speech. Evaluation time is not included.

usage: python3 Benchmarks/full_tier_cost.py BENCH.jsonl --proxy-seconds S
"""
import json, math, sys

# Published training-set sizes (examples) and the full tier's epochs and batch sizes
# (Suites/*.yaml).
GLUE_TRAIN = {"cola": 8551, "sst2": 67349, "mrpc": 3668, "stsb": 5749, "qqp": 363846,
              "mnli": 392702, "qnli": 104743, "rte": 2490, "wnli": 635}
GLUE_EPOCHS = {"cola": 25, "mrpc": 25, "stsb": 25, "rte": 40, "wnli": 10}
FULL = {"glue": (3, 32), "cifar100": (100, 128), "librispeech": (50, 32)}
LIBRI_TRAIN, LIBRI_SECONDS = 28539, 12.69


def main():
    args = sys.argv[1:]
    proxy_seconds = None
    if "--proxy-seconds" in args:
        i = args.index("--proxy-seconds")
        proxy_seconds = float(args[i + 1])
        del args[i:i + 2]
    rows = [json.loads(l) for l in open(args[0]) if l.strip().startswith("{")]
    steps = [r for r in rows if r.get("name", "").startswith("step_")]
    print("| suite | method | step ms (batch) | steps per cell | hours per cell |")
    print("|---|---|---|---|---|")
    for r in steps:
        suite, method, ms, bs = r["suite"], r["method"], r["ms"], r["batch_size"]
        epochs, _ = FULL[suite]
        if suite == "glue":
            # One cell per task: the largest (MNLI) and the sum over the nine tasks.
            n = {t: math.ceil(GLUE_EPOCHS.get(t, epochs) * k / bs) for t, k in GLUE_TRAIN.items()}
            total = sum(n.values())
            print(f"| glue | {method} | {ms:.1f} ({bs}) | {min(n.values())} (WNLI) to {max(n.values())} (MNLI); "
                  f"{total} for all nine | up to {max(n.values()) * ms / 3.6e6:.2f}; {total * ms / 3.6e6:.2f} for all nine |")
            continue
        if suite == "cifar100":
            n = math.ceil(epochs * 50000 / bs)
        else:
            ms = ms * (LIBRI_SECONDS / proxy_seconds if proxy_seconds else float("nan"))
            n = math.ceil(epochs * LIBRI_TRAIN / bs)
        print(f"| {suite} | {method} | {ms:.1f} ({bs}) | {n} | {n * ms / 3.6e6:.1f} |")

if __name__ == "__main__":
    main()
