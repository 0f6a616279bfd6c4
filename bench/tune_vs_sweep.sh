#!/usr/bin/env bash
# `batchwise tune` against the exhaustive sweep it replaces, on the same grid and workload: its wall time as
# a share of the sweep's, and its choice's throughput against the sweep's best (targets: <= 25% of the time,
# within 3% of the best). Both measure in the same way (one child `batchwise run` per setting), one after the
# other on this machine; each gets its own cache folder so neither answers from the other.
#   bench/tune_vs_sweep.sh [MAX] [MODEL] [REQUESTS]   grid 1..MAX (default 32) parallel sequences
# Prints one JSON line (also appended to bench/results/tune-vs-sweep.jsonl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BATCHWISE_BIN:-$root/build/batchwise}
max=${1:-32}
model=${2:-}
requests=${3:-128}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" -q gen-workload seed -n "$requests" --prefix-tokens 200 --unique-tokens 20 --output-tokens 8 --ignore-eos \
  -o "$work/seed.jsonl"
args=(tune --workload "$work/seed.jsonl" --max "$max" --trial-max-requests "$requests" --json)
[ -n "$model" ] && args+=(-m "$model")
load_before=$(cut -d' ' -f1 /proc/loadavg)
BATCHWISE_CACHE_DIR="$work/c1" "$bin" "${args[@]}" > "$work/tune.json"
BATCHWISE_CACHE_DIR="$work/c2" "$bin" "${args[@]}" --exhaustive > "$work/sweep.json"
load_after=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$work/tune.json" "$work/sweep.json" "$max" "$load_before" "$load_after" <<'PY' | tee -a "$root/bench/results/tune-vs-sweep.jsonl"
import json, sys, datetime
tune, sweep = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
best = sweep["fastest"]
# The sweep's own figure at tune's choice, so both throughputs come from the same run.
at_choice = [t for t in sweep["trials"] if t["knob"] == tune["chosen"]["knob"] and t["outcome"] == "measured"]
print(json.dumps({
    "date": datetime.date.today().isoformat(), "grid": f"1..{sys.argv[3]}", "load_avg": [float(sys.argv[4]), float(sys.argv[5])],
    "tune": {"wall_s": round(tune["wall_s"], 1), "trials": tune["trials_run"], "chosen": tune["chosen"]["knob"],
             "req_s": round(tune["chosen"]["items_per_s"], 2)},
    "sweep": {"wall_s": round(sweep["wall_s"], 1), "trials": sweep["trials_run"], "best": best["knob"],
              "req_s": round(best["items_per_s"], 2)},
    "time_share": round(tune["wall_s"] / sweep["wall_s"], 3),
    "choice_vs_best_same_run": round(at_choice[0]["items_per_s"] / best["items_per_s"], 3) if at_choice else None,
    "choice_vs_best": round(tune["chosen"]["items_per_s"] / best["items_per_s"], 3),
}))
PY
