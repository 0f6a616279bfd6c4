#!/usr/bin/env bash
# Issue 25 on one GPU, in one call (a fresh machine each time): where a lane's step goes and what sparse
# attention changes, then whether it is right, then the seed workload with both paths.
#   1. build: batchwise (CUDA), attention_step_bench, the integration tests (bench/gpu/seed_h100.sh build)
#   2. attention_step_bench on Llama-3.1-8B-shaped F16: 128 sequences sharing a 2,048-token prefix, 52 own
#      tokens each; dense vs sparse while a filler sequence no query sees adds 0..16,384 cells
#   3. AttentionPaths (tests/integration/attention_paths_test.cpp) on the 8B model: sparse vs dense logprobs
#   4. batchwise run on N seed requests (default 3,000): dense vs sparse at 256x2, sparse at SETTINGS
# Results: $OUT/results.jsonl (seed runs), $OUT/step-bench.jsonl, logs; $OUT/0-all.tgz holds everything.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
n=${N:-3000}
log() { echo "[$(date +%T)] $*" >&2; }
seed=bench/gpu/seed_h100.sh

TESTS=1 SKIP_SERVER=1 EXTRA_TARGETS="attention_step_bench batchwise_integration_tests" $seed build || exit 1
MODELS=f16 $seed models || exit 1
model=build-gpu/models/llama-3.1-8b-f16.gguf

log "attention_step_bench"
timeout 120 build-gpu/bench/attention_step_bench "$model" 128 2048 52 16 0,4096,8192,16384 \
  > "$out/step-bench.jsonl" 2> "$out/step-bench.log" || { log "step bench failed"; tail -5 "$out/step-bench.log"; }
cat "$out/step-bench.jsonl" >&2

log "AttentionPaths on the 8B model"
BATCHWISE_ATTENTION_TEST_MODEL="$root/$model" timeout 180 build-gpu/tests/batchwise_integration_tests \
  --gtest_filter='AttentionPaths*' > "$out/attention-test.log" 2>&1 || log "AttentionPaths failed"
grep -E "^\[ +(OK|FAILED) +\]|Failure|Expected|Which is" "$out/attention-test.log" | head -20 >&2

for setting in ${DENSE_SETTINGS:-256x2}; do
  EXTRA="--attention dense" EXTRA_TAG=-dense timeout 200 $seed embedded f16 "$n" "$setting"
done
for setting in ${SETTINGS:-256x2 512x4 252x1}; do
  timeout 200 $seed embedded f16 "$n" "$setting"
done
$seed pack
