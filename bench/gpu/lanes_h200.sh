#!/usr/bin/env bash
# Issue 26 on one GPU (a fresh machine each time; a warm one skips the build and the model it has):
#   sweep: batchwise run on N seed requests (default 2,000) at each of SWEEP (SEQUENCESxLANES, default 128x1 256x2
#          384x3 512x4 768x6 1008x8): requests/s and the process's peak GPU memory (NVML) against plan's memory at
#          exactly those flags (-np, --lanes, -c, -ub)
#   tune:  batchwise tune --max-lanes 8 on the same workload (TUNE_REQUESTS per trial at most, default tune's: 4,096
#          on a GPU; TUNE_ARGS more flags), fresh cache:
#          its choice and every trial's plan-vs-NVML memory; its choice against the sweep's best is summarize.py's
#   defaults: batchwise run with no engine flags (the GPU default it chooses and says) on the same requests
# STAGES (default "sweep tune defaults"). Results: JSON lines in $OUT/lanes.jsonl; logs beside it.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
n=${N:-2000}
stages=" ${STAGES:-sweep tune defaults} "
bin=build-gpu/batchwise
seed=bench/gpu/seed_h100.sh
log() { echo "[$(date +%T)] $*" >&2; }
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x "$bin" ] || SKIP_SERVER=${SKIP_SERVER-1} $seed build || exit 1
MODELS=f16 $seed models || exit 1
model=build-gpu/models/llama-3.1-8b-f16.gguf
w=build-gpu/models/seed-$n.jsonl
[ -f "$w" ] || $bin -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

if [[ $stages == *" sweep "* ]]; then
  for pl in ${SWEEP:-128x1 256x2 384x3 512x4 768x6 1008x8}; do
    p=${pl%x*} lanes=${pl#*x}
    ctx=$(( lanes * 2300 + p * 100 + 4096 ))
    flags="-np $p --lanes $lanes -c $ctx -ub 1024"
    $bin -q plan -m "$model" --workload seed $flags --json > "$out/plan-$pl.json" 2> "$out/plan-$pl.log"
    rm -f build-gpu/lanes-run.*
    log "run $pl"
    timeout 150 $bin -v run "$w" -o build-gpu/lanes-run.jsonl -m "$model" $flags -b 4096 --json > "$out/run-$pl.json" \
      2> "$out/run-$pl.log" || { tail -5 "$out/run-$pl.log"; continue; }
    python3 - "$out/run-$pl.json" "$out/plan-$pl.json" "$p" "$lanes" "$ctx" "$n" "$gpu" <<'PY' | tee -a "$out/lanes.jsonl" >&2
import json, sys
run, plan = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
mem = run.get("memory", {})
peak = mem.get("peak_gpu_process_memory_bytes") or mem.get("peak_gpu_memory_bytes")
predicted = plan["asked"]["device_memory_bytes"]
print(json.dumps({"bench": "lanes-sweep", "gpu": sys.argv[7], "parallel": int(sys.argv[3]), "lanes": int(sys.argv[4]),
                  "ctx": int(sys.argv[5]), "requests": int(sys.argv[6]), "ok": run["ok"],
                  "requests_per_s": round(run["requests_per_s"], 1), "peak_gpu_process_bytes": peak,
                  "plan_device_bytes": predicted,
                  "plan_error": round((predicted - peak) / peak, 4) if peak else None,
                  "plan_requests_per_s": round(plan["asked"].get("requests_per_s") or 0, 1),
                  "gpu_utilization": mem.get("mean_gpu_utilization")}))
PY
  done
fi

if [[ $stages == *" tune "* ]]; then
  export BATCHWISE_CACHE_DIR=$root/build-gpu/cache-lanes
  rm -rf "$BATCHWISE_CACHE_DIR"
  log "tune --max-lanes 8"
  t0=$SECONDS
  timeout 420 $bin tune -m "$model" --workload "$w" --max-lanes 8 ${TUNE_REQUESTS:+--trial-max-requests $TUNE_REQUESTS} ${TUNE_ARGS:-} \
    --json --plot "$out/tune.svg" > "$out/tune.json" 2> "$out/tune.log" || tail -20 "$out/tune.log"
  log "tune: $((SECONDS - t0)) s"
  python3 - "$out/tune.json" "$gpu" <<'PY' | tee -a "$out/lanes.jsonl" >&2
import json, sys
t = json.load(open(sys.argv[1]))
c = t.get("chosen") or {}
trials = [{"total": x["knob"], "lanes": x["lanes"], "outcome": x["outcome"], "req_s": round(x.get("items_per_s") or 0, 1),
           "peak": x.get("peak_memory_bytes"), "plan": x.get("predicted_memory_bytes")} for x in t["trials"]]
print(json.dumps({"bench": "lanes-tune", "gpu": sys.argv[2], "wall_s": round(t["wall_s"], 1), "trials_run": t["trials_run"],
                  "chosen": c.get("flags"), "chosen_req_s": c.get("items_per_s"), "trials": trials}))
PY
fi

if [[ $stages == *" defaults "* ]]; then
  rm -f build-gpu/lanes-def.*
  log "run at its defaults"
  timeout 150 $bin -v run "$w" -o build-gpu/lanes-def.jsonl -m "$model" --json > "$out/defaults.json" 2> "$out/defaults.log" \
    || tail -5 "$out/defaults.log"
  grep -E "on the GPU|tuned|engine:" "$out/defaults.log" | head -5 >&2
  python3 -c "import json,sys; r=json.load(open('$out/defaults.json')); print(json.dumps({'bench': 'lanes-defaults', 'gpu': sys.argv[1], 'requests': $n, 'requests_per_s': round(r['requests_per_s'], 1), 'ok': r['ok'], 'peak_gpu_memory_bytes': r['memory'].get('peak_gpu_memory_bytes')}))" "$gpu" \
    | tee -a "$out/lanes.jsonl" >&2
fi
