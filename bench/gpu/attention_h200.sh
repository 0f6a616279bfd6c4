#!/usr/bin/env bash
# Issue 25 on one GPU, in one call (a fresh machine each time; a warm one skips what it has):
#   1. build: batchwise (CUDA), attention_step_bench, attention_logits_check (bench/gpu/seed_h100.sh build)
#   kernel: llama.cpp's test-backend-ops (from .carry, bench/gpu/make_carry.sh) built against this build's ggml, the
#      Llama-3.1-8B shape's FLASH_ATTN_EXT cases (GQA 4 and 8, 8..332 queries, sparse masks) and upstream's own
#      sparse cases (the control) run on CUDA against the CPU; STAGES=kernel alone builds ggml only (no batchwise)
#   2. attention_logits_check on Llama-3.1-8B-shaped F16: sparse and cascade vs dense logits at the same step in identically
#      filled contexts (prefixes shared by all, by some, by none; sequences finishing and starting mid-lane), once
#      per CHECK_VARIANTS entry (env assignments, ';'-separated)
#   3. attention_step_bench: one lane's decode step, dense vs sparse vs cascade, at STEP_SEQUENCES (default 128 and 252
#      sequences) sharing a 2,048-token prefix, with and without 8,192 cells no query sees
#   4. batchwise run on N seed requests (default 2,000): dense at DENSE_SETTINGS, sparse at SETTINGS
#   defaults: batchwise run with no engine flags (the GPU default it chooses), on N seed requests, then with
#      --attention PATH alone for each PATH in DEFAULT_ATTENTION
# STAGES (default "check step seed") picks among kernel, 2-4 and defaults. Results: $OUT/results.jsonl (seed runs),
# $OUT/logits-check.jsonl, $OUT/step-bench.jsonl, logs; $OUT/0-all.tgz holds everything.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out"
n=${N:-2000}
stages=" ${STAGES:-check step seed} "
log() { echo "[$(date +%T)] $*" >&2; }
seed=bench/gpu/seed_h100.sh
# The libraries unpacked from .carry/debs (seed_h100.sh's unpack_deps), for the binaries run here directly.
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The kernel check needs ggml alone: test-backend-ops compiles (headers only) while ggml's libraries build.
tbo=build-gpu/test-backend-ops
if [[ $stages == *" kernel "* ]] && [ -f .carry/test-backend-ops.cpp ]; then
  $seed sources || exit 1
  # The Llama shape (8 KV heads of 128, GQA 4 or 8, 8..332 queries: tiles of 8 queries gather their cells), after the
  # file's own sparse cases, which stay as the control (upstream's 256/512/576-wide heads).
  # Then the lane-shaped masks (tbo_lane_case.inc): decode rows (one per sequence) and prompt rows (64 per
  # sequence), in the KV cache's layout ({0, 2, 1, 3}: cells are rows of all heads) and contiguous ({0, 1, 2, 3}).
  awk -v inc=bench/gpu/tbo_lane_case.inc '/^\/\/ GGML_OP_CROSS_ENTROPY_LOSS/ { while ((getline l < inc) > 0) print l } { print }' \
    .carry/test-backend-ops.cpp | sed '/\/\/ sparse mask with large batch size/i\
    for (int nr : {4, 8}) for (int nb : {8, 64, 128, 332}) for (int kvm : {512, 2304}) \
        test_cases.emplace_back(new test_flash_attn_ext(128, 128, 8, {nr, 1}, 8192, nb, true, false, 0, 0, GGML_PREC_F32, GGML_TYPE_F16, GGML_TYPE_F16, {0, 1, 2, 3}, true, false, kvm));\
    for (int nr : {4, 8}) for (auto perm : {std::array<int32_t, 4>{0, 2, 1, 3}, std::array<int32_t, 4>{0, 1, 2, 3}}) { \
        test_cases.emplace_back(new test_flash_attn_ext_lane(nr, 23296, 332, 1, 2048, 64, perm, 2048 + 8*64)); \
        test_cases.emplace_back(new test_flash_attn_ext_lane(nr, 16384, 128, 1, 2048, 64, perm, 2048 + 8*64)); \
        test_cases.emplace_back(new test_flash_attn_ext_lane(nr, 8192, 1024, 64, 2048, 64, perm, 2048 + 64)); \
        test_cases.emplace_back(new test_flash_attn_ext_lane(nr, 34048, 128, 1, 2048, 64, perm, 0)); }' > "$tbo.cpp"
  g++ -std=c++17 -O2 -c -Ithird_party/llama.cpp/ggml/include -Ithird_party/llama.cpp/ggml/src "$tbo.cpp" -o "$tbo.o" \
    > "$out/tbo-build.log" 2>&1 &
  tbo_pid=$!
fi
# Only the kernel check: ggml's libraries alone (no batchwise, no llama), the fastest CUDA build there is.
[ "$(echo $stages)" != kernel ] || export TARGETS="ggml ggml-base ggml-cpu ggml-cuda"
SKIP_SERVER=${SKIP_SERVER-1} EXTRA_TARGETS="attention_step_bench attention_logits_check" $seed build || exit 1

