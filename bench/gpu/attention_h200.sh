#!/usr/bin/env bash
# Issue 25 on one GPU, in one call (a fresh machine each time): where a lane's step goes and what sparse
# attention changes, then whether it is right, then the seed workload with both paths.
#   1. build: batchwise (CUDA), attention_step_bench, the integration tests (bench/gpu/seed_h100.sh build)
#   2. attention_step_bench on Llama-3.1-8B-shaped F16: 128 sequences sharing a 2,048-token prefix, 52 own
#      tokens each; dense vs sparse while a filler sequence no query sees adds 0..16,384 cells; the same with
#      CUDA graphs off; ncu's kernel times of the attention kernels (PROFILE=1)
#   3. AttentionPaths (tests/integration/attention_paths_test.cpp) on the 8B model: sparse vs dense logprobs
#   4. batchwise run on N seed requests (default 2,000): dense at DENSE_SETTINGS, sparse at SETTINGS
# Results: $OUT/results.jsonl (seed runs), $OUT/step-bench*.jsonl, logs; $OUT/0-all.tgz holds everything.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
n=${N:-2000}
log() { echo "[$(date +%T)] $*" >&2; }
seed=bench/gpu/seed_h100.sh
# The libraries unpacked from .carry/debs (seed_h100.sh's unpack_deps), for the binaries run here directly.
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

TESTS=1 SKIP_SERVER=1 EXTRA_TARGETS="attention_step_bench batchwise_integration_tests" $seed build || exit 1
MODELS=f16 $seed models || exit 1
model=build-gpu/models/llama-3.1-8b-f16.gguf
bench=build-gpu/bench/attention_step_bench

log "attention_step_bench"
timeout 120 $bench "$model" 128 2048 52 16 0,4096,8192,16384 > "$out/step-bench.jsonl" 2> "$out/step-bench.log" \
  || { log "step bench failed"; tail -5 "$out/step-bench.log"; }
GGML_CUDA_DISABLE_GRAPHS=1 timeout 60 $bench "$model" 128 2048 52 16 0,8192 > "$out/step-bench-nographs.jsonl" 2>/dev/null \
  || log "step bench without CUDA graphs failed"
cat "$out/step-bench.jsonl" "$out/step-bench-nographs.jsonl" >&2

if [ -n "${PROFILE:-}" ]; then
  ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  for a in dense sparse; do
    log "ncu: $a"
    ATTENTION=$a timeout 120 "$ncu_bin" --clock-control none --metrics gpu__time_duration.sum --csv -k 'regex:flash_attn' \
      $bench "$model" 128 2048 52 2 8192 > "$out/ncu-$a.csv" 2> "$out/ncu-$a.log" || log "ncu $a failed"
  done
fi

log "AttentionPaths on the 8B model"
BATCHWISE_ATTENTION_TEST_MODEL="$root/$model" timeout 150 build-gpu/tests/batchwise_integration_tests \
  --gtest_filter='AttentionPaths*' > "$out/attention-test.log" 2>&1 || log "AttentionPaths failed"
grep -E "^\[ +(OK|FAILED) +\]|Failure|Expected|Which is|evaluates" "$out/attention-test.log" | head -20 >&2

for setting in ${DENSE_SETTINGS:-512x4}; do
  EXTRA="--attention dense" EXTRA_TAG=-dense timeout 150 $seed embedded f16 "$n" "$setting"
done
for setting in ${SETTINGS:-512x4 256x2 768x6}; do
  timeout 150 $seed embedded f16 "$n" "$setting"
done
$seed pack
