#!/usr/bin/env bash
# plan's memory model on one GPU (issue 18, item 16), in one session:
#   1. the plan accuracy tests with every layer on this GPU: plan's GPU and host compute buffers
#      against llama.cpp's dry runs for 13 models x 11 contexts, each case a JSON line in
#      $OUT/cuda-dry-runs.jsonl (the copy in bench/results is what CI compares with);
#   2. what a real run uses: the synthetic Llama-3.1-8B F16 at 64 and 252 sequences (1 lane) on N seed
#      requests, its peak GPU memory as NVML reports it for this process and for the device, against
#      `plan` at exactly those settings (-c, -np, -ub).
# Reuses bench/gpu/seed_h100.sh for the CUDA build (with the unit tests) and the model.
#   bench/gpu/memory_h200.sh [N]     N seed requests (default 1024)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
bin=build-gpu/batchwise
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
n=${1:-1024}
log() { echo "[$(date +%T)] $*" >&2; }
TESTS=1 SKIP_SERVER=1 bench/gpu/seed_h100.sh build
timeout -k 5 240 bench/gpu/seed_h100.sh plan_accuracy || log "plan accuracy stopped at its time limit"

MODELS=f16 bench/gpu/seed_h100.sh models
m=build-gpu/models/llama-3.1-8b-f16.gguf
w=build-gpu/models/seed-$n.jsonl
[ -f "$w" ] || $bin -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
for np in 64 252; do
  ctx=$((2300 + np * 100 + 4096))
  flags="-np $np -c $ctx -ub 1024"
  $bin -q plan -m "$m" --workload seed $flags --json > "$out/memory-plan-$np.json" 2> "$out/memory-plan-$np.log" || tail -5 "$out/memory-plan-$np.log"
  rm -f build-gpu/memory-run.*
  log "run f16 -np $np"
  $bin -v run "$w" -o build-gpu/memory-run.jsonl -m "$m" $flags --lanes 1 -b 4096 --json > "$out/memory-run-$np.json" 2> "$out/memory-run-$np.log" \
    || tail -5 "$out/memory-run-$np.log"
  grep -i -E "compute buffer|KV buffer|model buffer|output buffer" "$out/memory-run-$np.log" | head -20 >&2 || true
done
tar czf /tmp/0-memory.tgz -C "$out" . && mv /tmp/0-memory.tgz "$out/"
