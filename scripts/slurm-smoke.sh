#!/usr/bin/env bash
# `make slurm-smoke`: the README's Slurm job array (scripts/slurm-array.sbatch) on a real,
# single-node Slurm started on this machine, checked against a single-process run.
#
#  1. installs Debian's slurm-wlm and munge when missing (apt-get);
#  2. writes a munge key and a slurm.conf for this machine (one node on localhost with this
#     machine's CPUs and memory, no accounting) into a temporary folder, starts munged,
#     slurmctld and slurmd there and waits until the node is idle;
#  3. submits the smoke grid of every suite as a job array of SHARDS shards, one CPU and
#     one engine thread per task, waits until it has finished, and merges the shard
#     folders with `moebench merge`;
#  4. runs the same grid in one process (`replicate --threads 1`) and checks that the
#     merged results equal it bit for bit (see compare_results below);
#  5. stops the daemons it started and removes the temporary folder (also on failure),
#     and prints its wall time.
#
# Needs root (re-runs itself under sudo otherwise) and the release build (make release).
# Environment: SHARDS (default 3), MOEBENCH (default .build/release/moebench),
# SLURM_SMOKE_TIMEOUT (seconds for the array, default 1200), SLURM_SMOKE_KEEP=1 keeps the
# temporary folder, SLURMCTLD_PORT / SLURMD_PORT (default 6817 / 6818).
set -euo pipefail
START=$(date +%s)
cd "$(dirname "$0")/.."
REPO=$(pwd)
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi

SHARDS=${SHARDS:-3}
MOEBENCH=${MOEBENCH:-.build/release/moebench}
TIMEOUT=${SLURM_SMOKE_TIMEOUT:-1200}
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
GRID=(--suite all --tier smoke)

