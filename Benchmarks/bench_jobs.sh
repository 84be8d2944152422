#!/usr/bin/env bash
# Cells per hour of `replicate --jobs 1 --threads 2` against `--jobs 2 --threads 1` on one
# selection of the proxy grid (each run into a fresh scratch folder, so every cell runs),
# alternated ROUNDS times (A B, then B A, …) so both see the same moments of a shared machine.
# Usage: bench_jobs.sh MOEBENCH ROUNDS replicate-selection-args…
set -euo pipefail
exe=$1; rounds=$2; shift 2
sel=("$@")
scratch=.build/bench-jobs
mkdir -p "$scratch"
# The proxy data first, outside the timings: the first cell of the selection alone.
"$exe" replicate --tier proxy --seeds 1 "${sel[@]}" --shard 0/1000 --results "$scratch/warm" --no-report --threads 2 \
  > "$scratch/warm.log" 2>&1 || { cat "$scratch/warm.log"; exit 1; }
rm -rf "$scratch/warm"
run() {  # jobs threads round
  local dir="$scratch/results-j$1-t$2" log="$scratch/round$3-j$1-t$2.log"
  rm -rf "$dir"
  local t0 t1 cells
  t0=$(date +%s.%N)
  "$exe" replicate --tier proxy --seeds 1 "${sel[@]}" --jobs "$1" --threads "$2" --results "$dir" --no-report \
    > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
  t1=$(date +%s.%N)
  cells=$(find "$dir" -name '*__s*.json' | wc -l)
  python3 -c 'import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print("round %s  --jobs %s --threads %s: %d cells in %.1f s = %.0f cells/hour" % (sys.argv[4], sys.argv[5], sys.argv[6], n, s, 3600 * n / s))' \
    "$cells" "$t0" "$t1" "$3" "$1" "$2"
}
for r in $(seq 1 "$rounds"); do
  if (( r % 2 == 1 )); then run 1 2 "$r"; run 2 1 "$r"; else run 2 1 "$r"; run 1 2 "$r"; fi
done
