#!/usr/bin/env bash
# `batchwise tune` on one GPU: the synthetic Llama-3.1-8B F16 and
# Q4_K_M with the seed workload. For each quant, in one session:
#   1. plan's prediction before calibration (`plan --uncalibrated --json`);
#   2. tune (search over --parallel up to 256, then --lanes 2) with the trials' plan errors;
#   3. the best hand-picked setting of bench/results (256 sequences over 2 lanes) on the same requests,
#      so tune's choice is compared with a peer measured in the same run;
#   4. plan's prediction after calibration (`plan --json`) against tune's measurement.
# Reuses bench/gpu/seed_h100.sh for the CUDA build and the models (run `seed_h100.sh build` and
# `seed_h100.sh models` first, or let this script do it). Results: JSON lines in $OUT/tune-results.jsonl.
#   bench/gpu/tune_h200.sh [N]     N seed requests per trial at most (default 1024)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
bin=${BATCHWISE_BIN:-build-gpu/batchwise}
# The libraries seed_h100.sh unpacked from .carry/debs (the machine's image lacks them).
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
n=${1:-1024}
log() { echo "[$(date +%T)] $*" >&2; }
[ -x "$bin" ] || bench/gpu/seed_h100.sh build
MODELS="${MODELS:-f16 q4_k_m}" bench/gpu/seed_h100.sh models
export BATCHWISE_CACHE_DIR=${BATCHWISE_CACHE_DIR:-$root/build-gpu/cache}
rm -rf "$BATCHWISE_CACHE_DIR/tune"   # a fresh calibration: "before" must be uncalibrated
w=build-gpu/models/seed-$n.jsonl
[ -f "$w" ] || $bin -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
flags="-b 4096 --ubatch 1024"
for q in ${MODELS:-f16 q4_k_m}; do
  m=build-gpu/models/llama-3.1-8b-$q.gguf
  $bin -q plan -m "$m" --workload seed --uncalibrated --json > "$out/tune-plan-before-$q.json"
  log "tune $q"
  t0=$SECONDS
  $bin tune -m "$m" --workload "$w" --max 256 --max-lanes 2 --trial-max-requests "$n" --run-flags "$flags" \
    --json --plot "$out/tune-$q.svg" > "$out/tune-$q.json" 2> "$out/tune-$q.log" || { tail -20 "$out/tune-$q.log"; continue; }
  log "tune $q: $((SECONDS - t0)) s"
  rm -f build-gpu/tune-peer.*
  $bin -q run "$w" -o build-gpu/tune-peer.jsonl -m "$m" --parallel 256 --lanes 2 -c $((2 * 2300 + 256 * 100 + 4096)) $flags \
    --json > "$out/tune-peer-$q.json" 2> "$out/tune-peer-$q.log" || tail -5 "$out/tune-peer-$q.log"
  $bin -q plan -m "$m" --workload seed --json > "$out/tune-plan-after-$q.json"
  python3 - "$q" "$out" <<'PY' | tee -a "$out/tune-results.jsonl"
import json, sys
q, out = sys.argv[1], sys.argv[2]
tune = json.load(open(f"{out}/tune-{q}.json"))
peer = json.load(open(f"{out}/tune-peer-{q}.json"))
before = json.load(open(f"{out}/tune-plan-before-{q}.json"))
after = json.load(open(f"{out}/tune-plan-after-{q}.json"))
chosen = tune["chosen"] or {}
pairs = [(t["predicted_items_per_s"], t["items_per_s"]) for t in tune["trials"]
         if t["outcome"] == "measured" and t.get("predicted_items_per_s")]
factor = tune.get("speed_factor") or 1.0
median = lambda v: sorted(v)[len(v) // 2] if v else None
print(json.dumps({
    "quant": q, "tune_wall_s": round(tune["wall_s"], 1), "trials": tune["trials_run"],
    "chosen": chosen.get("flags"), "chosen_req_s": chosen.get("items_per_s"),
    "peer": "--parallel 256 --lanes 2 (bench/results' best hand-picked)", "peer_req_s": peer["requests_per_s"],
    "chosen_vs_peer": round(chosen.get("items_per_s", 0) / peer["requests_per_s"], 3) if peer["requests_per_s"] else None,
    "plan_error_before_median": median([abs(p - m) / m for p, m in pairs]),
    "plan_error_after_median": median([abs(p * factor - m) / m for p, m in pairs]),
    "plan_recommended_req_s_before": before["recommended"]["requests_per_s"],
    "plan_recommended_req_s_after": after["recommended"]["requests_per_s"],
    "plan_notes_after": [n for n in after.get("notes", []) if n.startswith("calibrated")],
}))
PY
done