log() { echo "slurm-smoke: $*"; }
die() { echo "slurm-smoke: error: $*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - START )); }

[ -x "$MOEBENCH" ] || die "$MOEBENCH not found: run make release first"
MOEBENCH=$(realpath "$MOEBENCH")

# 1. Packages.
missing=""
for p in slurm-wlm munge; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
for c in munged slurmctld slurmd sbatch; do command -v "$c" >/dev/null || missing="$missing slurm-wlm munge"; done
missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
if [ -n "${missing// /}" ]; then
  log "installing: $missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  log "installed in $(elapsed) s"
else
  log "slurm-wlm and munge: present"
fi

# 2. A private single-node cluster in a temporary folder.
TMP=$(mktemp -d /tmp/moebench-slurm.XXXXXX)
chmod 755 "$TMP"
PIDS=()
JOB=""
cleanup() {
  status=$?
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -n "${JOB:-}" ]; then scancel "$JOB" 2>/dev/null; fi
  # Stop the daemons in reverse order of start; wait up to 10 s each, then SIGKILL.
  for (( k = ${#PIDS[@]} - 1; k >= 0; k-- )); do
    pid=${PIDS[k]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
  done
  [ ${#PIDS[@]} -gt 0 ] && log "stopped the daemons (pids ${PIDS[*]})"
  if [ "$status" != 0 ] && [ -d "$TMP/log" ]; then
    for f in "$TMP"/log/{munged,slurmctld,slurmd}.*; do echo "--- tail of $f"; tail -n 15 "$f"; done >&2
  fi
  if [ "${SLURM_SMOKE_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  if [ "$status" = 0 ]; then log "PASS; cost: $(elapsed) s wall time"
  else echo "slurm-smoke: FAILED (exit $status) after $(elapsed) s" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP"/{log,state,spool,run,munge,shards}
NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))

# munge: its own key, socket and files, so a system munged (if any) is left alone.
dd if=/dev/urandom of="$TMP/munge/munge.key" bs=1 count=1024 status=none
chmod 755 "$TMP/munge"
chmod 400 "$TMP/munge/munge.key"
MUNGE_SOCKET=$TMP/munge/munge.socket
munged --force --key-file="$TMP/munge/munge.key" --socket="$MUNGE_SOCKET" \
  --pid-file="$TMP/munge/munged.pid" --log-file="$TMP/log/munged.log" --seed-file="$TMP/munge/munged.seed"
for _ in $(seq 1 50); do [ -s "$TMP/munge/munged.pid" ] && break; sleep 0.1; done
[ -s "$TMP/munge/munged.pid" ] || die "munged did not start (see $TMP/log/munged.log)"
PIDS+=("$(cat "$TMP/munge/munged.pid")")
munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null || die "munge credential round trip failed"

export SLURM_CONF=$TMP/slurm.conf
cat > "$SLURM_CONF" <<CONF
# Single-node Slurm for make slurm-smoke (written by scripts/slurm-smoke.sh).
ClusterName=moebench-smoke
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/run/slurmctld.pid
SlurmdPidFile=$TMP/run/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=smoke Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
log "slurm.conf: node $NODE, $CPUS CPUs, $MEM_MB MB, ports $CTLD_PORT/$SLURMD_PORT, folder $TMP"

slurmctld -D -i -f "$SLURM_CONF" >>"$TMP/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N "$NODE" -f "$SLURM_CONF" >>"$TMP/log/slurmd.out" 2>&1 &
PIDS+=($!)

# Wait for the node to be idle.
state=""
for _ in $(seq 1 60); do
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || die "a Slurm daemon (pid $pid) exited at start"; done
  state=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || die "node $NODE not idle after 60 s (state: '${state:-no answer from slurmctld}')"
log "node $NODE idle after $(elapsed) s"

# 3. The job array: the README's sbatch script, one task per shard.
LAST=$((SHARDS - 1))
export MOEBENCH SHARD_RESULTS=$TMP/shards/results-shard
JOB=$(sbatch --parsable --array=0-$LAST --cpus-per-task=1 --chdir="$REPO" --output="$TMP/log/array-%A_%a.out" \
      scripts/slurm-array.sbatch "${GRID[@]}" --proxy-data "$TMP/data")
log "submitted job array $JOB (tasks 0-$LAST): sbatch --array=0-$LAST --cpus-per-task=1 scripts/slurm-array.sbatch ${GRID[*]}"
T0=$(date +%s)
while squeue -h -j "$JOB" -t PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED -o '%i' 2>/dev/null | grep -q .; do
  [ $(( $(date +%s) - T0 )) -lt "$TIMEOUT" ] || die "job array $JOB not finished after $TIMEOUT s"
  sleep 2
done
ARRAY_S=$(( $(date +%s) - T0 ))
fail=0
for i in $(seq 0 "$LAST"); do
  out=$TMP/log/array-${JOB}_$i.out
  done_line=$(grep '^done:' "$out" 2>/dev/null | tail -n 1 || true)
  st=$(scontrol show job "${JOB}_$i" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 || true)
  log "array task $i: ${st:-JobState unknown}; ${done_line:-no summary line}"
  case "$st" in JobState=COMPLETED) ;; *) fail=1; echo "--- $out" >&2; tail -n 20 "$out" >&2 || true ;; esac
done
[ "$fail" = 0 ] || die "job array $JOB: a task did not complete"
log "job array $JOB finished in $ARRAY_S s"
JOB=""

"$MOEBENCH" merge --out "$TMP/merged" "$TMP"/shards/results-shard-*

# 4. The same grid in one process, one thread per cell as in the array tasks.
T0=$(date +%s)
"$MOEBENCH" replicate "${GRID[@]}" --threads 1 --no-report --results "$TMP/single" --proxy-data "$TMP/data" \
  > "$TMP/log/single.out" 2>&1 || { tail -n 20 "$TMP/log/single.out" >&2; die "the single-process run failed"; }
log "single-process run: $(grep '^done:' "$TMP/log/single.out" | tail -n 1) in $(( $(date +%s) - T0 )) s"

# Compares every result file of the merged shards with the single-process run's: the same
# set of cells, every one ok, run with 1 thread, and the whole result JSON equal except
# where, when and how long it ran (environment, finishedAt, wallSeconds), i.e. configHash,
# metrics, finalTrainLoss, curve, routing, byDifficulty, flops, params and trainSteps. Numbers
# are compared as written (their JSON text), so equal means the same bits.
python3 - "$TMP/merged/smoke" "$TMP/single/smoke" <<'PY'
import json, pathlib, sys
merged, single = (pathlib.Path(p) for p in sys.argv[1:3])
IGNORED = {"environment", "finishedAt", "wallSeconds"}
def load(root):
    out = {}
    for f in sorted(root.glob("*/*.json")):
        r = json.loads(f.read_text(), parse_float=str, parse_int=str)
        out[str(f.relative_to(root))] = r
    return out
a, b = load(merged), load(single)
problems = []
for k in sorted(set(a) ^ set(b)):
    problems.append(f"{k}: only in the {'merged shards' if k in a else 'single-process run'}")
for k in sorted(set(a) & set(b)):
    x, y = a[k], b[k]
    for name, r in (("merged", x), ("single", y)):
        if r.get("status") != "ok": problems.append(f"{k}: {name} result has status {r.get('status')}")
        if str(r["environment"].get("threads")) != "1": problems.append(f"{k}: {name} result ran with {r['environment'].get('threads')} threads")
    diff = sorted(f for f in set(x) | set(y) if f not in IGNORED and x.get(f) != y.get(f))
    if diff: problems.append(f"{k}: differs in {', '.join(diff)}"
                             + (f" (metrics {x.get('metrics')} vs {y.get('metrics')})" if "metrics" in diff else ""))
if not a: problems.append("no results in the merged folder")
if problems:
    print("MISMATCH between the merged shards and the single-process run:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"slurm-smoke: equal: {len(a)} cells, merged shards = single-process run bit for bit "
      f"(configHash, metrics, finalTrainLoss, curve, routing and every other field but environment, finishedAt, wallSeconds)")
PY
