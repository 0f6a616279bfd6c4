#!/usr/bin/env bash
# Patch 0005 (patches/llama.cpp/0005-cuda-quantized-cublas-hopper.patch) and issue 25's Q4_K_M target on one Hopper
# GPU, in one call (a warm machine skips what it has). BATCHWISE_QUANT_CUBLAS_MIN_TOKENS=N sends a quantized product
# over N tokens or more through dequantize-to-F16 + cuBLAS instead of llama.cpp's MMQ kernels (0: MMQ, as upstream),
# so each figure has its peer from the same build, machine and minute:
#   check:   llama.cpp's test-backend-ops, MUL_MAT with the Q4_K_M file's types (q4_K, q6_K), CUDA against the CPU,
#            with MIN_TOKENS=16 (every product it does not give to the vector kernels goes the new way) and 0
#   step:    one lane's step on Q4_K_M (attention_step_bench: 252 sequences decoding beside 8 new requests' prompts,
#            sharing a 2,048-token prefix, cascade), its wall time at each MIN_TOKENS value: the products' part of a step
#   ceiling: llama-batched-bench on Q4_K_M (2,048-token shared prompt, 32 out) at CEILING_P (default 256), each
#            MIN_TOKENS value
#   seed:    batchwise run at its defaults on N seed requests (default 4,000): Q4_K_M at each value of MIN_TOKENS
#            (default "0 128"), then F16 once (F16=0 leaves it out)
# STAGES (default "check step ceiling seed"). Results: $OUT/quant-cublas.jsonl; logs in $OUT/0-logs.tgz.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out/logs"
stages=" ${STAGES:-check step ceiling seed} "
min_tokens=${MIN_TOKENS:-0 128}
seed=bench/gpu/seed_h100.sh
log() { echo "[$(date +%T)] $*" >&2; }
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
gpu() { nvidia-smi --query-gpu=name --format=csv,noheader | head -1; }
trap 'tar czf "$out/0-logs.tgz" -C "$out" logs 2>/dev/null' EXIT
row() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(json.loads(sys.argv[2])); print(json.dumps(r))' "$1" "$2" \
  | tee -a "$out/quant-cublas.jsonl" >&2; }

# test-backend-ops compiles (headers only) while batchwise builds
tbo=build-gpu/test-backend-ops
if [[ $stages == *" check "* ]] && [ -f .carry/test-backend-ops.cpp ]; then
  $seed sources || exit 1
  $seed tbo_compile "$out/logs/tbo-build.log" &
  tbo_pid=$!
fi
TARGETS="batchwise llama-batched-bench attention_step_bench" SKIP_SERVER=1 $seed build > "$out/logs/build.log" 2>&1 || { tail -5 "$out/logs/build.log"; exit 1; }
models=q4_k_m; [ "${F16:-1}" = 0 ] || models="q4_k_m f16"
MODELS=$models $seed models > "$out/logs/models.log" 2>&1 || { tail -5 "$out/logs/models.log"; exit 1; }

if [ -n "${tbo_pid:-}" ]; then
  wait "$tbo_pid" && $seed link_tbo "$tbo.o" "$tbo" >> "$out/logs/tbo-build.log" 2>&1 || log "test-backend-ops did not build"
  for m in 16 0; do
    [ -x "$tbo" ] || break
    BATCHWISE_QUANT_CUBLAS_MIN_TOKENS=$m timeout 150 "$tbo" test -o MUL_MAT -b CUDA0 -p 'type_a=(q4_K|q6_K)' \
      > "$out/logs/tbo-$m.log" 2>&1
    rc=$?
    row "{\"bench\": \"quant-cublas-check\", \"gpu\": \"$(gpu)\", \"min_tokens\": $m, \"rc\": $rc}" \
      "$($seed tbo_counts "$out/logs/tbo-$m.log")"
  done
fi

if [[ $stages == *" step "* ]]; then
  for m in $min_tokens; do
    r=$(BATCHWISE_QUANT_CUBLAS_MIN_TOKENS=$m ATTENTION=cascade PROMPTS_A_STEP=8 timeout 120 build-gpu/bench/attention_step_bench \
      build-gpu/models/llama-3.1-8b-q4_k_m.gguf 252 2048 52 16 0 2> "$out/logs/step-$m.log" | grep '^{' | tail -1)
    [ -n "$r" ] && row "$r" "{\"bench\": \"quant-cublas-step\", \"gpu\": \"$(gpu)\", \"min_tokens\": $m}"
  done
fi

if [[ $stages == *" ceiling "* ]]; then
  for m in $min_tokens; do
    rm -f "$out/results.jsonl"
    BATCHWISE_QUANT_CUBLAS_MIN_TOKENS=$m CEILING_REPEATS=2 timeout 120 $seed ceiling q4_k_m ${CEILING_P:-256} > /dev/null 2>&1
    while read -r r; do
      row "$r" "{\"bench\": \"quant-cublas-ceiling\", \"gpu\": \"$(gpu)\", \"min_tokens\": $m}"
    done < <(cat "$out/results.jsonl" 2>/dev/null)
    cp "$out/ceiling-q4_k_m.log" "$out/logs/ceiling-$m.log" 2>/dev/null
  done
  rm -f "$out/results.jsonl" "$out"/ceiling-*
fi

if [[ $stages == *" seed "* ]]; then
  n=${N:-4000}
  w=build-gpu/models/seed-$n.jsonl
  [ -f "$w" ] || build-gpu/batchwise -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
  runs=(); for m in $min_tokens; do runs+=("q4_k_m:$m"); done
  [ "${F16:-1}" = 0 ] || runs+=("f16:0")
  for r in "${runs[@]}"; do
    q=${r%:*} m=${r#*:}
    rm -f build-gpu/quant-run.*
    log "batchwise run at its defaults, $n requests, $q, MIN_TOKENS=$m"
    BATCHWISE_QUANT_CUBLAS_MIN_TOKENS=$m timeout 200 build-gpu/batchwise -v run "$w" -o build-gpu/quant-run.jsonl \
      -m "build-gpu/models/llama-3.1-8b-$q.gguf" --json > "$out/logs/seed-$q-$m.json" 2> "$out/logs/seed-$q-$m.log"
    res=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); e=r.get("engine", {}); print(json.dumps({"ok": r["ok"], "requests_per_s": round(r["requests_per_s"], 1), "wall_s": round(r["wall_s"], 1), "steps": e.get("steps"), "tokens_per_step": round(e.get("tokens_per_step", 0), 1), "peak_gpu_memory_bytes": r.get("memory", {}).get("peak_gpu_memory_bytes")}))' "$out/logs/seed-$q-$m.json" 2>/dev/null) || res='{"ok": 0}'
    row "{\"bench\": \"quant-cublas-seed\", \"gpu\": \"$(gpu)\", \"quant\": \"$q\", \"min_tokens\": $m, \"requests\": $n}" "$res"
  done
  # plan's figure for run's GPU default (4 lanes of 252), uncalibrated, beside what the runs measured (MMQ's rate)
  for q in q4_k_m $([ "${F16:-1}" = 0 ] || echo f16); do
    p=$(build-gpu/batchwise plan -m "build-gpu/models/llama-3.1-8b-$q.gguf" --workload seed --parallel 1008 --lanes 4 \
      --uncalibrated --json 2>/dev/null | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["asked"]["requests_per_s"], 1))')
    row "{\"bench\": \"quant-cublas-plan\", \"gpu\": \"$(gpu)\", \"quant\": \"$q\", \"parallel\": 1008, \"lanes\": 4}" \
      "{\"plan_requests_per_s\": ${p:-null}}"
  done
fi
