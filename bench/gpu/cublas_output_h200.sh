#!/usr/bin/env bash
# Patch 0003 (patches/llama.cpp/0003-cuda-cublas-f32-output-datacenter.patch) on one data-center GPU, in one call:
# cuBLAS writes an F16 product's result as F32 directly instead of as F16 followed by a conversion kernel.
# BATCHWISE_CUBLAS_F16_OUTPUT=1 restores llama.cpp's F16 output in the same build, so each figure has its
# peer from the same machine and minute:
#   check:   llama.cpp's test-backend-ops, MUL_MAT with F16 weights, CUDA against the CPU, both ways
#   step:    one lane's decode step (attention_step_bench, sparse, S=128 sharing a 2,048-token prefix): wall time
#            both ways, and the F32-output step's kernels by class under ncu (bench/gpu/step_profile_h200.sh)
#   seed:    batchwise run at its defaults on N seed requests (default 10,000): F32 output, F16 output, F32 again
# STAGES (default "check step seed"). Results: $OUT/cublas-output.jsonl, $OUT/step-profile.jsonl; logs in $OUT/0-logs.tgz.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out/logs"
stages=" ${STAGES:-check step seed} "
seed=bench/gpu/seed_h100.sh
log() { echo "[$(date +%T)] $*" >&2; }
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
gpu() { nvidia-smi --query-gpu=name --format=csv,noheader | head -1; }
trap 'tar czf "$out/0-logs.tgz" -C "$out" logs 2>/dev/null' EXIT

# test-backend-ops compiles (headers only) while batchwise builds
tbo=build-gpu/test-backend-ops
if [[ $stages == *" check "* ]] && [ -f .carry/test-backend-ops.cpp ]; then
  $seed sources || exit 1
  $seed tbo_compile "$out/logs/tbo-build.log" &
  tbo_pid=$!
fi
EXTRA_TARGETS=attention_step_bench $seed build > "$out/logs/build.log" 2>&1 || { tail -5 "$out/logs/build.log"; exit 1; }
MODELS=f16 $seed models > "$out/logs/models.log" 2>&1 || { tail -5 "$out/logs/models.log"; exit 1; }
model=build-gpu/models/llama-3.1-8b-f16.gguf
# The environment that selects llama.cpp's F16 output (patch 0003 off); empty for the F32 output.
variant() { if [ "$1" = f16 ]; then echo BATCHWISE_CUBLAS_F16_OUTPUT=1; fi; }
row() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(json.loads(sys.argv[2])); print(json.dumps(r))' "$1" "$2" \
  | tee -a "$out/cublas-output.jsonl" >&2; }

if [ -n "${tbo_pid:-}" ]; then
  wait "$tbo_pid" && $seed link_tbo "$tbo.o" "$tbo" >> "$out/logs/tbo-build.log" 2>&1 || log "test-backend-ops did not build"
  for output in f32 f16; do
    v=$(variant $output)
    [ -x "$tbo" ] || break
    # F16 weights with 8 or more columns go through cuBLAS (fewer: llama.cpp's own vector kernels)
    env $v timeout 90 "$tbo" test -o MUL_MAT -b CUDA0 -p 'type_a=f16,type_b=f32' > "$out/logs/tbo-$output.log" 2>&1
    rc=$?
    row "{\"bench\": \"cublas-output-check\", \"gpu\": \"$(gpu)\", \"output\": \"$output\", \"rc\": $rc}" \
      "$($seed tbo_counts "$out/logs/tbo-$output.log")"
  done
fi

if [[ $stages == *" step "* ]]; then
  for output in f32 f16 f32; do
    v=$(variant $output)
    r=$(env $v ATTENTION=sparse timeout 120 build-gpu/bench/attention_step_bench "$model" 128 2048 52 16 0 2> "$out/logs/step-$output.log" | grep '^{' | tail -1)
    [ -n "$r" ] && row "$r" "{\"bench\": \"cublas-output-step\", \"gpu\": \"$(gpu)\", \"output\": \"$output\"}"
  done
  SEQS=128 PATHS=sparse timeout 150 bench/gpu/step_profile_h200.sh 2> "$out/logs/step-profile.log"
  rm -rf "$out/step-profile"   # the raw CSVs: the per-class sums are in step-profile.jsonl
fi

if [[ $stages == *" seed "* ]]; then
  n=${N:-10000}
  w=build-gpu/models/seed-$n.jsonl
  [ -f "$w" ] || build-gpu/batchwise -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
  for output in f32 f16 f32; do
    v=$(variant $output)
    rm -f build-gpu/cublas-run.*
    log "batchwise run at its defaults, $n requests, $output output"
    env $v timeout 200 build-gpu/batchwise -v run "$w" -o build-gpu/cublas-run.jsonl -m "$model" --json \
      > "$out/logs/seed-$output.json" 2> "$out/logs/seed-$output.log"
    r=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({"ok": r["ok"], "requests_per_s": round(r["requests_per_s"], 1), "wall_s": round(r["wall_s"], 1), "steps": r.get("engine", {}).get("steps"), "tokens_per_step": round(r.get("engine", {}).get("tokens_per_step", 0), 1)}))' "$out/logs/seed-$output.json" 2>/dev/null) || r='{"ok": 0}'
    row "{\"bench\": \"cublas-output-seed\", \"gpu\": \"$(gpu)\", \"output\": \"$output\", \"requests\": $n}" "$r"
  done
fi
