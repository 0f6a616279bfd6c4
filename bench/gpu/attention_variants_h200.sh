#!/usr/bin/env bash
# Issue 25's correctness on one GPU: the AttentionPaths test (sparse vs dense on the same 36-request lane mix) on
# Llama-3.1-8B-shaped F16, once per variant of the sparse path; each run's dense and sparse outputs are kept, so
# that dense-vs-dense (run to run) can be set against sparse-vs-dense. Then the seed workload per variant.
#   VARIANTS: env assignments per variant, ';'-separated (default: the default path; lists at 8*n_kv_max)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
log() { echo "[$(date +%T)] $*" >&2; }
seed=bench/gpu/seed_h100.sh
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TESTS=1 SKIP_SERVER=1 EXTRA_TARGETS="batchwise_integration_tests" $seed build || exit 1
MODELS=f16 $seed models || exit 1
model=$root/build-gpu/models/llama-3.1-8b-f16.gguf
IFS=';' read -ra variants <<< "${VARIANTS:-DEFAULT=1;GGML_CUDA_SPARSE_UNION_CAP=0}"
i=0
for v in "${variants[@]}"; do
  i=$((i + 1))
  log "variant $i: $v"
  env $v BATCHWISE_ATTENTION_TEST_MODEL="$model" timeout 150 build-gpu/tests/batchwise_integration_tests \
    --gtest_filter='AttentionPaths*' > "$out/variant$i-test.log" 2>&1 && log "variant $i: passed" || log "variant $i: FAILED"
  d=$(ls -d build-gpu/test-tmp/AttentionPaths* | head -1)
  cp "$d/dense.jsonl" "$out/variant$i-dense.jsonl"; cp "$d/sparse.jsonl" "$out/variant$i-sparse.jsonl"
  rm -rf build-gpu/test-tmp/AttentionPaths*
done
i=0
for v in "${variants[@]}"; do
  i=$((i + 1))
  env $v EXTRA_TAG=-v$i timeout 100 $seed embedded f16 "${N:-2000}" "${SETTING:-512x4}"
done
$seed pack