if [ -n "${tbo_pid:-}" ]; then
  log "test-backend-ops: link"
  wait "$tbo_pid" && $seed link_tbo "$tbo.o" "$tbo" >> "$out/tbo-build.log" 2>&1 \
    || { log "test-backend-ops did not build"; tail -5 "$out/tbo-build.log"; }
  if [ -x "$tbo" ]; then
    # ours: 128-wide heads at 8,192 cells; the control: upstream's sparse cases with 256-wide heads
    timeout 150 "$tbo" test -o FLASH_ATTN_EXT -b CUDA0 -j 8 \
      -p '(hsk=128,hsv=128,nh=8,nr23=\[(4|8),1\],kv=8192|hsk=256,hsv=256,nh=[12],nr23=\[(8|12),1\],kv=(4096|8192),nb=64).*n_kv_max=[1-9]|lane=' \
      > "$out/tbo.log" 2>&1; log "test-backend-ops: rc $?"
    grep -E "FAIL|passed|lane=" "$out/tbo.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -40 >&2
  fi
fi
[ "$(echo $stages)" != kernel ] || exit 0
MODELS=f16 $seed models || exit 1
model=build-gpu/models/llama-3.1-8b-f16.gguf

if [[ $stages == *" check "* ]]; then
  # By default each suspect of the wrong sparse answers (bench/results/README.md, 2026-12-06) turned off alone: the
  # lists built once per graph, the lists sized by the 8-row bound, CUDA graphs
  IFS=';' read -ra variants <<< "${CHECK_VARIANTS:-DEFAULT=1;GGML_CUDA_SPARSE_LISTS_CACHE=0;GGML_CUDA_SPARSE_UNION_CAP=0;GGML_CUDA_SPARSE_LISTS_CACHE=0 GGML_CUDA_SPARSE_UNION_CAP=0;GGML_CUDA_DISABLE_GRAPHS=1}"
  for v in "${variants[@]}"; do
    log "attention_logits_check: $v"
    env $v timeout 150 build-gpu/bench/attention_logits_check "$model" 128 2048 52 6 8192 > "$out/logits-check-run.jsonl" \
      2> "$out/logits-check.log" && log "logits check: pass" || log "logits check: FAILED (rc $?)"
    tail -1 "$out/logits-check-run.jsonl" | python3 -c "import json,sys; print(json.dumps(dict(json.loads(sys.stdin.read()), variant=sys.argv[1])))" "$v" \
      | tee -a "$out/logits-check.jsonl" >&2
  done
fi

if [[ $stages == *" step "* ]]; then
  for s in ${STEP_SEQUENCES:-128 252}; do
    log "attention_step_bench, $s sequences"
    timeout 120 build-gpu/bench/attention_step_bench "$model" "$s" 2048 52 16 0,8192 >> "$out/step-bench.jsonl" \
      2>> "$out/step-bench.log" || { log "step bench failed"; tail -5 "$out/step-bench.log"; }
  done
  cat "$out/step-bench.jsonl" >&2
fi

if [[ $stages == *" seed "* ]]; then
  for setting in ${DENSE_SETTINGS:-512x4}; do
    EXTRA="--attention dense ${EXTRA_FLAGS:-}" EXTRA_TAG=-dense timeout 150 $seed embedded f16 "$n" "$setting"
  done
  for setting in ${SETTINGS:-512x4 1008x4 756x3}; do
    EXTRA="--attention sparse ${EXTRA_FLAGS:-}" EXTRA_TAG=-sparse timeout 150 $seed embedded f16 "$n" "$setting"
  done
fi
if [[ $stages == *" defaults "* ]]; then
  # run with no engine flags at all: the GPU default it chooses and says (plan/gpu_run_default.h); then, for each
  # path in DEFAULT_ATTENTION (e.g. "cascade dense"), the same with --attention PATH alone
  w=$(ls build-gpu/models/seed-"$n".jsonl 2>/dev/null || true)
  [ -n "$w" ] || { bin=build-gpu/batchwise; w=build-gpu/models/seed-$n.jsonl; $bin -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"; }
  for a in default ${DEFAULT_ATTENTION:-}; do
    flags=; [ "$a" = default ] || flags="--attention $a"
    rm -f build-gpu/def.*
    log "run at its defaults ${flags}"
    timeout 200 build-gpu/batchwise -v run "$w" -o build-gpu/def.jsonl -m "$model" $flags --json > "$out/defaults-$a.json" \
      2> "$out/defaults-$a.log" || tail -5 "$out/defaults-$a.log"
    grep -E "on the GPU|engine:|sequences" "$out/defaults-$a.log" >&2
    python3 -c "import json; r=json.load(open('$out/defaults-$a.json')); e=r['engine']; print(json.dumps({'peer': 'batchwise-embedded-defaults', 'attention': '$a', 'requests': $n, 'requests_per_s': r['requests_per_s'], 'ok': r['ok'], 'prompt_tokens_evaluated': e['prompt_tokens_evaluated'], 'tokens_per_step': e.get('tokens_per_step'), 'steps': e.get('steps'), 'sparse_steps': e.get('sparse_attention_steps'), 'cascade_steps': e.get('cascade_attention_steps'), 'decode_call_s': e.get('decode_call_s'), 'wait_s': e.get('wait_s'), 'peak_gpu_memory_bytes': r['memory'].get('peak_gpu_memory_bytes'), 'gpu_utilization': r['memory'].get('mean_gpu_utilization')}))" \
      | tee -a "$out/results.jsonl" >&2
  done
fi
$seed pack
